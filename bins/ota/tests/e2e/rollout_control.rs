//! Rollout control (issue "Rollout control and integrations", items 3 and 4): maintenance
//! windows hold devices QUEUED until a window opens and never interrupt an update in
//! flight; an exponential ramp raises the measured push rate as devices are notified.
//! Both run on the server's adjustable clock, so hours pass in milliseconds.

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package, progress};
use crate::harness::{MINUTE_MS, Server, count};
use serde_json::json;

/// A five-field cron expression (UTC) firing at the minute that holds `at` (epoch ms).
fn cron_at(at: i64) -> String {
    let minutes = at / MINUTE_MS;
    format!("{} {} * * *", minutes % 60, (minutes / 60) % 24)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_wait_for_a_window_and_an_update_in_flight_outlives_it() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let mut devs = Vec::new();
    for creds in &fleet.devices {
        devs.push(online(&server, creds, "1.0.0").await);
    }
    let now = server.now().await;
    let opens = (now / MINUTE_MS + 121) * MINUTE_MS;
    let windows = json!([{"cron": cron_at(opens), "duration_minutes": 30, "time_zone": "UTC"}]);

    let bad = fixtures::try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL",
               "maintenance_windows": [{"cron": "0 2 * *", "duration_minutes": 30}]}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        fixtures::failure(&bad).1["field"],
        "MaintenanceWindows.1.Cron"
    );

    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "maintenance_windows": windows}),
        )
        .await,
    );
    let j = server.job(&id).await;
    assert_eq!(j["maintenance_windows"], windows);
    assert_eq!(j["window"]["open"], false, "{j}");
    assert_eq!(j["window"]["next_opens_at"], opens, "{j}");
    assert!(
        j["waiting"]
            .as_str()
            .unwrap()
            .starts_with("waiting for a maintenance window; the next opens at "),
        "{j}"
    );
    assert_eq!(count(&j, "QUEUED"), 3, "{j}");
    expect_no_push(&server, &devs[0]).await;

    // The window opens: every device is pushed.
    server.advance_clock(opens - now + 1_000).await;
    let pushes = [
        expect_push(&devs[0]).await,
        expect_push(&devs[1]).await,
        expect_push(&devs[2]).await,
    ];
    let j = server.job(&id).await;
    assert_eq!(j["window"]["open"], true, "{j}");
    assert_eq!(j["window"]["closes_at"], opens + 30 * MINUTE_MS, "{j}");
    assert!(j["waiting"].is_null());
    devs[0].run_update(&pushes[0]).await.expect("update");
    progress(&devs[1], 10).await;
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
    server.wait_status(&id, fleet.name(1), "IN_PROGRESS").await;

    // The window closes: the update in flight goes on to the end.
    server.advance_clock(31 * MINUTE_MS).await;
    assert_eq!(server.job(&id).await["window"]["open"], false);
    devs[1]
        .run_update(&pushes[1])
        .await
        .expect("update after the window");
    server.wait_status(&id, fleet.name(1), "SUCCEEDED").await;
    let _ = &pushes[2];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exponential_ramp_raises_the_measured_push_rate() {
    let server = Server::start().await;
    let fleet = fleet(&server, 40).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 1024).await;
    let mut devs = Vec::new();
    for creds in &fleet.devices {
        devs.push(online(&server, creds, "1.0.0").await);
    }
    let ramp = json!({"base_rate_per_minute": 10, "increment_factor": 2.0,
                      "increase_criteria": {"notified_devices": 10}});
    let bad = fixtures::try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL",
               "exponential_rate": {"base_rate_per_minute": 10, "increment_factor": 9,
                                    "increase_criteria": {"notified_devices": 10}}}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        fixtures::failure(&bad).1["field"],
        "ExponentialRate.IncrementFactor"
    );
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "maximum_per_minute": 100,
                   "exponential_rate": ramp}),
        )
        .await,
    );
    assert_eq!(server.job(&id).await["exponential_rate"], ramp);

    // Simulated time in steps of 3 s; when the 10th, 20th and 30th device were notified.
    let notified = |j: &serde_json::Value| {
        ["NOTIFIED", "IN_PROGRESS", "SUCCEEDED", "FAILED"]
            .iter()
            .map(|s| count(j, s))
            .sum::<i64>()
    };
    let mut crossed = Vec::new();
    let mut rates = Vec::new();
    let mut elapsed = 0;
    while crossed.len() < 3 {
        assert!(elapsed < 5 * MINUTE_MS, "the ramp stalled: {crossed:?}");
        server.advance_clock(3_000).await;
        elapsed += 3_000;
        server.wait_engine_ticks(2).await;
        let j = server.job(&id).await;
        if notified(&j) >= 10 * (crossed.len() as i64 + 1) {
            crossed.push(elapsed);
            rates.push(j["rate_per_minute_now"].as_i64().unwrap());
        }
    }
    // Ten devices take about 54 s at 10 a minute (the first is pushed at once), the next
    // ten 30 s at 20, the next ten 15 s at 40: each ten in half the time of the ten before.
    let took = [crossed[0], crossed[1] - crossed[0], crossed[2] - crossed[1]];
    assert!((45_000..=63_000).contains(&took[0]), "{took:?}");
    assert!((24_000..=36_000).contains(&took[1]), "{took:?}");
    assert!((9_000..=21_000).contains(&took[2]), "{took:?}");
    assert_eq!(rates, [20, 40, 80], "{took:?}");
    drop(devs);
}

