//! OTA modules and housekeeping rows (access keys, upload tokens, settings).

use crate::support::*;
use ota_domain::registry::OtaModule;
use ota_store::{Store, StoreError, UploadToken};

both!(ota_modules, housekeeping, passes, leases);

async fn ota_modules(s: &Store) {
    let m = OtaModule {
        product_key: "p".into(),
        module_name: "WiFi".into(),
        alias_name: Some("wifi fw".into()),
        description: None,
        created_at: T0,
        modified_at: T0,
    };
    s.insert_module(&m).await.unwrap();
    let mut dup = m.clone();
    dup.module_name = "wifi".into();
    assert!(matches!(
        s.insert_module(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    let mut other = m.clone();
    other.product_key = "q".into();
    s.insert_module(&other).await.unwrap();
    assert_eq!(
        s.get_module(&"p".into(), "WIFI").await.unwrap(),
        Some(m.clone())
    );
    let mut up = dup.clone();
    up.description = Some("new".into());
    up.modified_at = T0 + 1;
    s.update_module(&up).await.unwrap();
    let got = s.get_module(&"p".into(), "wifi").await.unwrap().unwrap();
    assert_eq!(
        (got.module_name.as_str(), got.description.as_deref()),
        ("WiFi", Some("new"))
    );
    assert_eq!(s.list_modules(&"p".into()).await.unwrap().len(), 1);
    s.delete_module(&"p".into(), "wIfI").await.unwrap();
    assert_eq!(s.get_module(&"p".into(), "wifi").await.unwrap(), None);
    assert!(matches!(
        s.delete_module(&"p".into(), "wifi").await,
        Err(StoreError::NotFound)
    ));
}

async fn housekeeping(s: &Store) {
    let tok = |t: &str, exp| UploadToken {
        token: t.into(),
        created_at: T0,
        expires_at: exp,
        max_size: 1 << 30,
        used: false,
    };
    s.insert_upload_token(&tok("u1", T0 + 10)).await.unwrap();
    s.insert_upload_token(&tok("u2", T0 + 20)).await.unwrap();
    s.insert_upload_token(&tok("u3", T0 + 5)).await.unwrap();
    assert_eq!(
        s.get_upload_token("u1").await.unwrap(),
        Some(tok("u1", T0 + 10))
    );
    assert!(s.mark_upload_used("u1").await.unwrap());
    assert!(
        !s.mark_upload_used("u1").await.unwrap(),
        "a token is used once"
    );
    assert!(s.get_upload_token("u1").await.unwrap().unwrap().used);
    assert_eq!(
        s.expired_unused_uploads(T0 + 15).await.unwrap(),
        vec!["u3".to_owned()]
    );
    s.delete_upload_token("u3").await.unwrap();
    assert!(matches!(
        s.delete_upload_token("u3").await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.get_upload_token("u3").await.unwrap(), None);

    assert_eq!(s.kv_get("k").await.unwrap(), None);
    s.kv_set("k", "v1").await.unwrap();
    s.kv_set("k", "v2").await.unwrap();
    assert_eq!(s.kv_get("k").await.unwrap().as_deref(), Some("v2"));
}

#[tokio::test]
async fn sqlite_in_memory() {
    let s = Store::connect("sqlite::memory:").await.unwrap();
    s.kv_set("k", "v").await.unwrap();
    assert_eq!(s.kv_get("k").await.unwrap().as_deref(), Some("v"));
    s.close().await;
}

both!(adopt_group_product);

async fn adopt_group_product(s: &Store) {
    use ota_domain::registry::{Group, GroupKind};
    let g = Group {
        group_id: "g".into(),
        group_name: "g".into(),
        product_key: None,
        description: None,
        kind: GroupKind::Static,
        created_at: T0,
    };
    s.insert_group(&g).await.unwrap();
    s.adopt_group_product(&"g".into(), &"p".into())
        .await
        .unwrap();
    s.adopt_group_product(&"g".into(), &"p".into())
        .await
        .unwrap();
    let got = s.get_group(&"g".into()).await.unwrap().unwrap();
    assert_eq!(got.product_key.as_ref().map(|p| p.as_str()), Some("p"));
    let other = s.adopt_group_product(&"g".into(), &"q".into()).await;
    assert!(matches!(other, Err(StoreError::Conflict(_))));
    let missing = s.adopt_group_product(&"x".into(), &"p".into()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn reconnect_keeps_schema_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ota.db").display());
    let s = Store::connect(&url).await.unwrap();
    s.kv_set("k", "v").await.unwrap();
    s.close().await;
    let s = Store::connect(&url).await.unwrap();
    assert_eq!(s.kv_get("k").await.unwrap().as_deref(), Some("v"));
    s.close().await;
}

/// Of several nodes asking at about the same time, one gets a pass; after the gap, the
/// next asker does.
async fn passes(s: &Store) {
    assert!(s.claim_pass("recovery", T0, 60_000).await.unwrap());
    assert!(!s.claim_pass("recovery", T0 + 1, 60_000).await.unwrap());
    assert!(!s.claim_pass("recovery", T0 + 59_999, 60_000).await.unwrap());
    assert!(
        s.claim_pass("other", T0 + 1, 60_000).await.unwrap(),
        "per name"
    );
    assert!(s.claim_pass("recovery", T0 + 60_000, 60_000).await.unwrap());
    let claims =
        futures::future::join_all((0..8).map(|i| s.claim_pass("together", T0 + i, 60_000))).await;
    let won = claims.into_iter().filter(|c| *c.as_ref().unwrap()).count();
    assert_eq!(won, 1, "one of eight at once");

    // Passes named after something that comes and goes are forgotten by prefix and age.
    s.kv_set("peer_secret", "not a number").await.unwrap();
    assert!(s.claim_pass("peer:a", T0, 1_000).await.unwrap());
    assert!(s.claim_pass("peer:b", T0 + 5_000, 1_000).await.unwrap());
    assert!(s.claim_pass("peerless", T0, 1_000).await.unwrap());
    assert_eq!(s.forget_passes("peer:", T0 + 5_000).await.unwrap(), 1);
    assert!(
        !s.claim_pass("peer:b", T0 + 5_001, 1_000).await.unwrap(),
        "the newer one kept"
    );
    assert!(
        !s.claim_pass("peerless", T0 + 1, 1_000).await.unwrap(),
        "another prefix kept"
    );
    assert!(
        s.claim_pass("peer:a", T0 + 1, 1_000).await.unwrap(),
        "the forgotten one is free again"
    );
    assert_eq!(
        s.kv_get("peer_secret").await.unwrap().as_deref(),
        Some("not a number"),
        "other entries are left alone"
    );
}

/// A lease is one holder's until it lapses; its holder renews it.
async fn leases(s: &Store) {
    assert!(s.hold_lease("gc", "a", T0, 1_000).await.unwrap());
    assert!(
        !s.hold_lease("gc", "b", T0 + 500, 1_000).await.unwrap(),
        "a holds it"
    );
    assert!(
        s.hold_lease("gc", "a", T0 + 900, 1_000).await.unwrap(),
        "renewed"
    );
    assert!(
        !s.hold_lease("gc", "b", T0 + 1_800, 1_000).await.unwrap(),
        "until 1,900"
    );
    assert!(
        s.hold_lease("other", "b", T0, 1_000).await.unwrap(),
        "per name"
    );
    assert!(
        s.hold_lease("gc", "b", T0 + 1_900, 1_000).await.unwrap(),
        "lapsed: taken"
    );
    assert!(!s.hold_lease("gc", "a", T0 + 2_000, 1_000).await.unwrap());
}
