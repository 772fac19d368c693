//! Scenario 14: package verification (§1.3 CreateOTAVerifyJob, §3.3). A package that needs
//! verification refuses batch jobs until a verify batch succeeded on every device: status
//! 0 (unverified) → 2 (verifying) → 1 (verified), or 3 when a device fails.

use crate::fixtures::{self, expect_push, fleet, job, online, package_with, progress};
use crate::harness::{Server, poll_value};
use serde_json::{Value, json};

async fn firmware(server: &Server, id: &str) -> Value {
    server.api.get(&format!("/firmwares/{id}")).await.unwrap()
}

async fn wait_firmware_status(server: &Server, id: &str, status: i64) -> Value {
    let (ok, last) = poll_value(|| firmware(server, id), |f| f["status"] == status).await;
    assert!(ok, "package {id} never reached status {status}: {last}");
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_gates_batches_and_tracks_the_verify_batch() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let needs = json!({"need_to_verify": true});
    let good = package_with(&server, &fleet.pk, "2.0.0", 4 * 1024, needs.clone()).await;
    let bad = package_with(&server, &fleet.pk, "2.0.1", 4 * 1024, needs).await;
    assert_eq!(firmware(&server, &good.id).await["status"], 0);

    let err = fixtures::try_job(&server, &good, json!({"target_selection": "ALL"}))
        .await
        .unwrap_err();
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("FirmwareNotVerified")),
        "{body}"
    );

    let d0 = online(&server, &fleet.devices[0], "1.0.0").await;
    let d1 = online(&server, &fleet.devices[1], "1.0.0").await;
    // Connections processed first, so no push-on-connect can follow the batch's push.
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let verify = job(
        &server,
        &good,
        json!({"kind": "verify", "device_names": fleet.names(0..2)}),
    )
    .await;
    assert_eq!(verify["job_type"], "VERIFY_FIRMWARE");
    let f = firmware(&server, &good.id).await;
    assert_eq!(
        (f["status"].as_i64(), f["verify_progress"].as_i64()),
        (Some(2), Some(0))
    );
    // Verifying: still no batch, and no second verify batch.
    assert_eq!(
        fixtures::failure(
            &fixtures::try_job(&server, &good, json!({"target_selection": "ALL"}))
                .await
                .unwrap_err()
        )
        .0,
        409
    );
    assert!(
        fixtures::try_job(
            &server,
            &good,
            json!({"kind": "verify", "device_names": fleet.names(2..3)})
        )
        .await
        .is_err()
    );

    let push = expect_push(&d0).await;
    d0.run_update(&push).await.expect("update");
    let (ok, f) = poll_value(
        || firmware(&server, &good.id),
        |f| f["verify_progress"] == 50,
    )
    .await;
    assert!(ok && f["status"] == 2, "one of two devices done: {f}");
    let push = expect_push(&d1).await;
    d1.run_update(&push).await.expect("update");
    let f = wait_firmware_status(&server, &good.id, 1).await;
    assert_eq!(f["verify_progress"], 100);
    let id = fixtures::id(&verify);
    assert_eq!(server.job(&id).await["status"], "COMPLETED");

    // Verified: batches are allowed now.
    let batch = job(&server, &good, json!({"target_selection": "ALL"})).await;
    assert_eq!(batch["tasks_created"], 1, "the third device only: {batch}");

    // A failed verification marks the package 3.
    let verify = job(
        &server,
        &bad,
        json!({"kind": "verify", "device_names": fleet.names(0..1)}),
    )
    .await;
    assert_eq!(verify["tasks_created"], 1);
    let push = expect_push(&d0).await;
    assert_eq!(push.data.version, "2.0.1");
    progress(&d0, -3).await;
    wait_firmware_status(&server, &bad.id, 3).await;
}
