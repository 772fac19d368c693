//! Device CAs and revoked certificate serials per product, and the product's certificate
//! auto-create switch.

use crate::support::*;
use ota_store::{DeviceCaRow, Store, StoreError};

both!(
    cas_are_kept_per_product,
    revoked_serials_are_kept_per_product,
    the_auto_create_switch_is_stored,
    a_product_goes_with_its_cas_and_revocations
);

fn ca(pk: &str, id: &str, at: i64) -> DeviceCaRow {
    DeviceCaRow {
        product_key: pk.into(),
        ca_id: id.to_owned(),
        certificate_pem: format!("-----BEGIN CERTIFICATE-----\n{id}\n-----END CERTIFICATE-----\n"),
        subject: format!("CN={id}"),
        not_after: T0 + 1_000_000,
        created_at: at,
    }
}

async fn cas_are_kept_per_product(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    s.insert_product(&product("q")).await.unwrap();
    s.insert_device_ca(&ca("p", "bb", T0 + 1)).await.unwrap();
    s.insert_device_ca(&ca("p", "aa", T0 + 2)).await.unwrap();
    s.insert_device_ca(&ca("q", "aa", T0)).await.unwrap();
    assert!(matches!(
        s.insert_device_ca(&ca("p", "aa", T0 + 3)).await,
        Err(StoreError::Conflict(_))
    ));
    let listed = s.list_device_cas(&"p".into()).await.unwrap();
    assert_eq!(listed, vec![ca("p", "bb", T0 + 1), ca("p", "aa", T0 + 2)]);
    s.delete_device_ca(&"p".into(), "bb").await.unwrap();
    assert!(matches!(
        s.delete_device_ca(&"p".into(), "bb").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.list_device_cas(&"p".into()).await.unwrap(),
        vec![ca("p", "aa", T0 + 2)]
    );
    assert_eq!(s.list_device_cas(&"q".into()).await.unwrap().len(), 1);
}

async fn revoked_serials_are_kept_per_product(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    s.insert_product(&product("q")).await.unwrap();
    let p = "p".into();
    assert!(!s.certificate_revoked(&p, "1f").await.unwrap());
    s.revoke_certificate(&p, "1f", T0).await.unwrap();
    s.revoke_certificate(&p, "1f", T0 + 5).await.unwrap();
    s.revoke_certificate(&p, "2a", T0 + 1).await.unwrap();
    assert!(s.certificate_revoked(&p, "1f").await.unwrap());
    assert!(!s.certificate_revoked(&"q".into(), "1f").await.unwrap());
    let listed = s.list_revoked_certificates(&p).await.unwrap();
    let serials: Vec<(&str, i64)> = listed
        .iter()
        .map(|r| (r.serial.as_str(), r.revoked_at))
        .collect();
    assert_eq!(serials, vec![("2a", T0 + 1), ("1f", T0)]);
    s.unrevoke_certificate(&p, "1f").await.unwrap();
    assert!(!s.certificate_revoked(&p, "1f").await.unwrap());
    assert!(matches!(
        s.unrevoke_certificate(&p, "1f").await,
        Err(StoreError::NotFound)
    ));
}

async fn the_auto_create_switch_is_stored(s: &Store) {
    let mut p = product("p");
    s.insert_product(&p).await.unwrap();
    assert!(
        !s.get_product(&"p".into())
            .await
            .unwrap()
            .unwrap()
            .certificate_auto_create
    );
    p.certificate_auto_create = true;
    s.update_product(&p).await.unwrap();
    assert!(
        s.get_product(&"p".into())
            .await
            .unwrap()
            .unwrap()
            .certificate_auto_create
    );
}

async fn a_product_goes_with_its_cas_and_revocations(s: &Store) {
    s.insert_product(&product("p")).await.unwrap();
    s.insert_device_ca(&ca("p", "aa", T0)).await.unwrap();
    s.revoke_certificate(&"p".into(), "1f", T0).await.unwrap();
    s.delete_product(&"p".into()).await.unwrap();
    s.insert_product(&product("p")).await.unwrap();
    assert!(s.list_device_cas(&"p".into()).await.unwrap().is_empty());
    assert!(!s.certificate_revoked(&"p".into(), "1f").await.unwrap());
}