/// A user with `policies` and an access key; a client signing as them.
async fn user(server: &Server, name: &str, policies: &[&str]) -> ota::client::ApiClient {
    server
        .api
        .post("/users", &json!({"user_name": name, "policies": policies}))
        .await
        .expect("create user");
    let key = server
        .api
        .post(&format!("/users/{name}/access-keys"), &json!({}))
        .await
        .expect("create key");
    ota::client::ApiClient::new(
        &format!("http://{}", server.http),
        key["access_key_id"].as_str().unwrap(),
        key["access_key_secret"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_requiring_approval_waits_for_someone_allowed_to_decide() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 2 * 1024).await;
    let devs = [
        online(&server, &fleet.devices[0], "1.0.0").await,
        online(&server, &fleet.devices[1], "1.0.0").await,
    ];
    server
        .api
        .post(
            "/policies",
            &json!({"policy_name": "approver", "document": {"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": ["iot:ApproveOTAJob", "iot:DenyOTAJob", "iot:Query*"],
                 "Resource": "*"}]}}),
        )
        .await
        .unwrap();
    let operator = user(&server, "operator", &["OTARolloutOperator"]).await;
    let lead = user(&server, "lead", &["approver"]).await;

    let created = operator
        .post(
            &format!("/firmwares/{}/jobs", pkg.id),
            &json!({"target_selection": "SPECIFIC", "device_names": fleet.names(0..1),
                    "approval_required": true}),
        )
        .await
        .expect("the operator creates the batch");
    let id = fixtures::id(&created);
    let j = server.job(&id).await;
    assert_eq!(j["approval_required"], true);
    assert_eq!(j["pause"]["reason"], "AWAITING_APPROVAL", "{j}");
    expect_no_push(&server, &devs[0]).await;

    // Resuming is not approving, and the operator may not approve.
    let resumed = operator
        .post(&format!("/jobs/{id}/resume"), &json!({}))
        .await
        .unwrap_err();
    let (status, body) = fixtures::failure(&resumed);
    assert!((400..500).contains(&status), "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("approv"),
        "{body}"
    );
    let refused = operator
        .post(&format!("/jobs/{id}/approve"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&refused).1["code"], "Forbidden.RAM");

    lead.post(
        &format!("/jobs/{id}/approve"),
        &json!({"remark": "canary looked good"}),
    )
    .await
    .expect("the lead approves");
    let push = expect_push(&devs[0]).await;
    devs[0].run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
    let j = server.job(&id).await;
    assert_eq!(
        (
            j["approval"]["approved"].clone(),
            j["approval"]["by"].clone(),
            j["approval"]["remark"].clone()
        ),
        (json!(true), json!("lead"), json!("canary looked good"))
    );
    let again = lead
        .post(&format!("/jobs/{id}/deny"), &json!({}))
        .await
        .unwrap_err();
    assert!((400..500).contains(&fixtures::failure(&again).0));

    // A denied batch is cancelled with its tasks and never pushes.
    let denied = fixtures::id(
        &operator
            .post(
                &format!("/firmwares/{}/jobs", pkg.id),
                &json!({"target_selection": "SPECIFIC", "device_names": fleet.names(1..2),
                        "approval_required": true}),
            )
            .await
            .unwrap(),
    );
    lead.post(
        &format!("/jobs/{denied}/deny"),
        &json!({"remark": "not tonight"}),
    )
    .await
    .unwrap();
    let j = server.job(&denied).await;
    assert_eq!(j["status"], "CANCELED", "{j}");
    assert_eq!(j["approval"]["approved"], false);
    assert_eq!(count(&j, "CANCELED"), 1, "{j}");
    expect_no_push(&server, &devs[1]).await;

    let decisions = server
        .api
        .get("/audit-events?user_name=lead")
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = decisions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event_name"].as_str().unwrap(),
                e["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("DenyOTAJob", "Success"),
            ("DenyOTAJob", "InvalidState"),
            ("ApproveOTAJob", "Success")
        ]
    );
}
