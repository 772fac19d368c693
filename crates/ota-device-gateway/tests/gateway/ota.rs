//! OTA messages handled in-process: inform/progress to the handler, pulls and block
//! downloads answered by the gateway.

use ota_protocol::block::BlockReply;
use ota_protocol::{DeviceMessage, HmacMethod, ProgressStep, TopicKind, crc16_arc};
use rumqttc::QoS;

use crate::support::*;
use crate::support_v5::*;

#[tokio::test]
async fn inform_and_progress_reach_the_handler() {
    let mut h = Harness::start().await;
    let a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    h.wait_online("a").await;
    let inform = r#"{"id":"1","params":{"version":"1.0.0","module":"MCU"}}"#;
    a.client
        .publish(
            TopicKind::Inform.topic(PK, "a"),
            QoS::AtLeastOnce,
            false,
            inform,
        )
        .await
        .unwrap();
    let progress = r#"{"id":2,"params":{"step":"-2","desc":"download failed"}}"#;
    a.client
        .publish(
            TopicKind::Progress.topic(PK, "a"),
            QoS::AtMostOnce,
            false,
            progress,
        )
        .await
        .unwrap();
    let e = h.wait_for(|e| matches!(e, Event::Message(..))).await;
    assert_eq!(
        e,
        Event::Message(
            device("a"),
            DeviceMessage::Inform {
                id: Some("1".into()),
                version: "1.0.0".into(),
                module: Some("MCU".into()),
                delta_formats: vec![],
                delta_memory: None,
            }
        )
    );
    let Event::Message(_, DeviceMessage::Progress { step, desc, .. }) = h.next_event().await else {
        panic!("expected progress");
    };
    assert_eq!(
        (step, desc.as_str()),
        (ProgressStep::DownloadFailed, "download failed")
    );
}

#[tokio::test]
async fn firmware_get_is_answered_on_get_reply() {
    let h = Harness::start().await;
    let push = br#"{"code":"1000","data":{"version":"2.0"},"id":1,"message":"success"}"#.to_vec();
    h.handler
        .firmware
        .lock()
        .unwrap()
        .insert(device("a"), push.clone());
    let mut a = connect_v5(h.addr, &creds("a", HmacMethod::HmacSha1)).await;
    a.subscribe(&TopicKind::FirmwareGetReply.topic(PK, "a"))
        .await;
    let get = r#"{"id":1, "params":{"module":"MCU"}}"#;
    a.client
        .publish(
            TopicKind::FirmwareGet.topic(PK, "a"),
            rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
            false,
            get,
        )
        .await
        .unwrap();
    let reply = a.publish_within(WAIT).await.expect("no get_reply");
    assert_eq!(
        &reply.topic[..],
        TopicKind::FirmwareGetReply.topic(PK, "a").as_bytes()
    );
    assert_eq!(&reply.payload[..], &push[..]);

    // Nothing pending: the empty reply, even without a subscription.
    let mut b = connect_v4(h.addr, &creds("b", HmacMethod::HmacSha1)).await;
    b.client
        .publish(
            TopicKind::FirmwareGet.topic(PK, "b"),
            QoS::AtMostOnce,
            false,
            "",
        )
        .await
        .unwrap();
    let reply = b.publish().await;
    assert_eq!(reply.topic, TopicKind::FirmwareGetReply.topic(PK, "b"));
    assert_eq!(&reply.payload[..], br#"{"code":200,"data":{}}"#);
}

#[tokio::test]
async fn legacy_request_is_answered_on_the_request_topic() {
    let h = Harness::start().await;
    h.handler
        .firmware
        .lock()
        .unwrap()
        .insert(device("a"), b"pkg".to_vec());
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacMd5)).await;
    let topic = TopicKind::Request.topic(PK, "a");
    a.client
        .publish(
            topic.clone(),
            QoS::AtLeastOnce,
            false,
            r#"{"id":3,"params":{"version":"1.0"}}"#,
        )
        .await
        .unwrap();
    let reply = a.publish().await;
    assert_eq!(
        (reply.topic.as_str(), &reply.payload[..]),
        (topic.as_str(), &b"pkg"[..])
    );
}

#[tokio::test]
async fn file_download_gets_a_binary_reply_with_a_valid_crc() {
    let h = Harness::start().await;
    let mut a = connect_v4(h.addr, &creds("a", HmacMethod::HmacSha256)).await;
    a.subscribe(&TopicKind::FileDownloadReply.topic(PK, "a"))
        .await;
    // Exactly what the Link SDK C 4.x sends, trailing comma included.
    let request = r#"{"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":7,"fileId":1,},"fileBlock":{"size":5120,"offset":5120}}}"#;
    let topic = TopicKind::FileDownload.topic(PK, "a");
    a.client
        .publish(topic.clone(), QoS::AtMostOnce, false, request)
        .await
        .unwrap();
    let reply = a.publish().await;
    assert_eq!(reply.topic, TopicKind::FileDownloadReply.topic(PK, "a"));
    let decoded = BlockReply::decode(&reply.payload).expect("valid block reply");
    let data = decoded.header.data.clone().expect("data");
    assert_eq!(
        (decoded.header.code, decoded.header.id.as_deref()),
        (200, Some("1"))
    );
    assert_eq!(
        (data.file_length, data.b_size, data.b_offset),
        (20_000, 5120, 5120)
    );
    assert_eq!(data.file_token.as_deref(), Some("default"));
    assert_eq!(decoded.block, &h.handler.file[5120..10240]);
    let n = reply.payload.len();
    assert_eq!(
        u16::from_le_bytes([reply.payload[n - 2], reply.payload[n - 1]]),
        crc16_arc(decoded.block)
    );

    // The last, short block and an unknown stream.
    let tail = r#"{"id":"2","params":{"fileInfo":{"streamId":7,"fileId":1},"fileBlock":{"size":5120,"offset":18000}}}"#;
    a.client
        .publish(topic.clone(), QoS::AtMostOnce, false, tail)
        .await
        .unwrap();
    let reply = a.publish().await;
    assert_eq!(
        BlockReply::decode(&reply.payload).unwrap().block,
        &h.handler.file[18000..]
    );
    let bad = r#"{"id":"3","params":{"fileInfo":{"streamId":9,"fileId":1},"fileBlock":{"size":10,"offset":0}}}"#;
    a.client
        .publish(topic, QoS::AtMostOnce, false, bad)
        .await
        .unwrap();
    let reply = a.publish().await;
    let decoded = BlockReply::decode(&reply.payload).unwrap();
    assert_eq!(
        (decoded.header.code, decoded.header.msg.as_str()),
        (400, "no such stream")
    );
}
