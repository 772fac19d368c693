//! Ordinary broker behaviour: keep-alive, takeover, many clients, malformed input, limits,
//! will, shutdown.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use ota_device_gateway::{GatewayConfig, QoS};
use ota_protocol::{HmacMethod, TopicKind};
use rumqttc::v5::mqttbytes::v5::DisconnectReasonCode;

use crate::support::*;
use crate::support_v5::*;

/// Reads until EOF; returns when the server closed the connection.
async fn wait_closed(s: &mut TcpStream) {
    let mut sink = [0u8; 256];
    loop {
        match timeout(WAIT, s.read(&mut sink)).await.expect("still open") {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn silent_clients_are_dropped_after_one_and_a_half_keep_alives() {
    let mut h = Harness::start().await;
    let start = Instant::now();
    let mut s = raw_connect(&h, "a", 1).await;
    let id = h.wait_online("a").await;
    wait_closed(&mut s).await;
    let waited = start.elapsed();
    // 1.5 × 1 s after the CONNECT; the upper bound allows for a loaded machine.
    assert!(
        waited >= Duration::from_millis(1490),
        "closed early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(6), "closed late: {waited:?}");
    assert_eq!(
        h.wait_for(|e| matches!(e, Event::Offline(..))).await,
        Event::Offline(device("a"), id)
    );
    assert!(!h.gateway.is_online(&device("a")));
}

#[tokio::test]
async fn pings_keep_a_connection_alive() {
    let h = Harness::start().await;
    let mut s = raw_connect(&h, "a", 1).await;
    // 2.4 s in all, well past the 1.5 s limit, with a ping every 0.6 s.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        s.write_all(&[0xC0, 0x00]).await.unwrap();
        let mut resp = [0u8; 2];
        s.read_exact(&mut resp).await.unwrap();
        assert_eq!(resp, [0xD0, 0x00]);
    }
    assert!(h.gateway.is_online(&device("a")));
}

#[tokio::test]
async fn a_second_connection_takes_the_session_over() {
    let mut h = Harness::start().await;
    let c = creds("a", HmacMethod::HmacMd5);
    let mut first = connect_v5(h.addr, &c).await;
    let id1 = h.wait_online("a").await;
    let mut second = connect_v5(h.addr, &c).await;
    let id2 = h.wait_online("a").await;
    assert_ne!(id1, id2);
    let reason = first.server_disconnect().await;
    assert_eq!(reason, Some(DisconnectReasonCode::SessionTakenOver));
    assert_eq!(h.gateway.online_count(), 1);
    // The old connection's end is not reported: the device never went offline.
    second.subscribe(&TopicKind::Upgrade.topic(PK, "a")).await;
    assert!(
        h.gateway
            .publish_to_device(
                &device("a"),
                &TopicKind::Upgrade.topic(PK, "a"),
                &b"p"[..],
                QoS::AtLeastOnce
            )
            .await
    );
    assert!(second.publish_within(WAIT).await.is_some());
    second.client.disconnect().await.unwrap();
    let e = h.wait_for(|e| matches!(e, Event::Offline(..))).await;
    assert_eq!(e, Event::Offline(device("a"), id2));
    assert_eq!(h.gateway.online_count(), 0);
}

#[tokio::test]
async fn two_hundred_concurrent_clients() {
    let h = Harness::start().await;
    let mut set = tokio::task::JoinSet::new();
    let (subscribed_tx, mut subscribed) = tokio::sync::mpsc::unbounded_channel();
    for i in 0..200 {
        let addr = h.addr;
        let subscribed_tx = subscribed_tx.clone();
        set.spawn(async move {
            let dn = format!("d{i}");
            let c = creds(&dn, HmacMethod::HmacSha1);
            if i % 2 == 0 {
                let mut cl = connect_v4(addr, &c).await;
                cl.subscribe("/ota/device/upgrade/+/+").await;
                subscribed_tx.send(()).unwrap();
                let p = cl.publish().await;
                assert_eq!(p.topic, TopicKind::Upgrade.topic(PK, &dn));
                assert_eq!(&p.payload[..], dn.as_bytes());
                // Every device's push was queued before this end mark: none of them
                // arrived here in between, whatever the wildcard.
                let end = cl.publish().await;
                assert_eq!(&end.payload[..], b"end", "{dn} received {end:?}");
            } else {
                let mut cl = connect_v5(addr, &c).await;
                subscribed_tx.send(()).unwrap();
                let p = cl.publish_within(WAIT).await.expect("no push");
                assert_eq!(&p.payload[..], dn.as_bytes());
            }
        });
    }
    drop(subscribed_tx);
    for _ in 0..200 {
        tokio::time::timeout(WAIT, subscribed.recv())
            .await
            .expect("every client connected and subscribed")
            .expect("a client failed");
    }
    for i in 0..200 {
        let dn = format!("d{i}");
        let topic = TopicKind::Upgrade.topic(PK, &dn);
        assert!(
            h.gateway
                .publish_to_device(
                    &device(&dn),
                    &topic,
                    dn.clone().into_bytes(),
                    QoS::AtLeastOnce
                )
                .await
        );
    }
    for i in (0..200).step_by(2) {
        let dn = format!("d{i}");
        let topic = TopicKind::Upgrade.topic(PK, &dn);
        assert!(
            h.gateway
                .publish_to_device(&device(&dn), &topic, b"end".to_vec(), QoS::AtLeastOnce)
                .await
        );
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while h.gateway.online_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} still online",
            h.gateway.online_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_malformed_packet_closes_only_that_connection() {
    let h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    let mut s = raw_connect(&h, "b", 30).await;
    s.write_all(&[0xF0, 0x00, 0x12, 0x34]).await.unwrap();
    wait_closed(&mut s).await;
    let topic = TopicKind::Upgrade.topic(PK, "a");
    assert!(
        h.gateway
            .publish_to_device(&device("a"), &topic, &b"still here"[..], QoS::AtMostOnce)
            .await
    );
    assert_eq!(a.publish().await.payload, &b"still here"[..]);
    assert!(!h.gateway.is_online(&device("b")));
}

#[tokio::test]
async fn oversized_packets_end_the_connection() {
    let config = GatewayConfig {
        max_packet_size: 1024,
        ..GatewayConfig::default()
    };
    let mut h = Harness::start_with(config).await;
    let a = connect_v5(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    let id = h.wait_online("a").await;
    let topic = format!("/{PK}/a/user/big");
    a.client
        .publish(
            topic,
            rumqttc::v5::mqttbytes::QoS::AtMostOnce,
            false,
            vec![0u8; 4096],
        )
        .await
        .unwrap();
    assert_eq!(
        h.wait_for(|e| matches!(e, Event::Offline(..))).await,
        Event::Offline(device("a"), id)
    );
}

#[tokio::test]
async fn slow_consumers_are_disconnected_not_buffered() {
    let config = GatewayConfig {
        device_queue: 2,
        ..GatewayConfig::default()
    };
    let mut h = Harness::start_with(config).await;
    let _s = raw_connect(&h, "a", 30).await;
    let id = h.wait_online("a").await;
    let topic = TopicKind::Upgrade.topic(PK, "a");
    // The test runtime is single-threaded: the connection cannot drain while we loop.
    let accepted = (0..10)
        .filter(|_| {
            h.gateway
                .try_publish_to_device(&device("a"), &topic, &b"x"[..], QoS::AtMostOnce)
        })
        .count();
    assert_eq!(accepted, 2);
    assert_eq!(
        h.wait_for(|e| matches!(e, Event::Offline(..))).await,
        Event::Offline(device("a"), id)
    );
}

#[tokio::test]
async fn will_is_published_on_abnormal_end_only() {
    let h = Harness::start().await;
    let mut admin = admin_v4(h.addr, "watcher").await;
    admin.subscribe("#").await;
    let will_topic = format!("/{PK}/a/user/will");
    let connect_with_will = |dn: &str, topic: String| {
        let c = creds(dn, HmacMethod::HmacSha1);
        let mut opts =
            rumqttc::MqttOptions::new(c.client_id, h.addr.ip().to_string(), h.addr.port());
        opts.set_credentials(c.username, c.password);
        opts.set_last_will(rumqttc::LastWill::new(
            topic,
            "gone",
            rumqttc::QoS::AtMostOnce,
            false,
        ));
        rumqttc::AsyncClient::new(opts, 8)
    };
    // Clean DISCONNECT: no will.
    let (client, mut el) = connect_with_will("a", will_topic.clone());
    while !matches!(
        el.poll().await.unwrap(),
        rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))
    ) {}
    client.disconnect().await.unwrap();
    while el.poll().await.is_ok() {}
    assert!(admin.publish_within(QUIET).await.is_none());
    // Dropped socket: the will goes out.
    let (_client, mut el) = connect_with_will("a", will_topic.clone());
    while !matches!(
        el.poll().await.unwrap(),
        rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))
    ) {}
    drop(el);
    let p = admin.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        (will_topic.as_str(), &b"gone"[..])
    );
    // A will on someone else's topic is dropped like any forbidden publish.
    let (_client, mut el) = connect_with_will("b", will_topic);
    while !matches!(
        el.poll().await.unwrap(),
        rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))
    ) {}
    drop(el);
    assert!(admin.publish_within(QUIET).await.is_none());
}

