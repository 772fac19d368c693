//! Pulling (`thing/ota/firmware/get`): an empty reply, a package, no reply; and that a
//! device re-subscribes after the broker drops it.

use std::time::Duration;

use ota_device_sdk::{Device, SdkError, SignMethod};
use ota_protocol::DeviceMessage;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};

use crate::support::platform::Platform;
use crate::support::{Keep, broker, device_config, http_push, package, unique_pk};

#[tokio::test]
async fn pull_empty_then_package() {
    let pk = unique_pk("pull");
    let platform = Platform::start(&pk).await;
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    assert_eq!(device.request_firmware(None).await.unwrap(), None);

    let push = http_push(
        "http://127.0.0.1:9/x",
        &package(10),
        SignMethod::Md5,
        Some("MCU"),
    );
    platform.script().get_reply = Some(push.clone());
    assert_eq!(
        device.request_firmware(Some("MCU")).await.unwrap(),
        Some(push)
    );

    let modules: Vec<_> = [platform.next().await, platform.next().await]
        .into_iter()
        .map(|s| match s.msg {
            DeviceMessage::FirmwareGet { module, .. } => module,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(modules, [None, Some("MCU".to_owned())]);
}

#[tokio::test]
async fn pull_without_reply_times_out() {
    let pk = unique_pk("silent");
    let platform = Platform::start(&pk).await;
    platform.script().ignore_gets = true;
    let mut cfg = device_config(&pk, "d1");
    cfg.request_timeout = Duration::from_millis(500);
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    let err = device.request_firmware(None).await.unwrap_err();
    assert!(matches!(err, SdkError::Timeout(_)), "{err}");
}

#[tokio::test]
async fn reconnect_resubscribes() {
    let pk = unique_pk("recon");
    let platform = Platform::start(&pk).await;
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    // The broker drops a client when another connects with the same id.
    let (host, port) = broker();
    let opts = MqttOptions::new(device.mqtt_client_id(), host, port);
    let (_thief, mut el) = AsyncClient::new(opts, 4);
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = el.poll().await.unwrap() {
            break;
        }
    }
    drop(el);
    wait_until(|| !device.is_connected()).await;
    // The device reconnects (kicking the thief) and subscribes again.
    wait_until(|| device.is_connected()).await;
    let push = http_push("http://127.0.0.1:9/x", &package(10), SignMethod::Md5, None);
    platform.push("d1", &push).await;
    let got = tokio::time::timeout(Duration::from_secs(10), device.next_push())
        .await
        .expect("push delivered after reconnect");
    assert_eq!(got, Some(push));
}

async fn wait_until(cond: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("condition within 10 s");
}
