//! Per-device topic isolation, enforced on publish and on delivery.

use ota_device_gateway::QoS;
use ota_protocol::{HmacMethod, TopicKind};
use rumqttc::SubscribeReasonCode;
use rumqttc::v5::mqttbytes::v5::{Packet as P5, PubAckReason};

use crate::support::*;
use crate::support_v5::*;

fn upgrade(dn: &str) -> String {
    TopicKind::Upgrade.topic(PK, dn)
}

#[tokio::test]
async fn wildcard_subscribers_never_receive_another_devices_push() {
    let mut h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    let mut b = connect_v4(h.addr, &creds("b", HmacMethod::HmacSha1)).await;
    let mut b5 = connect_v5(h.addr, &creds("c", HmacMethod::HmacSha1)).await;
    h.wait_online("b").await;
    // The C Link SDK 4.x filter is accepted, and so is `#`.
    let ack = a.subscribe("/ota/device/upgrade/+/+").await;
    assert_eq!(
        ack.return_codes,
        [SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]
    );
    for filter in ["/ota/device/upgrade/+/+", "#", "/sys/#"] {
        let ack = b.subscribe(filter).await;
        assert!(
            matches!(ack.return_codes[0], SubscribeReasonCode::Success(_)),
            "{filter}"
        );
        b5.subscribe(filter).await;
    }

    // Pushed by the platform.
    assert!(
        h.gateway
            .publish_to_device(
                &device("a"),
                &upgrade("a"),
                &b"push-1"[..],
                QoS::AtLeastOnce
            )
            .await
    );
    assert_eq!(a.publish().await.payload, &b"push-1"[..]);
    // Routed as an ordinary publish by the server and by an admin client.
    assert_eq!(
        h.gateway
            .publish(&upgrade("a"), &b"push-2"[..], QoS::AtMostOnce),
        1
    );
    assert_eq!(a.publish().await.payload, &b"push-2"[..]);
    let admin = admin_v4(h.addr, "ops").await;
    admin
        .client
        .publish(upgrade("a"), rumqttc::QoS::AtLeastOnce, false, "push-3")
        .await
        .unwrap();
    let p = a.publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        (upgrade("a").as_str(), &b"push-3"[..])
    );

    assert!(
        b.publish_within(QUIET).await.is_none(),
        "b received a's push"
    );
    assert!(
        b5.publish_within(QUIET).await.is_none(),
        "c (v5) received a's push"
    );
}

#[tokio::test]
async fn a_device_cannot_publish_to_another_devices_topics() {
    let h = Harness::start().await;
    let mut a = connect_v5(h.addr, &creds("a", HmacMethod::HmacSha256)).await;
    let mut b = connect_v4(h.addr, &creds("b", HmacMethod::HmacSha256)).await;
    b.subscribe("#").await;
    let mut admin = admin_v4(h.addr, "watcher").await;
    admin.subscribe("#").await;

    let foreign = [
        upgrade("b"),
        TopicKind::FirmwareGetReply.topic(PK, "b"),
        format!("/{PK}/b/user/get"),
        "/broadcast/all".to_string(),
        "plain/topic".to_string(),
    ];
    for topic in &foreign {
        a.client
            .publish(
                topic.clone(),
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                false,
                "evil",
            )
            .await
            .unwrap();
        let ack = a
            .wait_packet(|p| matches!(p, P5::PubAck(_)))
            .await
            .expect("no PUBACK");
        let P5::PubAck(ack) = ack else { unreachable!() };
        assert_eq!(ack.reason, PubAckReason::NotAuthorized, "{topic}");
    }
    assert!(
        b.publish_within(QUIET).await.is_none(),
        "forbidden publish reached b"
    );
    assert!(
        admin.publish_within(QUIET).await.is_none(),
        "forbidden publish was forwarded"
    );

    // Its own topics are fine.
    let own = format!("/{PK}/a/user/update");
    a.client
        .publish(
            own.clone(),
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            false,
            "ok",
        )
        .await
        .unwrap();
    let ack = a
        .wait_packet(|p| matches!(p, P5::PubAck(_)))
        .await
        .expect("no PUBACK");
    let P5::PubAck(ack) = ack else { unreachable!() };
    assert_eq!(ack.reason, PubAckReason::Success);
    assert_eq!(admin.publish().await.topic, own);
    assert!(b.publish_within(QUIET).await.is_none());
}

#[tokio::test]
async fn v4_forbidden_publish_is_acked_and_dropped() {
    let h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacMd5)).await;
    let mut b = connect_v4(h.addr, &creds("b", HmacMethod::HmacMd5)).await;
    b.subscribe("/ota/device/upgrade/+/+").await;
    a.client
        .publish(upgrade("b"), rumqttc::QoS::AtLeastOnce, false, "evil")
        .await
        .unwrap();
    loop {
        match a
            .next()
            .await
            .expect("no PUBACK")
            .expect("connection error")
        {
            rumqttc::Packet::PubAck(_) => break,
            _ => continue,
        }
    }
    assert!(b.publish_within(QUIET).await.is_none());
    // a is still connected and served.
    assert!(h.gateway.is_online(&device("a")));
}

#[tokio::test]
async fn publish_to_device_rejects_foreign_topics_and_offline_devices() {
    let h = Harness::start().await;
    let _a = connect_v4(h.addr, &creds("a", HmacMethod::HmacMd5)).await;
    let dev_a = device("a");
    assert!(
        !h.gateway
            .publish_to_device(&dev_a, &upgrade("b"), &b"x"[..], QoS::AtMostOnce)
            .await
    );
    assert!(!h.gateway.try_publish_to_device(
        &device("b"),
        &upgrade("b"),
        &b"x"[..],
        QoS::AtMostOnce
    ));
    assert!(
        h.gateway
            .try_publish_to_device(&dev_a, &upgrade("a"), &b"x"[..], QoS::AtMostOnce)
    );
}
