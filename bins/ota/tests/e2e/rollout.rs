//! Scenario 1 and 16: a static ALL batch to a simulated fleet succeeds on every device, the
//! batch completes, its counts add up and the version distribution moves — on SQLite and
//! on PostgreSQL, since the store is the part that differs.

use crate::fixtures::{self, fleet, job, package, simulate};
use crate::harness::{Server, count};
use ota_device_sdk::sim::Behaviour;
use serde_json::json;

/// Rolls 2.0.0 out to `n` devices and checks the outcome.
async fn rollout(server: &Server, n: usize) {
    let fleet = fleet(server, n).await;
    let pkg = package(server, &fleet.pk, "2.0.0", 24 * 1024).await;
    let (stats, sim) = simulate(server, fleet.devices.clone(), Behaviour::Succeed);
    fixtures::wait_reported(server, &fleet.pk, n as i64).await;

    let created = job(server, &pkg, json!({"target_selection": "ALL"})).await;
    assert_eq!(created["tasks_created"], n, "{created}");
    let id = fixtures::id(&created);
    let done = server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;

    let n = n as i64;
    let counts = &done["counts"];
    assert_eq!(counts["total"], n);
    assert_eq!(count(&done, "SUCCEEDED"), n, "{counts}");
    let statuses: i64 = counts["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(statuses, n, "states add up to the total: {counts}");
    assert_eq!(counts["success_rate"], 1.0);
    assert!(done["finished_at"].is_i64(), "{done}");

    let snapshot = sim.await.unwrap().unwrap();
    assert_eq!(snapshot.succeeded, n as u64, "{snapshot:?}");
    assert_eq!(snapshot.failed_total(), 0);
    assert_eq!(stats.snapshot().bytes, n as u64 * 24 * 1024);

    let versions = server
        .api
        .get(&format!("/products/{}/versions", fleet.pk))
        .await
        .unwrap();
    assert_eq!(
        versions["items"],
        json!([{"version": "2.0.0", "devices": n}]),
        "{versions}"
    );
    let tasks = server.tasks(&id).await;
    assert!(
        tasks.iter().all(|t| t["status"] == "SUCCEEDED"
            && t["progress"] == 100
            && t["src_version"] == "1.0.0"),
        "{tasks:?}"
    );

    // The fleet gauges of /metrics agree with the batch (each server has its own store).
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(&format!("ota_tasks{{status=\"SUCCEEDED\"}} {n}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("ota_tasks{status=\"IN_PROGRESS\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("ota_device_reports_total"), "{metrics}");
    assert!(metrics.contains("ota_pushes_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_all_batch_to_60_devices_succeeds() {
    let server = Server::start().await;
    rollout(&server, 60).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_on_postgresql() {
    let Some(server) = Server::start_postgres().await else {
        eprintln!("OTA_TEST_SKIP_PG=1: PostgreSQL rollout skipped");
        return;
    };
    rollout(&server, 20).await;
}
