//! Scenarios 2 and 3: how a task fails. A negative progress step fails it with the matching
//! reason (§2.4); with a retry policy it is re-pushed after RetryInterval up to RetryCount
//! times (§3.2), never after a cancel; a timeout counted from the first progress report is
//! final even with retries left (§1.3 TimeoutInMinutes).

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package, progress};
use crate::harness::{MINUTE_MS, Server, count};
use ota_device_sdk::sim::Behaviour;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_steps_fail_tasks_with_their_reasons() {
    let server = Server::start().await;
    let fleet = fleet(&server, 8).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;
    // Two devices per step; -2 aborts mid-download, the others fail at install time.
    let mix: Behaviour = "mix:25=fail:-1,25=fail:-2@50,25=fail:-3,25=fail:-4"
        .parse()
        .unwrap();
    let (_, sim) = fixtures::simulate(&server, fleet.devices.clone(), mix);
    fixtures::wait_reported(&server, &fleet.pk, 8).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    let done = server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(count(&done, "FAILED"), 8, "{done}");
    assert_eq!(
        done["counts"]["failures"],
        json!({"UPGRADE_FAILED": 2, "DOWNLOAD_FAILED": 2, "VERIFY_FAILED": 2, "BURN_FAILED": 2}),
    );
    assert_eq!(done["counts"]["success_rate"], 0.0);
    let snapshot = sim.await.unwrap().unwrap();
    assert_eq!(snapshot.failed, [2, 2, 2, 2], "{snapshot:?}");
    for t in server.tasks(&id).await {
        assert_eq!(t["retries_used"], 0, "no retry policy: {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immediate_retry_repushes_until_the_count_is_used() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let (a, b) = (fleet.name(0), fleet.name(1));
    let dev_a = online(&server, &fleet.devices[0], "1.0.0").await;
    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    // Both reports processed before the batch, so no push-on-report follows its push.
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "retry_interval": 0, "retry_count": 1}),
        )
        .await,
    );

    // A fails twice: the second failure is final, with one retry used.
    expect_push(&dev_a).await;
    progress(&dev_a, 10).await;
    progress(&dev_a, -1).await;
    expect_push(&dev_a).await;
    let t = server
        .wait_task(&id, a, "re-pushed", |t| t["status"] == "NOTIFIED")
        .await;
    assert_eq!(t["retries_used"], 1, "{t}");
    progress(&dev_a, -1).await;
    let t = server.wait_status(&id, a, "FAILED").await;
    assert_eq!(t["failure"], "UPGRADE_FAILED");
    assert_eq!(t["retries_used"], 1);
    expect_no_push(&server, &dev_a).await;

    // B fails once, then succeeds on the retry.
    expect_push(&dev_b).await;
    progress(&dev_b, -2).await;
    let push = expect_push(&dev_b).await;
    dev_b.run_update(&push).await.expect("update");
    let t = server.wait_status(&id, b, "SUCCEEDED").await;
    assert_eq!(t["retries_used"], 1);
    assert!(t["failure"].is_null(), "a success clears the failure: {t}");
    server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_waits_for_its_interval_and_never_follows_a_cancel() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let (a, b) = (fleet.name(0), fleet.name(1));
    let dev_a = online(&server, &fleet.devices[0], "1.0.0").await;
    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    // Both reports processed before the batch, so no push-on-report follows its push.
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "retry_interval": 10, "retry_count": 2}),
        )
        .await,
    );
    expect_push(&dev_a).await;
    expect_push(&dev_b).await;
    progress(&dev_a, -3).await;
    progress(&dev_b, -3).await;
    for d in [a, b] {
        let t = server
            .wait_task(&id, d, "retry scheduled", |t| {
                t["queued_reason"] == "RETRY_SCHEDULED"
            })
            .await;
        assert_eq!(
            (t["status"].as_str(), t["retries_used"].as_i64()),
            (Some("QUEUED"), Some(1))
        );
        assert_eq!(t["failure"], "VERIFY_FAILED");
    }
    let job_now = server.job(&id).await;
    assert_eq!(job_now["counts"]["queued"]["retry_scheduled"], 2);
    // B's pending retry is cancelled; A's is not.
    let task_b = server.task(&id, b).await;
    server
        .api
        .post("/tasks/cancel", &json!({"task_ids": [task_b["task_id"]]}))
        .await
        .unwrap();
    expect_no_push(&server, &dev_a).await;

    server.advance_clock(10 * MINUTE_MS + 1_000).await;
    expect_push(&dev_a).await;
    expect_no_push(&server, &dev_b).await;
    let t = server.wait_status(&id, b, "CANCELED").await;
    assert_eq!(t["cancel_reason"], "OPERATOR");

    // A's second failure uses the last retry; the third push ends in success.
    progress(&dev_a, -3).await;
    server
        .wait_task(&id, a, "second retry", |t| t["retries_used"] == 2)
        .await;
    expect_no_push(&server, &dev_a).await;
    server.advance_clock(10 * MINUTE_MS + 1_000).await;
    let push = expect_push(&dev_a).await;
    dev_a.run_update(&push).await.expect("update");
    let t = server.wait_status(&id, a, "SUCCEEDED").await;
    assert_eq!(t["retries_used"], 2);
    let done = server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(
        (count(&done, "SUCCEEDED"), count(&done, "CANCELED")),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_from_first_progress_is_final_despite_retries() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let (a, b) = (fleet.name(0), fleet.name(1));
    let dev_a = online(&server, &fleet.devices[0], "1.0.0").await;
    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    // Both reports processed before the batch, so no push-on-report follows its push.
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "timeout_minutes": 1,
                   "retry_interval": 0, "retry_count": 1}),
        )
        .await,
    );
    expect_push(&dev_a).await;
    expect_push(&dev_b).await;
    // A reports progress then stalls; B never reports (the clock has not started for it).
    progress(&dev_a, 30).await;
    let t = server.wait_status(&id, a, "IN_PROGRESS").await;
    assert!(t["timeout_at"].is_i64(), "{t}");
    server.advance_clock(61_000).await;
    let t = server.wait_status(&id, a, "FAILED").await;
    assert_eq!(t["failure"], "TIMEOUT");
    assert_eq!(t["retries_used"], 0, "a timeout is never retried: {t}");
    expect_no_push(&server, &dev_a).await;
    assert_eq!(server.task(&id, b).await["status"], "NOTIFIED");
    let j = server.job(&id).await;
    assert_eq!(j["counts"]["failures"], json!({"TIMEOUT": 1}));
    // A late success report does not revive a timed-out task.
    dev_a.report_version(None, "2.0.0").await.unwrap();
    fixtures::settled(&server, &dev_a).await;
    assert_eq!(server.task(&id, a).await["status"], "FAILED");
}
