//! Reports are acknowledged by the platform once stored, not when read; a device whose
//! reports the platform has no room for is held back alone, with its reports in order.

use ota_protocol::{DeviceMessage, HmacMethod, TopicKind};
use rumqttc::{Packet, QoS};

use crate::support::*;

fn inform(version: &str) -> String {
    format!(r#"{{"id":"1","params":{{"version":"{version}"}}}}"#)
}

/// Waits for `client`'s next SUBACK and returns the packets seen before it.
async fn until_suback(client: &mut V4) -> Vec<Packet> {
    let mut before = Vec::new();
    loop {
        match client.next().await.expect("no SUBACK") {
            Ok(Packet::SubAck(_)) => return before,
            Ok(packet) => before.push(packet),
            Err(e) => panic!("connection error: {e}"),
        }
    }
}

#[tokio::test]
async fn a_report_is_acknowledged_once_the_platform_has_stored_it() {
    let mut h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    h.wait_online("a").await;
    h.handler.hold_acks();
    a.client
        .publish(
            TopicKind::Inform.topic(PK, "a"),
            QoS::AtLeastOnce,
            false,
            inform("2.0.0"),
        )
        .await
        .unwrap();
    h.wait_for(|e| matches!(e, Event::Message(..))).await;
    // The gateway answers packets in order: had the report been acknowledged when read, its
    // PUBACK would come before the SUBACK of a later SUBSCRIBE.
    a.client
        .subscribe(TopicKind::Upgrade.topic(PK, "a"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let before = until_suback(&mut a).await;
    assert!(
        !before.iter().any(|p| matches!(p, Packet::PubAck(_))),
        "acknowledged before stored: {before:?}"
    );
    assert_eq!(h.handler.release_acks(), 1);
    match a.next().await.expect("no PUBACK") {
        Ok(Packet::PubAck(ack)) => assert_eq!(ack.pkid, 1),
        other => panic!("expected the PUBACK, got {other:?}"),
    }
}

#[tokio::test]
async fn publishes_that_are_not_reports_are_acknowledged_at_once() {
    let mut h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    h.wait_online("a").await;
    h.handler.hold_acks();
    // A device's own non-OTA topic, and an OTA report that does not parse.
    for (topic, payload) in [
        ("/sys/a1TestPk/a/thing/event/property/post".to_owned(), "{}"),
        (TopicKind::Inform.topic(PK, "a"), "not json"),
    ] {
        a.client
            .publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
        match a.next().await.expect("no PUBACK") {
            Ok(Packet::PubAck(_)) => {}
            other => panic!("expected a PUBACK, got {other:?}"),
        }
    }
    assert_eq!(h.handler.release_acks(), 0);
}

#[tokio::test]
async fn a_device_the_platform_has_no_room_for_waits_alone_and_in_order() {
    let mut h = Harness::start().await;
    let a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    h.wait_online("a").await;
    let b = connect_v4(h.addr, &creds("b", HmacMethod::HmacSha1)).await;
    h.wait_online("b").await;
    h.handler.full_for.send_replace(vec!["a".to_owned()]);
    for version in ["1", "2", "3"] {
        a.client
            .publish(
                TopicKind::Inform.topic(PK, "a"),
                QoS::AtLeastOnce,
                false,
                inform(version),
            )
            .await
            .unwrap();
    }
    // Device b is served while a waits.
    b.client
        .publish(
            TopicKind::Inform.topic(PK, "b"),
            QoS::AtLeastOnce,
            false,
            inform("9"),
        )
        .await
        .unwrap();
    let first = h.wait_for(|e| matches!(e, Event::Message(..))).await;
    assert_eq!(first, message("b", "9"), "b goes first while a waits");
    h.handler.full_for.send_replace(Vec::new());
    for version in ["1", "2", "3"] {
        assert_eq!(h.next_event().await, message("a", version));
    }
}

fn message(dn: &str, version: &str) -> Event {
    Event::Message(
        device(dn),
        DeviceMessage::Inform {
            id: Some("1".into()),
            version: version.into(),
            module: None,
            delta_formats: vec![],
            delta_memory: None,
        },
    )
}
