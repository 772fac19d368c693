//! Scenario 12: devices are isolated from each other. A device may subscribe with wildcards
//! (the C Link SDK 4.x subscribes `/ota/device/upgrade/+/+`, spec "Compatibility facts")
//! but is only ever delivered its own topics; it cannot report for another device, nor
//! read another device's MQTT download stream; a wrong secret is refused at CONNECT.

use crate::fixtures::{self, expect_push, fleet, job, online, package};
use crate::harness::Server;
use ota_device_sdk::DeviceConfig;
use ota_device_sdk::sim::DeviceCredentials;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;

/// A plain MQTT client logged in as a device: it can subscribe and publish anything.
async fn raw_device(
    server: &Server,
    creds: &DeviceCredentials,
    filters: &[&str],
) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let config = DeviceConfig::new(
        &creds.product_key,
        &creds.device_name,
        &creds.device_secret,
        "127.0.0.1",
        server.mqtt.port(),
    );
    let c = config.credentials(1_700_000_000_000);
    let mut opts = MqttOptions::new(c.client_id, "127.0.0.1", server.mqtt.port());
    opts.set_credentials(c.username, c.password)
        .set_keep_alive(Duration::from_secs(60));
    let (client, mut el) = AsyncClient::new(opts, 16);
    let (tx, rx) = mpsc::unbounded_channel();
    let (acked_tx, mut acked) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let _ = acked_tx.send(ack.return_codes);
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    for f in filters {
        client.subscribe(*f, QoS::AtLeastOnce).await.unwrap();
        let codes = tokio::time::timeout(Duration::from_secs(5), acked.recv())
            .await
            .expect("SUBACK")
            .unwrap();
        assert!(
            codes
                .iter()
                .all(|c| matches!(c, rumqttc::SubscribeReasonCode::Success(_))),
            "{f}: {codes:?}"
        );
    }
    (client, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_never_see_or_act_for_each_other() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let (a, b) = (&fleet.devices[0], &fleet.devices[1]);
    let (pk, an) = (&fleet.pk, &a.device_name);
    let pkg = package(&server, pk, "2.0.0", 12 * 1024).await;
    let (spy, mut seen) = raw_device(&server, b, &["/ota/device/upgrade/+/+", "#"]).await;

    let dev_a = online(&server, a, "1.0.0").await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "SPECIFIC", "device_names": [an],
                   "download_protocol": "MQTT"}),
        )
        .await,
    );
    let push = expect_push(&dev_a).await;
    let stream = push.data.stream_id.expect("MQTT stream");
    server.wait_status(&id, an, "NOTIFIED").await;

    // B reports failure and success for A, and asks for A's blocks both ways.
    let publish = |topic: String, body: serde_json::Value| {
        let spy = spy.clone();
        async move {
            spy.publish(topic, QoS::AtLeastOnce, false, body.to_string())
                .await
                .unwrap();
        }
    };
    let block_req = json!({"id": "7", "version": "1.0", "params": {"fileToken": "default",
        "fileInfo": {"streamId": stream, "fileId": 1}, "fileBlock": {"size": 5120, "offset": 0}}});
    publish(
        format!("/ota/device/progress/{pk}/{an}"),
        json!({"id": "1", "params": {"step": "-1", "desc": "spoof"}}),
    )
    .await;
    publish(
        format!("/ota/device/inform/{pk}/{an}"),
        json!({"id": "2", "params": {"version": "2.0.0"}}),
    )
    .await;
    publish(
        format!("/sys/{pk}/{an}/thing/file/download"),
        block_req.clone(),
    )
    .await;
    let bn = &b.device_name;
    publish(format!("/sys/{pk}/{bn}/thing/file/download"), block_req).await;
    // B's connection is read in order: once a later report of B's is stored, every spoof
    // before it has been read (and refused).
    let marker = fixtures::unique("m");
    publish(
        format!("/ota/device/inform/{pk}/{bn}"),
        json!({"id": "8", "params": {"version": marker, "module": BARRIER}}),
    )
    .await;
    wait_version(&server, pk, bn, &marker).await;

    let t = server.task(&id, an).await;
    assert_eq!(
        (t["status"].as_str(), t["progress"].as_i64()),
        (Some("NOTIFIED"), Some(0)),
        "A unaffected: {t}"
    );
    let detail = server
        .api
        .get(&format!("/products/{pk}/devices/{an}"))
        .await
        .unwrap();
    assert_eq!(detail["versions"][0]["version"], "1.0.0", "{detail}");

    // A downloads its own blocks and finishes; B still sees nothing of A.
    dev_a.run_update(&push).await.expect("A updates over MQTT");
    server.wait_status(&id, an, "SUCCEEDED").await;
    // B pulls: the reply travels behind everything queued for B before it.
    publish(
        format!("/sys/{pk}/{bn}/thing/ota/firmware/get"),
        json!({"id": "9", "params": {"module": BARRIER}}),
    )
    .await;
    let mut received = Vec::new();
    loop {
        let (topic, payload) = tokio::time::timeout(Duration::from_secs(10), seen.recv())
            .await
            .expect("B's pull answered")
            .expect("B connected");
        if topic.ends_with("/thing/ota/firmware/get_reply") && topic.contains(bn.as_str()) {
            break;
        }
        received.push((topic, payload));
    }
    let mut own_replies = 0;
    for (topic, payload) in received {
        assert!(
            !topic.contains(an.as_str()),
            "B received A's message on {topic}"
        );
        assert!(
            topic.contains(bn.as_str()),
            "B received a foreign topic {topic}"
        );
        if topic.ends_with("/thing/file/download_reply") {
            own_replies += 1;
            let header_len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
            let header: serde_json::Value =
                serde_json::from_slice(&payload[2..2 + header_len]).unwrap();
            assert_ne!(header["code"], 200, "B was served A's block: {header}");
            assert_eq!(
                payload.len(),
                2 + header_len + 2,
                "no block bytes: {header}"
            );
        }
    }
    assert_eq!(own_replies, 1, "B's own request is answered with an error");

    // A wrong secret never gets a session.
    let refused = fixtures::connect_refused(&server, a).await;
    assert!(!refused.is_empty());
}

