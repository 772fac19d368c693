//! Bulk existence checks used when a batch names its devices.

use crate::support::*;
use ota_domain::ProductKey;
use ota_store::Store;

both!(missing_device_names);

async fn missing_device_names(s: &Store) {
    let names = fleet(s, "pkA", 600).await;
    fleet(s, "pkB", 3).await;
    let pk = ProductKey::from("pkA");
    assert!(
        s.missing_device_names(&pk, &names)
            .await
            .unwrap()
            .is_empty()
    );
    let asked = vec![
        "d00001".to_owned(),
        "ghost".to_owned(),
        "d00599".to_owned(),
        "zz".to_owned(),
    ];
    assert_eq!(
        s.missing_device_names(&pk, &asked).await.unwrap(),
        vec!["ghost", "zz"]
    );
    // A device of another product does not count.
    let other = ProductKey::from("pkB");
    assert_eq!(
        s.missing_device_names(&other, &["d00100".to_owned()])
            .await
            .unwrap(),
        vec!["d00100"]
    );
    assert!(s.missing_device_names(&pk, &[]).await.unwrap().is_empty());
}
