//! Server-side deltas (issue part 3): the operator asks for a delta of a full package from
//! an earlier version; the background generation is visible in the API; at push time the
//! device that reported that version gets the signed delta (`isDiff`) and rebuilds the new
//! image with the SDK, while a device on another version gets the full package.

use crate::fixtures::{self, Keep, expect_push, fleet, job, unique};
use crate::harness::{Server, poll_value};
use ota_device_sdk::{Device, DeviceConfig};
use serde_json::{Value, json};
use std::io::Cursor;
use std::time::Duration;

async fn upload(server: &Server, pk: &str, version: &str, bytes: Vec<u8>) -> String {
    let upload = server
        .api
        .upload_bytes(&format!("{}.bin", unique("pkg")), bytes)
        .await
        .expect("upload");
    let fw = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": unique("fw-"), "dest_version": version,
                    "url": upload["url"], "need_to_verify": false}),
        )
        .await
        .expect("create firmware");
    fw["firmware_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_get_the_delta_for_their_version() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let old = fixtures::payload(64 * 1024, 3);
    let mut new = old.clone();
    new[1000..1100].fill(0xAB);
    new.extend_from_slice(b"version two");
    upload(&server, &fleet.pk, "1.0.0", old.clone()).await;
    let new_id = upload(&server, &fleet.pk, "2.0.0", new.clone()).await;

    let path = format!("/firmwares/{new_id}/deltas");
    let requested = server
        .api
        .post(&path, &json!({"src_versions": ["1.0.0"]}))
        .await
        .unwrap();
    assert_eq!(requested["items"][0]["src_version"], "1.0.0", "{requested}");
    let (ok, deltas) = poll_value(
        || async { server.api.get(&path).await.unwrap() },
        |v: &Value| v["items"][0]["status"] == "READY",
    )
    .await;
    assert!(ok, "delta never ready: {deltas}");
    let delta_size = deltas["items"][0]["size"].as_u64().unwrap();
    assert!(delta_size < new.len() as u64 / 2, "{deltas}");

    let keys = server
        .api
        .get(&format!("/products/{}/signing-keys", fleet.pk))
        .await
        .unwrap();
    let mut devices = Vec::new();
    for (creds, version) in fleet.devices.iter().zip(["1.0.0", "0.9.0"]) {
        let mut cfg = DeviceConfig::new(
            &creds.product_key,
            &creds.device_name,
            &creds.device_secret,
            "127.0.0.1",
            server.mqtt.port(),
        );
        cfg.request_timeout = Duration::from_secs(5);
        cfg.trusted_keys = serde_json::from_value(keys["trustedPublicKeys"].clone()).unwrap();
        let device = Device::connect(cfg, Keep::default()).await.unwrap();
        device.report_version(None, version).await.unwrap();
        devices.push(device);
    }
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let batch = job(
        &server,
        &fixtures::Package {
            id: new_id.clone(),
            bytes: new.clone(),
        },
        json!({"target_selection": "ALL"}),
    )
    .await;

    // On 1.0.0: the signed delta, applied to the running image.
    let push = expect_push(&devices[0]).await;
    assert!(push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(delta_size));
    devices[0].run_update(&push).await.expect("delta update");
    let patch = devices[0].handler().installed.lock().unwrap()[0].clone();
    let mut rebuilt = Vec::new();
    ota_device_sdk::delta::apply_delta(Cursor::new(&old), Cursor::new(&patch), &mut rebuilt)
        .expect("apply");
    assert_eq!(rebuilt, new);

    // On 0.9.0: no delta, the full package.
    let push = expect_push(&devices[1]).await;
    assert!(!push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(new.len() as u64));
    devices[1].run_update(&push).await.expect("full update");
    let id = fixtures::id(&batch);
    for i in 0..2 {
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
}
