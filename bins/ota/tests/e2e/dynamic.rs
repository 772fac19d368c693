//! Scenario 9: dynamic batches (CreateOTADynamicUpgradeJob). A device whose reported
//! version matches the policy gets a task when it reports, not only at creation
//! (DynamicMode 1); DynamicMode 2 ignores devices that matched before; a package has one
//! active dynamic batch; CancelOTAStrategyByJob stops adding devices (§1.3, §1.5).

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package};
use crate::harness::Server;
use serde_json::{Value, json};

async fn device_tasks(server: &Server, pk: &str, dn: &str) -> Vec<Value> {
    let v = server
        .api
        .get(&format!("/products/{pk}/devices/{dn}/tasks"))
        .await
        .unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_batch_follows_version_reports_until_its_policy_stops() {
    let server = Server::start().await;
    let fleet = fleet(&server, 4).await;
    let v2 = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let early = online(&server, &fleet.devices[0], "1.0.0").await;
    let other = online(&server, &fleet.devices[1], "0.9.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 2).await;

    let created = job(
        &server,
        &v2,
        json!({"kind": "dynamic", "src_versions": ["1.0.0"], "dynamic_mode": 1}),
    )
    .await;
    let id = fixtures::id(&created);
    assert_eq!(created["selection_type"], "DYNAMIC");
    assert_eq!(
        created["tasks_created"], 1,
        "only the matching device: {created}"
    );
    let push = expect_push(&early).await;
    early.run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
    expect_no_push(&server, &other).await;

    // A device reporting a matching version later joins the running batch.
    let late = online(&server, &fleet.devices[2], "1.0.0").await;
    let push = expect_push(&late).await;
    late.run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(2), "SUCCEEDED").await;
    let j = server.job(&id).await;
    assert_eq!(
        j["status"], "IN_PROGRESS",
        "a dynamic batch keeps running: {j}"
    );
    assert_eq!(j["counts"]["total"], 2);

    // One active dynamic batch per package.
    let err = fixtures::try_job(
        &server,
        &v2,
        json!({"kind": "dynamic", "src_versions": ["0.9.0"]}),
    )
    .await
    .unwrap_err();
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["field"].as_str()),
        (409, Some("FirmwareId")),
        "{body}"
    );

    // Cancelling the policy stops new devices from joining.
    let stopped = server
        .api
        .post(&format!("/jobs/{id}/cancel-strategy"), &json!({}))
        .await
        .unwrap();
    assert_eq!(stopped["status"], "CANCELED");
    let after = online(&server, &fleet.devices[3], "1.0.0").await;
    expect_no_push(&server, &after).await;
    assert!(
        device_tasks(&server, &fleet.pk, fleet.name(3))
            .await
            .is_empty()
    );
    assert_eq!(server.job(&id).await["counts"]["total"], 2);
    // With the policy gone, the package may have a new dynamic batch.
    let again = job(
        &server,
        &v2,
        json!({"kind": "dynamic", "src_versions": ["0.9.0"]}),
    )
    .await;
    let push = expect_push(&other).await;
    assert_eq!(push.data.version, "2.0.0");
    assert_eq!(again["tasks_created"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_mode_2_only_takes_devices_reporting_after_creation() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let v2 = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let before = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let created = job(
        &server,
        &v2,
        json!({"kind": "dynamic", "src_versions": ["1.0.0"], "dynamic_mode": 2}),
    )
    .await;
    let id = fixtures::id(&created);
    assert_eq!(created["tasks_created"], 0, "{created}");
    expect_no_push(&server, &before).await;
    assert!(server.task(&id, fleet.name(0)).await.is_null());

    let newcomer = online(&server, &fleet.devices[1], "1.0.0").await;
    let push = expect_push(&newcomer).await;
    newcomer.run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(1), "SUCCEEDED").await;
    assert_eq!(server.job(&id).await["counts"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_created_before_the_policy_stopped_still_finish() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let v2 = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    // Matches the policy, but is offline when the batch starts.
    online(&server, &fleet.devices[0], "1.0.0")
        .await
        .close()
        .await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let created = job(
        &server,
        &v2,
        json!({"kind": "dynamic", "src_versions": ["1.0.0"]}),
    )
    .await;
    let id = fixtures::id(&created);
    assert_eq!(created["tasks_created"], 1, "{created}");
    server
        .api
        .post(&format!("/jobs/{id}/cancel-strategy"), &json!({}))
        .await
        .unwrap();
    // "No new devices are added" (§1.5): the task that exists runs to its end.
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    let push = expect_push(&dev).await;
    dev.run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
}
