//! Package-signing keys: one active key per product, rotation keeps the old one trusted.

use crate::support::*;
use ota_store::{SigningKeyRow, Store};

both!(signing_keys);

fn key(id: &str, at: i64) -> SigningKeyRow {
    SigningKeyRow {
        key_id: id.into(),
        product_key: "p".into(),
        secret_key: format!("secret-{id}"),
        public_key: format!("public-{id}"),
        created_at: at,
        retired_at: None,
        trusted_until: None,
    }
}

async fn signing_keys(s: &Store) {
    assert!(s.signing_keys("p").await.unwrap().is_empty());
    assert!(s.insert_first_signing_key(&key("a", T0)).await.unwrap());
    // A second "first" key loses: the product already has an active key.
    assert!(!s.insert_first_signing_key(&key("b", T0)).await.unwrap());
    assert_eq!(s.signing_keys("p").await.unwrap(), vec![key("a", T0)]);
    assert!(!format!("{:?}", key("a", T0)).contains("secret-a"));

    s.rotate_signing_key(&key("c", T0 + 10), T0 + 1000)
        .await
        .unwrap();
    let keys = s.signing_keys("p").await.unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], key("c", T0 + 10));
    assert_eq!(keys[1].key_id, "a");
    assert_eq!(keys[1].retired_at, Some(T0 + 10));
    assert_eq!(keys[1].trusted_until, Some(T0 + 1000));
    assert!(s.signing_keys("q").await.unwrap().is_empty());
}
