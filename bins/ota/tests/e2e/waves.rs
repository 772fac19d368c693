//! Rollouts in waves (issue "Rollout control and integrations", item 1): a three-wave
//! rollout where each wave starts only when the one before met its success condition
//! (after a soak, and an approval), a wave that breaks its error condition and stops the
//! rollout, and an operator's commands (pause, resume, deny, the next wave by hand). Real
//! devices update over MQTT; the platform clock moves the soak along.

use crate::fixtures::{self, TestDevice, expect_push, fleet, online, package, progress};
use crate::harness::{MINUTE_MS, Server, poll_value};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Devices online at 1.0.0, by name.
async fn online_fleet(server: &Server, n: usize) -> (String, BTreeMap<String, TestDevice>) {
    let fleet = fleet(server, n).await;
    let mut devices = BTreeMap::new();
    for creds in &fleet.devices {
        devices.insert(
            creds.device_name.clone(),
            online(server, creds, "1.0.0").await,
        );
    }
    fixtures::wait_reported(server, &fleet.pk, n as i64).await;
    (fleet.pk, devices)
}

async fn create(server: &Server, package: &str, body: Value) -> anyhow::Result<Value> {
    server
        .api
        .post(&format!("/firmwares/{package}/rollouts"), &body)
        .await
}

async fn rollout(server: &Server, id: &str) -> Value {
    server
        .api
        .get(&format!("/rollouts/{id}"))
        .await
        .expect("get rollout")
}

async fn command(server: &Server, id: &str, what: &str) -> Value {
    server
        .api
        .post(&format!("/rollouts/{id}/{what}"), &json!({}))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:#}"))
}

/// Polls the rollout until `pred` holds.
async fn wait_rollout(
    server: &Server,
    id: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let (ok, last) = poll_value(|| rollout(server, id), pred).await;
    assert!(
        ok,
        "rollout {id}: timed out waiting for {what}; last: {last:#}"
    );
    last
}

fn phase(r: &Value, wave: usize) -> &str {
    r["waves"][wave - 1]["phase"].as_str().unwrap_or("")
}

