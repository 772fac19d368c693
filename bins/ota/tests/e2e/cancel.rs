//! Scenarios 5 and 6: stopping tasks. Each CancelOTATaskByJob flag cancels exactly the
//! task states it names (§1.5, including the CONFIRM subtlety of CancelQueuedTask); single
//! tasks are cancelled and re-run; a batch with OverwriteMode=2 replaces pending tasks of
//! other batches but never an IN_PROGRESS one, and OverwriteMode=1 skips busy devices
//! (§1.3, §3.4).

use crate::fixtures::{self, Fleet, expect_push, fleet, job, online, package, progress};
use crate::harness::{MINUTE_MS, Server, count};
use serde_json::{Value, json};

/// Statuses of the batch's tasks, by device.
async fn states(server: &Server, id: &str, fleet: &Fleet, devices: &[usize]) -> Vec<String> {
    let mut out = Vec::new();
    for &i in devices {
        let t = server.task(id, fleet.name(i)).await;
        out.push(t["status"].as_str().unwrap_or("none").to_owned());
    }
    out
}

async fn cancel(server: &Server, id: &str, options: Value) -> Value {
    server
        .api
        .post(&format!("/jobs/{id}/cancel"), &options)
        .await
        .expect("cancel batch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cancel_flag_cancels_exactly_its_states() {
    let server = Server::start().await;
    let fleet = fleet(&server, 16).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;

    // Devices 3r, 3r+1, 3r+2 end up IN_PROGRESS, NOTIFIED and QUEUED (offline).
    let flags = ["cancel_in_progress", "cancel_notified", "cancel_queued"];
    for (round, flag) in flags.iter().enumerate() {
        let base = round * 3;
        let d0 = online(&server, &fleet.devices[base], "1.0.0").await;
        let d1 = online(&server, &fleet.devices[base + 1], "1.0.0").await;
        let id = fixtures::id(
            &job(
                &server,
                &pkg,
                json!({"target_selection": "SPECIFIC",
                       "device_names": fleet.names(base..base + 3)}),
            )
            .await,
        );
        expect_push(&d0).await;
        expect_push(&d1).await;
        progress(&d0, 20).await;
        server
            .wait_status(&id, fleet.name(base), "IN_PROGRESS")
            .await;
        server
            .wait_status(&id, fleet.name(base + 1), "NOTIFIED")
            .await;
        let before = ["IN_PROGRESS", "NOTIFIED", "QUEUED"];
        let canceled = cancel(&server, &id, json!({*flag: true})).await;
        assert_eq!(canceled["status"], "CANCELED");
        let after = states(&server, &id, &fleet, &[base, base + 1, base + 2]).await;
        for (i, state) in after.iter().enumerate() {
            let expected = if i == round { "CANCELED" } else { before[i] };
            assert_eq!(state, expected, "{flag}: device {i}: {after:?}");
        }
        let j = server.job(&id).await;
        assert_eq!(j["counts"]["cancels"], json!({"JOB_CANCELED": 1}), "{flag}");
    }

    // Scheduled tasks: only CancelScheduledTask (or CancelQueuedTask) reaches them.
    let at = server.now().await + 6 * MINUTE_MS;
    let planned = |names: Vec<String>| json!({"target_selection": "SPECIFIC", "device_names": names, "schedule_time": at});
    let p1 = fixtures::id(&job(&server, &pkg, planned(fleet.names(9..11))).await);
    let p2 = fixtures::id(&job(&server, &pkg, planned(fleet.names(11..12))).await);
    assert_eq!(server.job(&p1).await["status"], "PLANNED");
    cancel(
        &server,
        &p2,
        json!({"cancel_in_progress": true, "cancel_notified": true}),
    )
    .await;
    assert_eq!(states(&server, &p2, &fleet, &[11]).await, ["QUEUED"]);
    cancel(&server, &p1, json!({"cancel_scheduled": true})).await;
    assert_eq!(
        states(&server, &p1, &fleet, &[9, 10]).await,
        ["CANCELED", "CANCELED"]
    );

    // CONFIRM tasks: CancelUnconfirmedTask, or CancelQueuedTask when it is unset.
    let confirm = |names: Vec<String>| json!({"target_selection": "SPECIFIC", "device_names": names, "need_confirm": true});
    let c1 = fixtures::id(&job(&server, &pkg, confirm(fleet.names(12..13))).await);
    let c2 = fixtures::id(&job(&server, &pkg, confirm(fleet.names(13..14))).await);
    let c3 = fixtures::id(&job(&server, &pkg, confirm(fleet.names(14..15))).await);
    let c4 = fixtures::id(&job(&server, &pkg, confirm(fleet.names(15..16))).await);
    cancel(&server, &c1, json!({"cancel_unconfirmed": true})).await;
    cancel(&server, &c2, json!({"cancel_queued": true})).await;
    cancel(
        &server,
        &c3,
        json!({"cancel_queued": true, "cancel_unconfirmed": false}),
    )
    .await;
    cancel(
        &server,
        &c4,
        json!({"cancel_in_progress": true, "cancel_notified": true}),
    )
    .await;
    assert_eq!(states(&server, &c1, &fleet, &[12]).await, ["CANCELED"]);
    assert_eq!(states(&server, &c2, &fleet, &[13]).await, ["CANCELED"]);
    assert_eq!(states(&server, &c3, &fleet, &[14]).await, ["CONFIRM"]);
    assert_eq!(states(&server, &c4, &fleet, &[15]).await, ["CONFIRM"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_tasks_are_cancelled_and_failed_or_cancelled_ones_rerun() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let devs = [
        online(&server, &fleet.devices[0], "1.0.0").await,
        online(&server, &fleet.devices[1], "1.0.0").await,
        online(&server, &fleet.devices[2], "1.0.0").await,
    ];
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    let mut pushes = Vec::new();
    for d in &devs {
        pushes.push(expect_push(d).await);
    }
    progress(&devs[0], -4).await;
    let failed = server.wait_status(&id, fleet.name(0), "FAILED").await;
    assert_eq!(failed["failure"], "BURN_FAILED");
    let victim = server.task(&id, fleet.name(1)).await;
    let out = server
        .api
        .post("/tasks/cancel", &json!({"task_ids": [victim["task_id"]]}))
        .await
        .unwrap();
    assert_eq!(out["items"][0]["cancel_reason"], "OPERATOR", "{out}");
    // Only the named task stopped.
    assert_eq!(server.task(&id, fleet.name(2)).await["status"], "NOTIFIED");
    devs[2].run_update(&pushes[2]).await.expect("update");
    server.wait_status(&id, fleet.name(2), "SUCCEEDED").await;
    server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;

    // A finished task other than FAILED/CANCELED cannot be re-run.
    let done = server.task(&id, fleet.name(2)).await;
    let err = server
        .api
        .post("/tasks/reupgrade", &json!({"task_ids": [done["task_id"]]}))
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&err).0, 409, "{err:#}");

    let rerun = server
        .api
        .post(
            "/tasks/reupgrade",
            &json!({"task_ids": [failed["task_id"], victim["task_id"]]}),
        )
        .await
        .unwrap();
    for t in rerun["items"].as_array().unwrap() {
        assert_eq!(t["status"], "QUEUED", "{t}");
        assert_eq!(t["retries_used"], 0);
    }
    for (i, dev) in devs.iter().take(2).enumerate() {
        let push = expect_push(dev).await;
        dev.run_update(&push).await.expect("update");
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
    let j = server
        .wait_job(&id, "COMPLETED again", |j| {
            j["status"] == "COMPLETED" && count(j, "SUCCEEDED") == 3
        })
        .await;
    assert_eq!(j["counts"]["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_replaces_pending_tasks_but_never_in_progress() {
    let server = Server::start().await;
    let fleet = fleet(&server, 6).await;
    let v2 = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let v3 = package(&server, &fleet.pk, "3.0.0", 4 * 1024).await;
    let d0 = online(&server, &fleet.devices[0], "1.0.0").await;
    let d1 = online(&server, &fleet.devices[1], "1.0.0").await;
    // Both connections are processed (no push-on-connect still to come) before the batch.
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let a = fixtures::id(
        &job(
            &server,
            &v2,
            json!({"target_selection": "SPECIFIC", "device_names": fleet.names(0..3)}),
        )
        .await,
    );
    expect_push(&d0).await;
    expect_push(&d1).await;
    progress(&d0, 40).await;
    server.wait_status(&a, fleet.name(0), "IN_PROGRESS").await;
    server.wait_status(&a, fleet.name(1), "NOTIFIED").await;

    // Keep (the default) leaves every busy device alone.
    let keep = job(
        &server,
        &v3,
        json!({"target_selection": "SPECIFIC", "device_names": fleet.names(0..4),
               "overwrite_mode": 1}),
    )
    .await;
    assert_eq!(
        (
            keep["tasks_created"].as_i64(),
            keep["devices_busy"].as_i64()
        ),
        (Some(1), Some(3)),
        "{keep}"
    );
    assert_eq!(keep["tasks_overwritten"], 0);
    let keep_id = fixtures::id(&keep);
    assert_eq!(server.tasks(&keep_id).await.len(), 1);
    assert_eq!(
        server.task(&keep_id, fleet.name(3)).await["status"],
        "QUEUED"
    );

    // Overwrite takes the NOTIFIED and QUEUED tasks, not the IN_PROGRESS one.
    let over = job(
        &server,
        &v3,
        json!({"target_selection": "SPECIFIC", "device_names": fleet.names(0..3),
               "overwrite_mode": 2}),
    )
    .await;
    assert_eq!(
        (
            over["tasks_created"].as_i64(),
            over["devices_busy"].as_i64(),
            over["tasks_overwritten"].as_i64()
        ),
        (Some(2), Some(1), Some(2)),
        "{over}"
    );
    let over_id = fixtures::id(&over);
    for i in 1..3 {
        let t = server.task(&a, fleet.name(i)).await;
        assert_eq!(
            (t["status"].as_str(), t["cancel_reason"].as_str()),
            (Some("CANCELED"), Some("OVERWRITTEN")),
            "{t}"
        );
    }
    assert_eq!(
        server.task(&a, fleet.name(0)).await["status"],
        "IN_PROGRESS"
    );
    assert!(server.task(&over_id, fleet.name(0)).await.is_null());
    let push = expect_push(&d1).await;
    assert_eq!(push.data.version, "3.0.0");

    // A's last task finishes: the batch completes with its overwritten tasks counted.
    d0.report_version(None, "2.0.0").await.unwrap();
    let done = server
        .wait_job(&a, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(done["counts"]["cancels"], json!({"OVERWRITTEN": 2}));
    assert_eq!(count(&done, "SUCCEEDED"), 1);

    // A batch whose every task is overwritten is finished too.
    let lone = fixtures::id(
        &job(
            &server,
            &v2,
            json!({"target_selection": "SPECIFIC", "device_names": fleet.names(4..6)}),
        )
        .await,
    );
    job(
        &server,
        &v3,
        json!({"target_selection": "SPECIFIC", "device_names": fleet.names(4..6),
               "overwrite_mode": 2}),
    )
    .await;
    let j = server
        .wait_job(&lone, "COMPLETED after overwrite", |j| {
            j["status"] == "COMPLETED"
        })
        .await;
    assert_eq!(j["counts"]["cancels"], json!({"OVERWRITTEN": 2}));
}
