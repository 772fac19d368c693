//! Hostile and broken clients cost bounded memory and block no one: 5,000 sockets that never
//! send CONNECT, headers announcing a 256 MB packet (before and after CONNECT), a device
//! with 10,000 subscription filters, a device that asks for blocks and stops reading — while
//! an honest device connects and updates. Run with `--nocapture` for the figures
//! (`docs/reliability.md`).

use crate::fixtures::{self, expect_push, fleet, job, online, package_with};
use crate::harness::{DEADLINE, Server};
use bytes::BytesMut;
use ota_protocol::{DeviceMessage, FileBlockRequest, TopicKind};
use rumqttc::mqttbytes::{QoS, v4};
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SILENT_SOCKETS: usize = 5_000;
const FILTERS: usize = 10_000;
/// Remaining length 268,435,455: the largest an MQTT header can announce (256 MB).
const HUGE: [u8; 4] = [0xFF, 0xFF, 0xFF, 0x7F];
/// What all the abuse together may add to the server's memory.
const MEMORY_CAP_MIB: u64 = 128;

/// A connection signed in as the device, with CONNACK read.
async fn connect_raw(server: &Server, creds: &ota_device_sdk::sim::DeviceCredentials) -> TcpStream {
    let mqtt = fixtures::config(server, creds).credentials(1_700_000_000_000);
    let mut connect = v4::Connect::new(mqtt.client_id);
    connect.keep_alive = 600;
    connect.set_login(mqtt.username, mqtt.password);
    let mut buf = BytesMut::new();
    connect.write(&mut buf).unwrap();
    let mut stream = TcpStream::connect(server.mqtt).await.unwrap();
    stream.write_all(&buf).await.unwrap();
    let mut ack = [0u8; 4];
    stream.read_exact(&mut ack).await.unwrap();
    assert_eq!(ack, [0x20, 2, 0, 0], "CONNACK accepted");
    stream
}

