//! Nothing a device says is lost to a crash or a broken connection: a report is
//! acknowledged only once stored, a device states its version again after reconnecting,
//! and a device that reconnects is sent its unfinished task's push again (NOTIFIED or
//! IN_PROGRESS), so a device that finished while the server was away ends SUCCEEDED.

use crate::fixtures::{
    self, expect_push, fleet, job, lock_store, online, package, progress, unlock_store,
};
use crate::harness::{DEADLINE, MINUTE_MS, Server, broker_env};
use ota_protocol::TopicKind;
use rumqttc::{Event, Packet, QoS};
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

/// Waits until a report group has met the locked store (the report is in the server and
/// not stored).
async fn wait_report_held(server: &Server) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while server.counter("ota_device_report_retries_total ").await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the report never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A plain MQTT client signed in as the device, with every packet it receives.
async fn raw_device(
    server: &Server,
    creds: &ota_device_sdk::sim::DeviceCredentials,
) -> (rumqttc::AsyncClient, mpsc::UnboundedReceiver<Packet>) {
    let mqtt = fixtures::config(server, creds).credentials(1_700_000_000_000);
    let mut opts = rumqttc::MqttOptions::new(mqtt.client_id, "127.0.0.1", server.mqtt.port());
    opts.set_credentials(mqtt.username, mqtt.password);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let Event::Incoming(packet) = event
                && tx.send(packet).is_err()
            {
                return;
            }
        }
    });
    (client, rx)
}

async fn next_packet(rx: &mut mpsc::UnboundedReceiver<Packet>) -> Packet {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("no packet in time")
        .expect("connection closed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_acknowledged_only_once_stored() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let (pk, name) = (&fleet.pk, fleet.name(0));
    let (client, mut rx) = raw_device(&server, &fleet.devices[0]).await;
    assert!(matches!(next_packet(&mut rx).await, Packet::ConnAck(_)));
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);

    let lock = lock_store(&server).await;
    let inform = r#"{"id":"1","params":{"version":"2.0.0"}}"#;
    client
        .publish(
            TopicKind::Inform.topic(pk, name),
            QoS::AtLeastOnce,
            false,
            inform,
        )
        .await
        .unwrap();
    wait_report_held(&server).await;
    // The broker answers a connection's packets in order: a report acknowledged when read
    // would have its PUBACK ahead of this SUBACK.
    client
        .subscribe(TopicKind::Upgrade.topic(pk, name), QoS::AtLeastOnce)
        .await
        .unwrap();
    loop {
        match next_packet(&mut rx).await {
            Packet::SubAck(_) => break,
            Packet::PubAck(_) => panic!("the report was acknowledged before it was stored"),
            _ => {}
        }
    }
    unlock_store(lock).await;
    loop {
        if let Packet::PubAck(ack) = next_packet(&mut rx).await {
            assert_eq!(ack.pkid, 1);
            break;
        }
    }
    server.wait_status(&id, name, "SUCCEEDED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_report_the_server_died_holding_is_stated_again() {
    let mut server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let name = fleet.name(0);
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    expect_push(&dev).await;
    progress(&dev, 100).await;
    server
        .wait_task(&id, name, "downloaded", |t| t["progress"] == 100)
        .await;

    // The device installs and says so while the store is locked; the server dies with the
    // report in hand, unstored and unacknowledged.
    let lock = lock_store(&server).await;
    dev.report_version(None, "2.0.0").await.unwrap();
    wait_report_held(&server).await;
    server.kill().await;
    unlock_store(lock).await;
    server.start_again().await;

    let task = server.wait_status(&id, name, "SUCCEEDED").await;
    assert_eq!(task["progress"], 100, "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_device_is_pushed_its_unfinished_task_again() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    // One device is told and has started (IN_PROGRESS), the other only told (NOTIFIED).
    for (i, started) in [(0, true), (1, false)] {
        let name = fleet.name(i);
        let dev = online(&server, &fleet.devices[i], "1.0.0").await;

        expect_push(&dev).await;
        if started {
            progress(&dev, 30).await;
            server.wait_status(&id, name, "IN_PROGRESS").await;
        } else {
            server.wait_status(&id, name, "NOTIFIED").await;
        }
        dev.close().await;
        let again = online(&server, &fleet.devices[i], "1.0.0").await;
        let push = expect_push(&again).await;
        assert_eq!(push.data.version, "2.0.0", "{name}");
        // The task did not move backwards.
        let want = if started { "IN_PROGRESS" } else { "NOTIFIED" };
        assert_eq!(server.task(&id, name).await["status"], want, "{name}");
        // A device that already runs the version answers the push with it.
        let outcome = again.run_update(&push).await.expect("update");
        assert_eq!(outcome.version, "2.0.0");
        server.wait_status(&id, name, "SUCCEEDED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_external_broker_a_connect_through_auth_brings_the_push_again() {
    let server = Server::start_with_env(
        &broker_env()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let name = fleet.name(0);
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    expect_push(&dev).await;
    progress(&dev, 30).await;
    server.wait_status(&id, name, "IN_PROGRESS").await;

    // The broker asks the platform about the device's CONNECT: the device reconnected.
    let creds = fixtures::config(&server, &fleet.devices[0]).credentials(1_700_000_000_000);
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/mqtt/auth", server.http))
        .json(
            &json!({"clientid": creds.client_id, "username": creds.username,
                      "password": creds.password}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["result"], "allow");
    let push = expect_push(&dev).await;
    assert_eq!(push.data.version, "2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_code_outside_the_spec_fails_the_task_at_once() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let name = fleet.name(0);
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    expect_push(&dev).await;
    dev.report_progress(None, -5, "flash locked").await.unwrap();
    let task = server.wait_status(&id, name, "FAILED").await;
    assert_eq!(task["failure"], "UPGRADE_FAILED", "{task}");
    assert_eq!(task["desc"], "step -5: flash locked", "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_told_device_that_stays_silent_is_pushed_again_less_and_less_often() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let name = fleet.name(0);
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    // The push arrives but is as good as lost: the device says nothing.
    expect_push(&dev).await;
    server.wait_status(&id, name, "NOTIFIED").await;
    fixtures::expect_no_push(&server, &dev).await;
    // Five minutes of silence: pushed again (at about 5 min), then after as long as it has
    // been silent (about 10 min), then after about 20: the wait doubles.
    server.advance_clock(5 * MINUTE_MS).await;
    assert_eq!(expect_push(&dev).await.data.version, "2.0.0");
    server.advance_clock(4 * MINUTE_MS).await;
    fixtures::expect_no_push(&server, &dev).await;
    server.advance_clock(2 * MINUTE_MS).await;
    expect_push(&dev).await;
    server.advance_clock(8 * MINUTE_MS).await;
    fixtures::expect_no_push(&server, &dev).await;
    server.advance_clock(4 * MINUTE_MS).await;
    expect_push(&dev).await;
    // The task did not move: a nudge is only a push.
    assert_eq!(server.task(&id, name).await["status"], "NOTIFIED");
    // Once the device answers, the nudges stop.
    progress(&dev, 10).await;
    server.wait_status(&id, name, "IN_PROGRESS").await;
    server.advance_clock(4 * MINUTE_MS).await;
    fixtures::expect_no_push(&server, &dev).await;
}
