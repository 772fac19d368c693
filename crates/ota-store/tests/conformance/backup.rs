//! Backups: the package-storage objects the store refers to, and a consistent copy of the
//! embedded store taken while it is in use.

use crate::support::*;
use ota_store::{DeltaRow, Dialect, Store};

both!(referenced_blob_keys, snapshot);

async fn referenced_blob_keys(s: &Store) {
    assert!(s.referenced_blob_keys().await.unwrap().is_empty());
    s.insert_product(&product("pk")).await.unwrap();
    let mut multi = firmware("f1", "pk", "default", "1.0");
    let mut second = multi.files[0].clone();
    second.blob_key = "blobs/f1-extra".into();
    multi.files.push(second);
    s.insert_firmware(&multi).await.unwrap();
    s.insert_firmware(&firmware("f2", "pk", "default", "2.0"))
        .await
        .unwrap();
    for (src, key) in [("1.0", Some("patches/f2-from-1.0")), ("0.9", None)] {
        s.request_delta(&DeltaRow {
            firmware_id: "f2".into(),
            src_version: src.into(),
            src_firmware_id: "f1".into(),
            status: "PENDING".into(),
            blob_key: key.map(str::to_owned),
            size: None,
            md5: None,
            sha256: None,
            error: None,
            created_at: T0,
            finished_at: None,
            progress: 0,
            format: 0,
            apply_need: None,
        })
        .await
        .unwrap();
    }
    let keys = s.referenced_blob_keys().await.unwrap();
    assert_eq!(
        keys,
        ["blobs/f1", "blobs/f1-extra", "blobs/f2"],
        "a pending delta has no patch yet"
    );
}

async fn snapshot(s: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    if s.dialect() == Dialect::Postgres {
        let err = s.snapshot_into(&copy).await.unwrap_err();
        assert!(err.to_string().contains("pg_dump"), "{err}");
        return;
    }
    s.insert_product(&product("pk")).await.unwrap();
    fleet(s, "pk", 3).await;
    s.snapshot_into(&copy).await.unwrap();
    // Writes after the copy do not reach it.
    fleet(s, "pk2", 2).await;
    let copied = Store::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    assert!(copied.get_product(&"pk".into()).await.unwrap().is_some());
    assert!(copied.get_product(&"pk2".into()).await.unwrap().is_none());
    copied.close().await;
    assert!(
        s.snapshot_into(&copy).await.is_err(),
        "an existing file is never overwritten"
    );
}