/// Waits until the server has closed `stream` (reads end), within [`DEADLINE`].
async fn closed_by_server(stream: &mut TcpStream) {
    let mut sink = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

/// Waits until writes to `stream` fail: the server gave up on it (it never read anything).
async fn refused_by_server(stream: &mut TcpStream) {
    let deadline = Instant::now() + DEADLINE + Duration::from_secs(15);
    while Instant::now() < deadline {
        if stream.write_all(&[0xC0, 0]).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the server kept a connection that stopped reading");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_clients_cost_bounded_memory_and_an_honest_device_still_updates() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let (pk, honest, greedy, hoarder) = (&fleet.pk, 0, 1, 2);
    let pkg = package_with(
        &server,
        pk,
        "2.0.0",
        512 * 1024,
        json!({"need_to_verify": false}),
    )
    .await;
    let baseline = server.rss_kib();

    // Sockets that never send CONNECT.
    let started = Instant::now();
    let mut silent = Vec::with_capacity(SILENT_SOCKETS);
    for _ in 0..SILENT_SOCKETS {
        silent.push(TcpStream::connect(server.mqtt).await.unwrap());
    }
    eprintln!(
        "{SILENT_SOCKETS} silent sockets opened in {:?}",
        started.elapsed()
    );

    // A first packet announcing 256 MB, and a device's PUBLISH announcing as much.
    let mut huge_connect = TcpStream::connect(server.mqtt).await.unwrap();
    huge_connect.write_all(&[0x10]).await.unwrap();
    huge_connect.write_all(&HUGE).await.unwrap();
    closed_by_server(&mut huge_connect).await;
    let mut huge_publish = connect_raw(&server, &fleet.devices[hoarder]).await;
    huge_publish.write_all(&[0x30]).await.unwrap();
    huge_publish.write_all(&HUGE).await.unwrap();
    closed_by_server(&mut huge_publish).await;

    // 10,000 subscription filters in one SUBSCRIBE: a few are granted, none costs much.
    let mut hoarding = connect_raw(&server, &fleet.devices[hoarder]).await;
    let own = TopicKind::Upgrade.topic(pk, fleet.name(hoarder));
    let filters =
        (0..FILTERS).map(|i| v4::SubscribeFilter::new(format!("{own}/{i}"), QoS::AtLeastOnce));
    let mut buf = BytesMut::new();
    v4::Subscribe::new_many(filters).write(&mut buf).unwrap();
    hoarding.write_all(&buf).await.unwrap();
    let mut read = BytesMut::new();
    let suback = loop {
        match v4::Packet::read(&mut read, 1 << 20) {
            Ok(v4::Packet::SubAck(ack)) => break ack,
            Ok(_) => {}
            Err(_) => {
                let mut chunk = [0u8; 4096];
                let n = tokio::time::timeout(DEADLINE, hoarding.read(&mut chunk))
                    .await
                    .expect("no SUBACK")
                    .unwrap();
                assert!(n > 0, "closed before the SUBACK");
                read.extend_from_slice(&chunk[..n]);
            }
        }
    };
    let granted = suback
        .return_codes
        .iter()
        .filter(|c| matches!(c, v4::SubscribeReasonCode::Success(_)))
        .count();
    assert_eq!(suback.return_codes.len(), FILTERS);
    eprintln!("{FILTERS} filters in one SUBSCRIBE: {granted} granted");
    assert!(granted < 100, "{granted} granted");

    // A device that asks for 128 KiB blocks and never reads the replies.
    let greedy_dev = online(&server, &fleet.devices[greedy], "1.0.0").await;
    fixtures::wait_reported(&server, pk, 1).await;
    let by_mqtt = json!({"target_selection": "SPECIFIC", "download_protocol": "MQTT",
                         "device_names": [fleet.name(greedy)]});
    job(&server, &pkg, by_mqtt).await;
    let push = expect_push(&greedy_dev).await;
    let stream_id = push.data.stream_id.expect("a block download push");
    let mut greedy_raw = connect_raw(&server, &fleet.devices[greedy]).await;
    let topic = TopicKind::FileDownload.topic(pk, fleet.name(greedy));
    let mut requests = BytesMut::new();
    for i in 0..200u64 {
        let ask = DeviceMessage::FileDownload(FileBlockRequest {
            id: Some(i.to_string()),
            stream_id,
            file_id: 1,
            offset: (i % 4) * 128 * 1024,
            size: 128 * 1024,
            file_token: None,
        });
        v4::Publish::new(topic.as_str(), QoS::AtMostOnce, ask.to_payload())
            .write(&mut requests)
            .unwrap();
    }
    greedy_raw.write_all(&requests).await.unwrap();
    let during = server.rss_kib();

    // Meanwhile an honest device connects and updates.
    let started = Instant::now();
    let dev = online(&server, &fleet.devices[honest], "1.0.0").await;
    let connect_time = started.elapsed();
    let by_url = json!({"target_selection": "SPECIFIC", "device_names": [fleet.name(honest)]});
    let id = fixtures::id(&job(&server, &pkg, by_url).await);
    let push = expect_push(&dev).await;
    dev.run_update(&push)
        .await
        .expect("the honest device updates");
    server
        .wait_status(&id, fleet.name(honest), "SUCCEEDED")
        .await;
    let update_time = started.elapsed();

    refused_by_server(&mut greedy_raw).await;
    let peak = during.max(server.rss_kib());
    eprintln!(
        "server RSS: {} MiB before, {} MiB with the abusers ({} KiB per silent socket at most); \
         honest device connected in {connect_time:?} and updated in {update_time:?}",
        baseline / 1024,
        peak / 1024,
        peak.saturating_sub(baseline) / SILENT_SOCKETS as u64,
    );
    assert!(
        peak.saturating_sub(baseline) < MEMORY_CAP_MIB * 1024,
        "abuse cost {} MiB (cap {MEMORY_CAP_MIB} MiB)",
        peak.saturating_sub(baseline) / 1024
    );
    drop(silent);
}
