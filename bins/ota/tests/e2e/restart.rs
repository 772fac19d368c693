//! Scenario 13: the platform is killed in the middle of a batch and started again on the
//! same data. Every deadline lives in the store (engine module docs), so the batch carries
//! on: the remaining devices are pushed when they connect and a retry scheduled before the
//! crash still fires after it.

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, progress, simulate};
use crate::harness::{MINUTE_MS, Server, count};
use ota_device_sdk::sim::Behaviour;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_and_pending_retry_survive_a_kill() {
    let mut server = Server::start().await;
    let fleet = fleet(&server, 21).await;
    let pkg = fixtures::package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;
    let retrying = fleet.name(20).to_owned();
    let dev = online(&server, &fleet.devices[20], "1.0.0").await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "retry_interval": 10, "retry_count": 1}),
        )
        .await,
    );

    // The first half updates; one device fails and waits for its retry.
    let (_, first) = simulate(&server, fleet.devices[..10].to_vec(), Behaviour::Succeed);
    expect_push(&dev).await;
    progress(&dev, -2).await;
    let snapshot = first.await.unwrap().unwrap();
    assert_eq!(snapshot.succeeded, 10);
    server
        .wait_job(&id, "first half", |j| count(j, "SUCCEEDED") == 10)
        .await;
    let t = server
        .wait_task(&id, &retrying, "retry scheduled", |t| {
            t["queued_reason"] == "RETRY_SCHEDULED"
        })
        .await;
    assert_eq!(t["retries_used"], 1);
    dev.close().await;

    server.restart().await;

    let j = server.job(&id).await;
    assert_eq!(j["status"], "IN_PROGRESS");
    assert_eq!(count(&j, "SUCCEEDED"), 10, "{j}");
    let (_, second) = simulate(&server, fleet.devices[10..20].to_vec(), Behaviour::Succeed);
    assert_eq!(second.await.unwrap().unwrap().succeeded, 10);
    server
        .wait_job(&id, "second half", |j| count(j, "SUCCEEDED") == 20)
        .await;

    // The retry timer was stored: it is still pending, and fires once its time comes.
    let dev = online(&server, &fleet.devices[20], "1.0.0").await;
    expect_no_push(&server, &dev).await;
    assert_eq!(
        server.task(&id, &retrying).await["queued_reason"],
        "RETRY_SCHEDULED"
    );
    server.advance_clock(10 * MINUTE_MS + 1_000).await;
    let push = expect_push(&dev).await;
    dev.run_update(&push).await.expect("update");
    let done = server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(count(&done, "SUCCEEDED"), 21, "{done}");
}

/// A batch is completed by the node that stores its last report. When that node dies in
/// between (here: the last reports written behind the server's back, as a node killed
/// after its commit leaves them), any node's timer completes the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_completion_was_missed_is_completed_by_the_timers() {
    let server = Server::start().await;
    let fleet = fleet(&server, 5).await;
    let pkg = fixtures::package(&server, &fleet.pk, "2.0.0", 1024).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "maximum_per_minute": 10}),
        )
        .await,
    );
    let mut store = fixtures::open_store(&server).await;
    let finished =
        sqlx::query("UPDATE tasks SET status = 'SUCCEEDED', queued_reason = NULL WHERE job_id = ?")
            .bind(&id)
            .execute(&mut store)
            .await
            .expect("finish the tasks")
            .rows_affected();
    assert_eq!(finished, 5);
    server
        .wait_job(&id, "COMPLETED by a timer", |j| {
            j["status"] == "COMPLETED" && count(j, "SUCCEEDED") == 5
        })
        .await;
}
