//! Disabled devices (issue "Device identity", item 2): a disabled device is refused at
//! CONNECT with "not authorized" (MQTT 3.1.1 code 5, as Alibaba Cloud answers) and its live
//! connection is closed at once, also when another node of the platform holds it; its
//! unfinished tasks wait until it is enabled again, or are cancelled when the operator
//! asks; the device's view shows it.

use crate::fixtures::{self, expect_push, fleet, job, online, package};
use crate::harness::Server;
use ota_device_sdk::DeviceConfig;
use ota_device_sdk::sim::DeviceCredentials;
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

/// A plain MQTT connection as the device, to `mqtt`; its event loop, polled by the caller.
fn raw_connection(mqtt: SocketAddr, creds: &DeviceCredentials) -> (AsyncClient, EventLoop) {
    let config = DeviceConfig::new(
        &creds.product_key,
        &creds.device_name,
        &creds.device_secret,
        "127.0.0.1",
        mqtt.port(),
    );
    let c = config.credentials(1_700_000_000_000);
    let mut opts = MqttOptions::new(c.client_id, "127.0.0.1", mqtt.port());
    opts.set_credentials(c.username, c.password)
        .set_keep_alive(Duration::from_secs(60));
    AsyncClient::new(opts, 16)
}

/// Connects as the device and returns the event loop once the CONNACK accepted it.
async fn connected(mqtt: SocketAddr, creds: &DeviceCredentials) -> (AsyncClient, EventLoop) {
    let (client, mut el) = raw_connection(mqtt, creds);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), el.poll())
            .await
            .expect("CONNACK within 10 s")
        {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return (client, el),
            Ok(_) => {}
            Err(e) => panic!("{}: refused: {e}", creds.device_name),
        }
    }
}

/// Polls until the server closes the connection; returns how it ended.
async fn closed(el: &mut EventLoop) -> ConnectionError {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), el.poll())
            .await
            .expect("the connection was not closed within 10 s")
        {
            Ok(_) => {}
            Err(e) => return e,
        }
    }
}

/// The CONNACK refusal a new connection of the device gets.
async fn refusal(mqtt: SocketAddr, creds: &DeviceCredentials) -> ConnectionError {
    let (_client, mut el) = raw_connection(mqtt, creds);
    match tokio::time::timeout(Duration::from_secs(10), el.poll())
        .await
        .expect("an answer within 10 s")
    {
        Ok(event) => panic!("{}: accepted ({event:?})", creds.device_name),
        Err(e) => e,
    }
}

fn not_authorized(e: &ConnectionError) -> bool {
    matches!(
        e,
        ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)
    )
}

async fn device_view(server: &Server, pk: &str, dn: &str) -> Value {
    server
        .api
        .get(&format!("/products/{pk}/devices/{dn}"))
        .await
        .expect("device")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_device_is_kicked_refused_and_its_tasks_wait() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let (pk, creds) = (&fleet.pk, &fleet.devices[0]);
    let dn = &creds.device_name;
    let base = format!("/products/{pk}/devices/{dn}");

    // Online, then disabled: closed at once, and refused as "not authorized" after.
    let (_client, mut el) = connected(server.mqtt, creds).await;
    let answer = server
        .api
        .post(&format!("{base}/disable"), &json!({}))
        .await
        .expect("disable");
    assert_eq!(answer["device"]["disabled"], true, "{answer}");
    assert_eq!(answer["cancelled_tasks"], json!([]));
    let ended = closed(&mut el).await;
    assert!(
        !not_authorized(&ended),
        "the live connection was closed: {ended}"
    );
    let refused = refusal(server.mqtt, creds).await;
    assert!(not_authorized(&refused), "{refused}");
    // A repeated disable is fine; the view says disabled.
    server
        .api
        .post(&format!("{base}/disable"), &json!({}))
        .await
        .expect("disable again");
    assert_eq!(device_view(&server, pk, dn).await["disabled"], true);

    // A batch meanwhile: the task waits for the device.
    let pkg = package(&server, pk, "2.0.0", 4096).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "SPECIFIC", "device_names": [dn]}),
        )
        .await,
    );
    server.wait_engine_ticks(2).await;
    assert_eq!(server.task(&id, dn).await["status"], "QUEUED");

    // Enabled: it connects and is pushed the waiting task.
    let enabled = server
        .api
        .post(&format!("{base}/enable"), &json!({}))
        .await
        .expect("enable");
    assert_eq!(enabled["disabled"], false, "{enabled}");
    let device = online(&server, creds, "1.0.0").await;
    assert_eq!(expect_push(&device).await.data.version, "2.0.0");
    server.wait_status(&id, dn, "NOTIFIED").await;

    // Disabled again, cancelling its unfinished tasks this time.
    let answer = server
        .api
        .post(&format!("{base}/disable"), &json!({"cancel_tasks": true}))
        .await
        .expect("disable and cancel");
    let cancelled = answer["cancelled_tasks"].as_array().expect("a list");
    assert_eq!(cancelled.len(), 1, "{answer}");
    assert_eq!(cancelled[0]["status"], "CANCELED");
    server.wait_status(&id, dn, "CANCELED").await;

    // Bad input names the field.
    let err = server
        .api
        .post(&format!("{base}/disable"), &json!({"cancel": true}))
        .await
        .expect_err("an unknown field");
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    let err = server
        .api
        .post(
            &format!("/products/{pk}/devices/nobody/disable"),
            &json!({}),
        )
        .await
        .expect_err("an unknown device");
    assert_eq!(fixtures::failure(&err).0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_disabled_through_one_node_is_kicked_from_another() {
    // Both nodes put one shared address in download URLs, as behind a load balancer.
    let shared = [("OTA_PUBLIC_URL", "http://ota.example")];
    let Some(a) = Server::start_postgres_with_env(&shared).await else {
        return;
    };
    let b = a.sibling().await;
    let fleet = fleet(&a, 1).await;
    let creds = &fleet.devices[0];
    let (_client, mut el) = connected(b.mqtt, creds).await;
    a.api
        .post(
            &format!(
                "/products/{}/devices/{}/disable",
                fleet.pk, creds.device_name
            ),
            &json!({}),
        )
        .await
        .expect("disable through node A");
    let ended = closed(&mut el).await;
    assert!(!not_authorized(&ended), "{ended}");
    for node in [&a, &b] {
        let refused = refusal(node.mqtt, creds).await;
        assert!(not_authorized(&refused), "{refused}");
    }
}