/// The devices of wave `wave`'s batch, once all its tasks exist.
async fn wave_devices(server: &Server, r: &Value, wave: usize) -> BTreeSet<String> {
    let job_id = r["waves"][wave - 1]["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("wave {wave} has no batch: {r:#}"))
        .to_owned();
    let job = server
        .wait_job(&job_id, "its tasks created", |j| {
            j["creation"]["creating"] == false
        })
        .await;
    assert_eq!(job["rollout"]["wave"], wave, "{job}");
    server
        .tasks(&job_id)
        .await
        .iter()
        .map(|t| t["device_name"].as_str().unwrap().to_owned())
        .collect()
}

/// Every device of `names` takes its push and updates.
async fn update_all(devices: &BTreeMap<String, TestDevice>, names: &BTreeSet<String>) {
    for name in names {
        let device = &devices[name];
        let push = expect_push(device).await;
        device.run_update(&push).await.expect("update");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_wave_starts_only_when_the_one_before_met_its_success_condition() {
    let server = Server::start().await;
    let (pk, devices) = online_fleet(&server, 20).await;
    let pkg = package(&server, &pk, "2.0.0", 2_048).await;
    // Every wave start is told to an endpoint (that never answers: the log keeps it).
    let hook = server
        .api
        .post(
            "/webhooks",
            &json!({"url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef",
                    "events": ["batch.wave_started"]}),
        )
        .await
        .expect("webhook");
    let body = json!({
        "name": "spring",
        "policy": {"maximum_per_minute": 1000, "timeout_minutes": 60},
        "waves": [
            {"name": "canary", "percent": "10", "soak_minutes": 30,
             "success_condition": {"succeeded_percent": 100, "min_finished": 2}},
            {"devices": 6, "approval_required": true,
             "success_condition": {"succeeded_percent": 80}},
            {"percent": "90"}
        ]
    });
    let created = create(&server, &pkg.id, body)
        .await
        .expect("create rollout");
    let id = created["rollout_id"].as_str().unwrap().to_owned();
    assert_eq!(created["eligible_devices"], 20, "{created:#}");
    assert_eq!(created["status"], "RUNNING");
    assert_eq!(phase(&created, 1), "RUNNING", "{created:#}");
    assert_eq!(phase(&created, 2), "PENDING");
    assert_eq!(created["waves"][0]["percent"], "10");
    assert_eq!(created["waves"][1]["devices"], 6);

    // Wave 1: 10 % of 20. Updated, it soaks; wave 2 does not start meanwhile.
    let first = wave_devices(&server, &created, 1).await;
    assert_eq!(first.len(), 2);
    update_all(&devices, &first).await;
    let soaking = wait_rollout(&server, &id, "wave 1 soaking", |r| phase(r, 1) == "SOAKING").await;
    assert_eq!(phase(&soaking, 2), "PENDING", "{soaking:#}");
    let waiting = soaking["waiting"].as_str().unwrap();
    assert!(
        waiting.contains("wave 1 met its success condition; it soaks until"),
        "{waiting}"
    );
    assert_eq!(
        soaking["waves"][0]["soak_ends_at"].as_i64().unwrap(),
        soaking["waves"][0]["succeeded_at"].as_i64().unwrap() + 30 * MINUTE_MS
    );
    server.advance_clock(29 * MINUTE_MS).await;
    server.wait_engine_ticks(2).await;
    assert_eq!(phase(&rollout(&server, &id).await, 1), "SOAKING");

    // The soak ends: wave 2 waits for approval, then starts.
    server.advance_clock(2 * MINUTE_MS).await;
    let awaiting = wait_rollout(&server, &id, "wave 2 awaiting approval", |r| {
        phase(r, 2) == "AWAITING_APPROVAL"
    })
    .await;
    assert_eq!(phase(&awaiting, 1), "SUCCEEDED");
    assert_eq!(awaiting["waiting"], "wave 2 awaits approval");
    assert!(awaiting["waves"][1]["job_id"].is_null());
    let approved = server
        .api
        .post(
            &format!("/rollouts/{id}/approve"),
            &json!({"remark": "canary is fine"}),
        )
        .await
        .expect("approve");
    assert_eq!(
        approved["waves"][1]["approval"]["by"], "admin",
        "{approved:#}"
    );
    assert_eq!(approved["waves"][1]["approval"]["remark"], "canary is fine");
    assert_eq!(phase(&approved, 2), "RUNNING", "{approved:#}");
    let second = wave_devices(&server, &approved, 2).await;
    assert_eq!(second.len(), 6);
    assert!(first.is_disjoint(&second), "wave 2 took a device of wave 1");

    // 5 of 6 updated is above 80 %: wave 3 starts while the sixth is still at it.
    let mut rest = second.iter();
    let straggler = rest.next().unwrap().clone();
    let pushed = expect_push(&devices[&straggler]).await;
    progress(&devices[&straggler], 10).await;
    update_all(&devices, &rest.cloned().collect()).await;
    let third_running =
        wait_rollout(&server, &id, "wave 3 running", |r| phase(r, 3) == "RUNNING").await;
    assert_eq!(phase(&third_running, 2), "SUCCEEDED");
    let third = wave_devices(&server, &third_running, 3).await;
    assert_eq!(
        third.len(),
        12,
        "90 % of 20 is more than is left: the rest of the fleet"
    );
    assert!(third.is_disjoint(&first) && third.is_disjoint(&second));
    devices[&straggler]
        .run_update(&pushed)
        .await
        .expect("update");
    update_all(&devices, &third).await;

    // The last wave's batch completes: the rollout completes.
    let done = wait_rollout(&server, &id, "completed", |r| r["status"] == "COMPLETED").await;
    assert_eq!(phase(&done, 3), "SUCCEEDED", "{done:#}");
    assert!(done["waiting"].is_null());
    assert_eq!(done["waves"][2]["counts"]["succeeded"], 12);
    let listed = server
        .api
        .get(&format!("/firmwares/{}/rollouts", pkg.id))
        .await
        .expect("list");
    assert_eq!(listed["items"][0]["rollout_id"], id.as_str());
    let deliveries = server
        .api
        .get(&format!(
            "/webhooks/{}/deliveries",
            hook["webhook_id"].as_str().unwrap()
        ))
        .await
        .expect("deliveries");
    let started: BTreeSet<&str> = deliveries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event_type"] == "batch.wave_started")
        .filter_map(|d| d["job_id"].as_str())
        .collect();
    assert_eq!(
        started.len(),
        3,
        "one wave_started per wave: {deliveries:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_that_breaks_its_error_condition_stops_the_rollout() {
    let server = Server::start().await;
    let (pk, devices) = online_fleet(&server, 8).await;
    let pkg = package(&server, &pk, "2.0.0", 2_048).await;
    let bad = create(
        &server,
        &pkg.id,
        json!({"waves": [{"percent": "50"}, {"percent": "60"}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(fixtures::failure(&bad).1["field"], "Waves", "{bad:#}");
    let bad = create(
        &server,
        &pkg.id,
        json!({"waves": [{"percent": "50", "error_conditions": [{"max_failed": 1, "max_failed_percent": 5}]}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        fixtures::failure(&bad).1["field"],
        "Waves.1.ErrorConditions.1"
    );

    // Wave 1 pauses at its first download failure and cancels at its second.
    let body = json!({
        "policy": {"maximum_per_minute": 1000},
        "waves": [
            {"percent": "50", "error_conditions": [
                {"causes": ["DOWNLOAD_FAILED"], "max_failed": 0, "action": "PAUSE"},
                {"causes": ["UPGRADE_FAILED"], "max_failed": 0, "action": "CANCEL"}]},
            {"percent": "50"}
        ]
    });
    let created = create(&server, &pkg.id, body).await.expect("create");
    let id = created["rollout_id"].as_str().unwrap().to_owned();
    let first: Vec<String> = wave_devices(&server, &created, 1)
        .await
        .into_iter()
        .collect();
    assert_eq!(first.len(), 4);
    for name in &first {
        expect_push(&devices[name]).await;
    }
    progress(&devices[&first[0]], -2).await;
    let paused = wait_rollout(&server, &id, "paused by an error condition", |r| {
        r["pause_reason"] == "ERROR_CONDITION"
    })
    .await;
    assert_eq!(paused["status"], "PAUSED");
    let note = paused["waves"][0]["note"].as_str().unwrap();
    assert!(
        note.contains("DOWNLOAD_FAILED failures above more than 0 devices"),
        "{note}"
    );
    let batch = paused["waves"][0]["job_id"].as_str().unwrap().to_owned();
    let job = server.job(&batch).await;
    assert_eq!(job["pause"]["reason"], "FAILURE_GATE", "{job}");

    // Resumed, the first condition forgives the failure it saw; an update failure breaks
    // the second condition: the rollout is cancelled.
    let resumed = command(&server, &id, "resume").await;
    assert_eq!(resumed["status"], "RUNNING", "{resumed:#}");
    assert_eq!(server.job(&batch).await["paused"], false);
    progress(&devices[&first[1]], -1).await;
    let cancelled = wait_rollout(&server, &id, "cancelled", |r| r["status"] == "CANCELED").await;
    assert_eq!(phase(&cancelled, 1), "FAILED", "{cancelled:#}");
    assert_eq!(phase(&cancelled, 2), "CANCELED");
    assert!(
        cancelled["waves"][1]["job_id"].is_null(),
        "wave 2 never started"
    );
    assert!(
        cancelled["waves"][0]["note"]
            .as_str()
            .unwrap()
            .contains("action CANCEL")
    );
    let job = server.job(&batch).await;
    assert_eq!(job["status"], "CANCELED", "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_deny_pause_and_start_the_next_wave_by_hand() {
    let server = Server::start().await;
    let (pk, devices) = online_fleet(&server, 6).await;
    let pkg = package(&server, &pk, "2.0.0", 2_048).await;

    // Approval of the whole rollout, denied: no batch is ever created.
    let gated = create(
        &server,
        &pkg.id,
        json!({"policy": {"approval_required": true}, "waves": [{"percent": "100"}]}),
    )
    .await
    .expect("create");
    let gated_id = gated["rollout_id"].as_str().unwrap().to_owned();
    assert_eq!(phase(&gated, 1), "AWAITING_APPROVAL", "{gated:#}");
    let denied = server
        .api
        .post(
            &format!("/rollouts/{gated_id}/deny"),
            &json!({"remark": "not this week"}),
        )
        .await
        .expect("deny");
    assert_eq!(denied["status"], "CANCELED", "{denied:#}");
    assert_eq!(denied["waves"][0]["approval"]["approved"], false);
    assert!(denied["waves"][0]["job_id"].is_null());
    let again = server
        .api
        .post(&format!("/rollouts/{gated_id}/approve"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        fixtures::failure(&again).1["code"],
        "InvalidState",
        "{again:#}"
    );

    // Paused, the wave's batch pauses too; the next wave starts by hand only once resumed.
    let created = create(
        &server,
        &pkg.id,
        json!({"waves": [{"devices": 2}, {"devices": 2}, {"percent": "100"}]}),
    )
    .await
    .expect("create");
    let id = created["rollout_id"].as_str().unwrap().to_owned();
    let first = wave_devices(&server, &created, 1).await;
    let paused = command(&server, &id, "pause").await;
    assert_eq!(paused["pause_reason"], "OPERATOR", "{paused:#}");
    let batch = paused["waves"][0]["job_id"].as_str().unwrap().to_owned();
    assert_eq!(server.job(&batch).await["pause"]["reason"], "OPERATOR");
    let refused = server
        .api
        .post(&format!("/rollouts/{id}/next-wave"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&refused).1["code"], "InvalidState");
    command(&server, &id, "resume").await;
    let moved = command(&server, &id, "next-wave").await;
    assert_eq!(phase(&moved, 1), "PASSED", "{moved:#}");
    assert_eq!(phase(&moved, 2), "RUNNING");
    let second = wave_devices(&server, &moved, 2).await;
    assert!(first.is_disjoint(&second));
    // Wave 1's batch goes on by itself: its devices still update.
    update_all(&devices, &first).await;
    server
        .wait_job(&batch, "completed", |j| j["status"] == "COMPLETED")
        .await;

    // Cancelled by the operator: wave 2's devices not yet started are cancelled.
    let cancelled = command(&server, &id, "cancel").await;
    assert_eq!(cancelled["status"], "CANCELED", "{cancelled:#}");
    assert_eq!(phase(&cancelled, 3), "CANCELED");
    let wave2 = cancelled["waves"][1]["job_id"].as_str().unwrap().to_owned();
    server
        .wait_job(&wave2, "cancelled", |j| j["status"] == "CANCELED")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_and_steers_a_rollout() {
    let server = Server::start().await;
    let (pk, _devices) = online_fleet(&server, 4).await;
    let pkg = package(&server, &pk, "2.0.0", 2_048).await;
    let ota = |args: &[&str]| crate::cli::ota(&server, args);
    let (ok, _, err) = ota(&["rollout", "create", &pkg.id, "--wave", "colour=red"]);
    assert!(
        !ok && err.contains("--wave 1") && err.contains("unknown setting \"colour\""),
        "{err}"
    );
    let (ok, _, err) = ota(&["rollout", "create", &pkg.id, "--wave", "percent=101"]);
    assert!(!ok && err.contains("Waves.1.Percent"), "{err}");
    let (ok, out, err) = ota(&[
        "rollout",
        "create",
        &pkg.id,
        "--name",
        "cli",
        "--rate",
        "500",
        "--approval",
        "--wave",
        "percent=50,success=100/1,max-failed=0,action=CANCEL",
        "--wave",
        "percent=50",
    ]);
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).expect("JSON");
    let id = created["rollout_id"].as_str().unwrap().to_owned();
    assert_eq!(phase(&created, 1), "AWAITING_APPROVAL", "{created:#}");
    assert_eq!(created["policy"]["maximum_per_minute"], 500);
    assert_eq!(
        created["waves"][0]["error_conditions"][0]["action"],
        "CANCEL"
    );
    let (ok, out, err) = ota(&["rollout", "approve", &id, "--remark", "go"]);
    assert!(ok, "{err}");
    let approved: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(phase(&approved, 1), "RUNNING", "{approved:#}");
    let (ok, out, _) = ota(&["rollout", "list", &pkg.id]);
    assert!(ok && out.contains(&id), "{out}");
    let (ok, out, err) = ota(&["rollout", "cancel", &id]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "CANCELED"
    );
    let (ok, out, _) = ota(&["rollout", "get", &id]);
    assert!(ok && out.contains("\"CANCELED\""), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_outlives_a_crash_of_the_server() {
    let mut server = Server::start().await;
    let (pk, devices) = online_fleet(&server, 4).await;
    let pkg = package(&server, &pk, "2.0.0", 2_048).await;
    let created = create(
        &server,
        &pkg.id,
        json!({"waves": [{"devices": 1, "soak_minutes": 30}, {"percent": "100"}]}),
    )
    .await
    .expect("create");
    let id = created["rollout_id"].as_str().unwrap().to_owned();
    let first = wave_devices(&server, &created, 1).await;
    update_all(&devices, &first).await;
    let soaking = wait_rollout(&server, &id, "soaking", |r| phase(r, 1) == "SOAKING").await;
    let soak_ends = soaking["waves"][0]["soak_ends_at"].as_i64().unwrap();

    // Killed (no graceful shutdown) and started again: the soak is read back from the
    // store, it neither restarts nor ends early.
    server.restart().await;
    let after = rollout(&server, &id).await;
    assert_eq!(phase(&after, 1), "SOAKING", "{after:#}");
    assert_eq!(after["waves"][0]["soak_ends_at"], soak_ends);
    let now = server.now().await;
    server.advance_clock(soak_ends - now - MINUTE_MS).await;
    server.wait_engine_ticks(2).await;
    assert_eq!(phase(&rollout(&server, &id).await, 1), "SOAKING");
    server.advance_clock(2 * MINUTE_MS).await;
    let moved = wait_rollout(&server, &id, "wave 2 running", |r| phase(r, 2) == "RUNNING").await;
    let second = wave_devices(&server, &moved, 2).await;
    assert_eq!(second.len(), 3);
    assert!(second.is_disjoint(&first));
}
