//! Delta generation rows: request once, claim once, progress renews the claim, finish,
//! requeue after a failure, delete with the package.

use crate::support::*;
use ota_store::{DeltaRow, Store};

both!(package_deltas);

pub fn request(src: &str) -> DeltaRow {
    DeltaRow {
        firmware_id: "f2".into(),
        src_version: src.into(),
        src_firmware_id: "f1".into(),
        status: "PENDING".into(),
        blob_key: None,
        size: None,
        md5: None,
        sha256: None,
        error: None,
        created_at: T0,
        finished_at: None,
        progress: 0,
        format: 0,
        apply_need: None,
    }
}

async fn package_deltas(s: &Store) {
    assert!(s.request_delta(&request("1.0")).await.unwrap());
    assert!(!s.request_delta(&request("1.0")).await.unwrap());
    let mut d = s.claim_delta(T0 - 1, T0 + 5).await.unwrap().unwrap();
    assert_eq!(
        (d.status.as_str(), d.src_version.as_str()),
        ("RUNNING", "1.0")
    );
    assert!(s.claim_delta(T0 - 1, T0 + 6).await.unwrap().is_none());
    // A stale claim is taken over.
    assert!(s.claim_delta(T0 + 10, T0 + 11).await.unwrap().is_some());
    d.status = "FAILED".into();
    d.error = Some("boom".into());
    assert!(s.finish_delta(&d, &[]).await.unwrap());
    assert!(
        s.request_delta(&request("1.0")).await.unwrap(),
        "failed ones requeue"
    );
    let mut d = s.claim_delta(T0 - 1, T0 + 20).await.unwrap().unwrap();
    assert_eq!(d.progress, 0, "a requeued delta starts over");
    s.delta_progress("f2", "1.0", 40, T0 + 25).await.unwrap();
    let running = s.deltas_of("f2").await.unwrap();
    assert_eq!(running[0].progress, 40);
    assert_eq!(running[0].apply_need, None, "no need before READY");
    // Progress renewed the claim: not stale at T0 + 21 any more.
    assert!(s.claim_delta(T0 + 21, T0 + 26).await.unwrap().is_none());
    d.progress = 100;
    d.format = 4;
    // Beyond 4 GiB: an old image of a large device plus the decoder's memory.
    d.apply_need = Some((5 << 30) + 123);
    d.status = "READY".into();
    d.blob_key = Some("k".into());
    d.size = Some(10);
    d.finished_at = Some(T0 + 30);
    assert!(s.finish_delta(&d, &[]).await.unwrap());
    let all = s.deltas_of("f2").await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, "READY");
    assert_eq!(all[0].size, Some(10));
    assert_eq!(all[0].progress, 100);
    assert_eq!(all[0].format, 4);
    assert_eq!(all[0].apply_need, Some((5 << 30) + 123));
    assert!(s.claim_delta(T0 + 1000, T0 + 1000).await.unwrap().is_none());

    // Deleting the package's deltas returns the patches to delete; a late finish is told.
    assert!(s.request_delta(&request("0.9")).await.unwrap());
    assert_eq!(s.delete_deltas_of("f2").await.unwrap(), ["k"]);
    assert!(s.deltas_of("f2").await.unwrap().is_empty());
    assert!(!s.finish_delta(&d, &[]).await.unwrap());
}
