//! Rollout gates: a batch whose devices fail too often pauses itself (or cancels what has not
//! started), an operator pauses and resumes, and while paused no new device is pushed, by
//! the dispatcher or on a pull. Pushes are paced at 10 a minute and the platform clock is
//! moved forward, so which devices have been pushed is known at every step.

use crate::fixtures::{self, TestDevice, expect_no_push, fleet, job, online, package};
use crate::harness::{MINUTE_MS, Server, count};
use ota_device_sdk::UpgradePush;
use serde_json::{Value, json};
use std::time::Duration;

/// The first push any of `devices` receives, and whose it is.
async fn first_push(devices: &[TestDevice]) -> (usize, UpgradePush) {
    let waits = devices.iter().map(|d| Box::pin(d.next_push()));
    let (push, index, _) =
        tokio::time::timeout(Duration::from_secs(10), futures::future::select_all(waits))
            .await
            .expect("no push within 10 s");
    (index, push.expect("device open"))
}

/// Asserts that none of `devices` is pushed for a while after the clock moves past when
/// the batch's pace would allow a push.
async fn no_one_pushed(server: &Server, devices: &[&TestDevice]) {
    server.advance_clock(MINUTE_MS).await;
    for device in devices {
        expect_no_push(server, device).await;
    }
}

/// Every device of `devices` but the one at `index`.
fn all_but(devices: &[TestDevice], index: usize) -> Vec<&TestDevice> {
    devices
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, d)| d)
        .collect()
}

fn paused_by(job: &Value) -> Option<&str> {
    job["pause"]["reason"].as_str()
}

async fn slow_batch(server: &Server, devices: usize, gate: Value) -> (Vec<TestDevice>, String) {
    let fleet = fleet(server, devices).await;
    let pkg = package(server, &fleet.pk, "2.0.0", 4_000).await;
    let mut online_devices = Vec::new();
    for creds in &fleet.devices {
        online_devices.push(online(server, creds, "1.0.0").await);
    }
    fixtures::wait_reported(server, &fleet.pk, devices as i64).await;
    let body = json!({"target_selection": "ALL", "maximum_per_minute": 10, "failure_gate": gate});
    let id = fixtures::id(&job(server, &pkg, body).await);
    (online_devices, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_rollout_pauses_itself_until_resumed() {
    let server = Server::start().await;
    let gate = json!({"max_failed_percent": 0, "min_finished": 1, "action": "PAUSE"});
    let (devices, id) = slow_batch(&server, 5, gate).await;
    let created = server.job(&id).await;
    assert_eq!(created["failure_gate"]["action"], "PAUSE", "{created}");
    assert_eq!(created["paused"], false);

    // The first device pushed fails: one of one finished failed, above 0 %.
    let (first, _) = first_push(&devices).await;
    fixtures::progress(&devices[first], -2).await;
    let paused = server
        .wait_job(&id, "paused by its gate", |j| {
            paused_by(j) == Some("FAILURE_GATE")
        })
        .await;
    assert_eq!(paused["status"], "IN_PROGRESS", "{paused}");
    assert_eq!(count(&paused, "FAILED"), 1);
    assert_eq!(count(&paused, "QUEUED"), 4);

    // Paused: time passes and nobody new is pushed, nor served on a pull.
    let rest = all_but(&devices, first);
    no_one_pushed(&server, &rest).await;
    assert_eq!(
        rest[0].request_firmware(None).await.unwrap(),
        None,
        "a pull started a device"
    );

    // Resumed: pushes go on, and the failure already seen does not trip the gate again.
    let resumed = server
        .api
        .post(&format!("/jobs/{id}/resume"), &json!({}))
        .await
        .unwrap();
    assert_eq!(resumed["paused"], false, "{resumed}");
    server.advance_clock(MINUTE_MS).await;
    let (second, push) = first_push(&devices).await;
    assert_ne!(second, first);
    devices[second].run_update(&push).await.expect("update");
    server
        .wait_status(&id, &devices[second].config().device_name, "SUCCEEDED")
        .await;
    let after = server.job(&id).await;
    assert_eq!(after["paused"], false, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_and_resumes_a_batch() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4_000).await;
    let mut devices = Vec::new();
    for creds in &fleet.devices {
        devices.push(online(&server, creds, "1.0.0").await);
    }
    fixtures::wait_reported(&server, &fleet.pk, 3).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "maximum_per_minute": 10}),
        )
        .await,
    );
    let (first, push) = first_push(&devices).await;

    let paused = server
        .api
        .post(&format!("/jobs/{id}/pause"), &json!({}))
        .await
        .unwrap();
    assert_eq!(paused_by(&paused), Some("OPERATOR"), "{paused}");
    // Pausing twice is refused by name.
    let err = server
        .api
        .post(&format!("/jobs/{id}/pause"), &json!({}))
        .await
        .unwrap_err();
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("InvalidState")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("already paused"),
        "{body}"
    );

    // The device already told goes on; no one else is pushed.
    devices[first]
        .run_update(&push)
        .await
        .expect("update while paused");
    server
        .wait_status(&id, fleet.name(first), "SUCCEEDED")
        .await;
    let rest = all_but(&devices, first);
    no_one_pushed(&server, &rest).await;

    server
        .api
        .post(&format!("/jobs/{id}/resume"), &json!({}))
        .await
        .unwrap();
    server.advance_clock(MINUTE_MS).await;
    let (next, _) = first_push(&devices).await;
    assert_ne!(next, first);
    // Resuming a running batch is refused.
    let err = server
        .api
        .post(&format!("/jobs/{id}/resume"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&err).0, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelling_gate_ends_the_batch_and_spares_started_devices() {
    let server = Server::start().await;
    let gate = json!({"max_failed_percent": 0, "min_finished": 1, "action": "CANCEL"});
    let (devices, id) = slow_batch(&server, 4, gate).await;
    let (first, _) = first_push(&devices).await;
    fixtures::progress(&devices[first], -3).await;
    let ended = server
        .wait_job(&id, "cancelled by its gate", |j| j["status"] == "CANCELED")
        .await;
    assert_eq!(count(&ended, "FAILED"), 1, "{ended}");
    assert_eq!(count(&ended, "CANCELED"), 3, "{ended}");
    assert_eq!(ended["paused"], false);
}

#[tokio::test]
async fn bad_gates_are_refused_by_field() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 1_000).await;
    for (body, field) in [
        (
            json!({"target_selection": "ALL", "failure_gate": {"max_failed_percent": 101}}),
            "FailureGate.MaxFailedPercent",
        ),
        (
            json!({"target_selection": "ALL", "failure_gate": {"min_finished": 5}}),
            "FailureGate.MaxFailedPercent",
        ),
        (
            json!({"target_selection": "ALL", "failure_gate": {"max_failed_percent": 5, "min_finished": 0}}),
            "FailureGate.MinFinished",
        ),
        (
            json!({"target_selection": "ALL", "failure_gate": {"max_failed_percent": 5, "action": "STOP"}}),
            "FailureGate.Action",
        ),
        (
            json!({"kind": "verify", "device_names": [fleet.name(0)], "failure_gate": {"max_failed_percent": 5}}),
            "failure_gate",
        ),
    ] {
        let err = fixtures::try_job(&server, &pkg, body.clone())
            .await
            .unwrap_err();
        let (status, answer) = fixtures::failure(&err);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    let listed = server
        .api
        .get(&format!("/firmwares/{}/jobs", pkg.id))
        .await
        .unwrap();
    assert_eq!(listed["total"], 0, "a refused batch was stored: {listed}");
}
