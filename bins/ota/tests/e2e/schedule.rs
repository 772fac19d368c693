//! Scenario 10: a static batch with ScheduleTime is PLANNED and pushes nothing (not even to
//! a pull) until its start; at ScheduleFinishTime the unfinished tasks fail and the batch
//! ends (§1.3, §3.1, §3.2).

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package, progress};
use crate::harness::{MINUTE_MS, Server, count};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_batch_starts_and_is_finished_by_the_clock() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let mut devs = Vec::new();
    for creds in &fleet.devices {
        devs.push(online(&server, creds, "1.0.0").await);
    }
    let start = server.now().await + 6 * MINUTE_MS;
    let finish = start + 60 * MINUTE_MS;

    // Outside the allowed windows: refused, naming the parameter.
    let early = fixtures::try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "schedule_time": start - 2 * MINUTE_MS}),
    )
    .await
    .unwrap_err();
    assert_eq!(fixtures::failure(&early).1["field"], "ScheduleTime");
    let short = fixtures::try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "schedule_time": start,
               "schedule_finish_time": start + 30 * MINUTE_MS}),
    )
    .await
    .unwrap_err();
    assert_eq!(fixtures::failure(&short).1["field"], "ScheduleFinishTime");

    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "schedule_time": start,
                   "schedule_finish_time": finish}),
        )
        .await,
    );
    let j = server.job(&id).await;
    assert_eq!(j["status"], "PLANNED");
    assert_eq!(count(&j, "QUEUED"), 3, "{j}");
    assert_eq!(j["counts"]["queued"]["scheduled"], 3, "{j}");
    for t in server.tasks(&id).await {
        assert_eq!(t["queued_reason"], "SCHEDULED", "{t}");
    }
    expect_no_push(&server, &devs[0]).await;
    assert_eq!(
        devs[1].request_firmware(None).await.unwrap(),
        None,
        "no early pull"
    );

    // Start time reached.
    server.advance_clock(6 * MINUTE_MS + 1_000).await;
    server
        .wait_job(&id, "IN_PROGRESS", |j| j["status"] == "IN_PROGRESS")
        .await;
    let pushes = [
        expect_push(&devs[0]).await,
        expect_push(&devs[1]).await,
        expect_push(&devs[2]).await,
    ];
    devs[0].run_update(&pushes[0]).await.expect("update");
    progress(&devs[1], 10).await;
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
    server.wait_status(&id, fleet.name(1), "IN_PROGRESS").await;
    server.wait_status(&id, fleet.name(2), "NOTIFIED").await;

    // Finish time reached: whatever is unfinished fails, the batch is over.
    server.advance_clock(60 * MINUTE_MS).await;
    let done = server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(count(&done, "SUCCEEDED"), 1, "{done}");
    assert_eq!(done["counts"]["failures"], json!({"SCHEDULE_FINISHED": 2}));
    for i in 1..3 {
        let t = server.task(&id, fleet.name(i)).await;
        assert_eq!(
            (t["status"].as_str(), t["failure"].as_str()),
            (Some("FAILED"), Some("SCHEDULE_FINISHED"))
        );
    }
    // The device that was still downloading cannot complete the finished batch.
    devs[1].report_version(None, "2.0.0").await.unwrap();
    fixtures::settled(&server, &devs[1]).await;
    assert_eq!(server.task(&id, fleet.name(1)).await["status"], "FAILED");
}
