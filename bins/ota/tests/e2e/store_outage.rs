//! The store stops taking writes for a while (SQLite locked by another process for longer
//! than the server's busy timeout, as a backup or a stuck tool would): reports devices send
//! meanwhile are applied once it takes writes again, not dropped, and the server carries on.

use crate::fixtures::{self, expect_push, fleet, job, online, package, progress};
use crate::harness::Server;
use serde_json::json;
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_sent_while_the_store_is_locked_are_applied_when_it_frees() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let name = fleet.name(0);
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    expect_push(&dev).await;

    let db = server.data_dir().join("ota.db");
    let mut lock = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the server's database");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .expect("lock the database");
    progress(&dev, 40).await;
    // Held until the server has met the lock (its write outlasted the 10 s busy timeout and is
    // being tried again), however long a loaded machine takes to get there; readers go on
    // meanwhile (WAL), so the metrics still answer.
    let (met, metrics) = crate::harness::poll_value(
        || async { json!(server.counter("ota_device_report_retries_total ").await) },
        |retries| retries.as_u64().unwrap_or(0) >= 1,
    )
    .await;
    assert!(met, "the report never met the lock: {metrics} retries");
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
    drop(lock);

    let task = server
        .wait_task(&id, name, "the report made while locked", |t| {
            t["progress"] == 40
        })
        .await;
    assert_eq!(task["status"], "IN_PROGRESS", "{task}");
    let retries = server.counter("ota_device_report_retries_total ").await;
    assert!(
        retries >= 1,
        "the report was applied without meeting the lock"
    );
    assert_eq!(server.counter("ota_device_reports_dropped_total ").await, 0);

    // The device finishes its update as usual.
    progress(&dev, 100).await;
    dev.report_version(None, "2.0.0").await.unwrap();
    server.wait_status(&id, name, "SUCCEEDED").await;
}

/// A short `ota bench outage`, so the harness cannot rot: the store locked mid-rollout,
/// every device updated and stored afterwards, no report dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_outage_bench_ends_with_every_device_updated() {
    let report = ota::outage::outage(ota::outage::OutageArgs {
        devices: 300,
        outage_secs: 3,
        lock_after_updates: 30,
        package_kib: 4,
        server: Some(env!("CARGO_BIN_EXE_ota").into()),
        timeout: 120,
    })
    .await
    .expect("the outage bench runs");
    assert_eq!(report.succeeded, 300, "{report:?}");
    assert_eq!(
        (report.failed, report.dropped_reports),
        (0, 0),
        "{report:?}"
    );
    assert_eq!(report.rss_during_kib.len(), 3);
}