#[tokio::test]
async fn unsubscribe_stops_deliveries() {
    let h = Harness::start().await;
    let mut admin = admin_v4(h.addr, "watcher").await;
    admin.subscribe("/ota/device/upgrade/#").await;
    let topic = TopicKind::Upgrade.topic(PK, "a");
    assert_eq!(h.gateway.publish(&topic, &b"1"[..], QoS::AtMostOnce), 1);
    assert!(admin.publish_within(WAIT).await.is_some());
    admin
        .client
        .unsubscribe("/ota/device/upgrade/#")
        .await
        .unwrap();
    loop {
        if let rumqttc::Packet::UnsubAck(_) = admin.next().await.unwrap().unwrap() {
            break;
        }
    }
    assert_eq!(h.gateway.publish(&topic, &b"2"[..], QoS::AtMostOnce), 0);
}

#[tokio::test]
async fn shutdown_disconnects_everyone_and_reports_offline() {
    let mut h = Harness::start().await;
    let mut a = connect_v5(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    let id = h.wait_online("a").await;
    h.shutdown.cancel();
    let reason = a.server_disconnect().await;
    assert_eq!(reason, Some(DisconnectReasonCode::ServerShuttingDown));
    assert_eq!(
        h.wait_for(|e| matches!(e, Event::Offline(..))).await,
        Event::Offline(device("a"), id)
    );
    timeout(WAIT, h.gateway.closed())
        .await
        .expect("gateway did not stop");
    assert!(
        TcpStream::connect(h.addr).await.is_err(),
        "listener still open"
    );
}