/// A module no package uses: reports and pulls on it are barriers, not state.
const BARRIER: &str = "e2e-barrier";

/// Waits until the device's `BARRIER` module version reads `marker`.
async fn wait_version(server: &Server, pk: &str, dn: &str, marker: &str) {
    let path = format!("/products/{pk}/devices/{dn}");
    let (stored, last) = crate::harness::poll_value(
        || async { server.api.get(&path).await.expect("device") },
        |d| {
            d["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v["module"] == BARRIER && v["version"] == marker)
        },
    )
    .await;
    assert!(stored, "{dn}: the barrier report was never stored: {last}");
}

/// The `code` of the next block-download reply `rx` receives.
async fn block_reply_code(rx: &mut mpsc::UnboundedReceiver<(String, Vec<u8>)>) -> i64 {
    loop {
        let (topic, payload) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a block reply within 5 s")
            .expect("client open");
        if topic.ends_with("/thing/file/download_reply") {
            let header_len = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
            let header: serde_json::Value =
                serde_json::from_slice(&payload[2..2 + header_len]).unwrap();
            return header["code"].as_i64().unwrap_or(-1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_serves_no_further_blocks() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let a = &fleet.devices[0];
    let (pk, an) = (&fleet.pk, &a.device_name);
    let pkg = package(&server, pk, "2.0.0", 40 * 1024).await;
    let topics = [
        format!("/ota/device/upgrade/{pk}/{an}"),
        format!("/sys/{pk}/{an}/thing/file/download_reply"),
    ];
    let (device, mut seen) = raw_device(&server, a, &[&topics[0], &topics[1]]).await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "SPECIFIC", "device_names": [an], "download_protocol": "MQTT"}),
        )
        .await,
    );
    server.wait_status(&id, an, "NOTIFIED").await;
    let push = server.task(&id, an).await;
    let (_, payload) = seen.recv().await.expect("the push");
    let stream = serde_json::from_slice::<serde_json::Value>(&payload).unwrap()["data"]["streamId"]
        .as_u64()
        .expect("MQTT stream");
    let ask = |offset: u64| {
        let device = device.clone();
        let body = json!({"id": offset.to_string(), "version": "1.0", "params": {"fileToken": "default",
            "fileInfo": {"streamId": stream, "fileId": 1}, "fileBlock": {"size": 5120, "offset": offset}}});
        let topic = format!("/sys/{pk}/{an}/thing/file/download");
        async move {
            device
                .publish(topic, QoS::AtLeastOnce, false, body.to_string())
                .await
                .unwrap();
        }
    };
    ask(0).await;
    assert_eq!(block_reply_code(&mut seen).await, 200);
    ask(5120).await;
    assert_eq!(block_reply_code(&mut seen).await, 200);

    // The operator cancels the task: the very next block is refused.
    server
        .api
        .post("/tasks/cancel", &json!({"task_ids": [push["task_id"]]}))
        .await
        .unwrap();
    ask(10_240).await;
    assert_ne!(
        block_reply_code(&mut seen).await,
        200,
        "a block of a cancelled task was served"
    );
}
