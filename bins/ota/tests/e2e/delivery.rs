//! Scenarios 4, 7, 8 and 11: the ways a package reaches a device. Offline devices are
//! pushed when they connect (§2.2), NeedConfirm holds tasks in CONFIRM until confirmed,
//! NeedPush=false leaves the device to pull (§2.3), and DownloadProtocol=MQTT sends a
//! stream instead of a URL, fetched in CRC-checked blocks (§2.5).

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package};
use crate::harness::{Server, count};
use serde_json::json;

#[tokio::test]
async fn offline_device_is_pushed_when_it_connects() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 8 * 1024).await;
    let (a, b) = (fleet.name(0), fleet.name(1));
    let dev_a = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);

    let push = expect_push(&dev_a).await;
    dev_a.run_update(&push).await.expect("update");
    server.wait_status(&id, a, "SUCCEEDED").await;
    let j = server.job(&id).await;
    assert_eq!(j["status"], "IN_PROGRESS");
    assert_eq!(count(&j, "QUEUED"), 1, "{j}");
    assert_eq!(j["counts"]["queued"]["offline"], 1, "{j}");
    assert_eq!(j["counts"]["queued"]["rate_limited"], 0, "{j}");

    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    let push = expect_push(&dev_b).await;
    assert_eq!(push.data.version, "2.0.0");
    dev_b.run_update(&push).await.expect("update");
    server.wait_status(&id, b, "SUCCEEDED").await;
    server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
}

#[tokio::test]
async fn need_confirm_holds_tasks_until_confirmed() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "need_confirm": true}),
        )
        .await,
    );
    let name = fleet.name(0);
    assert_eq!(server.task(&id, name).await["status"], "CONFIRM");
    expect_no_push(&server, &dev).await;
    assert_eq!(
        dev.request_firmware(None).await.unwrap(),
        None,
        "no pull either"
    );
    assert_eq!(server.task(&id, name).await["status"], "CONFIRM");

    let task_id = server.task(&id, name).await["task_id"].clone();
    let confirmed = server
        .api
        .post("/tasks/confirm", &json!({"task_ids": [task_id]}))
        .await
        .unwrap();
    assert_eq!(confirmed["items"][0]["status"], "QUEUED", "{confirmed}");
    let push = expect_push(&dev).await;
    dev.run_update(&push).await.expect("update");
    server.wait_status(&id, name, "SUCCEEDED").await;
    // Confirming again is refused: the task is no longer waiting.
    let err = server
        .api
        .post("/tasks/confirm", &json!({"task_ids": [task_id]}))
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&err).0, 409, "{err:#}");
}

#[tokio::test]
async fn without_push_the_device_pulls() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    let other = online(&server, &fleet.devices[1], "1.0.0").await;
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "SPECIFIC", "device_names": [fleet.name(0)],
                   "need_push": false}),
        )
        .await,
    );
    let name = fleet.name(0);
    let t = server.task(&id, name).await;
    assert_eq!(
        (t["status"].as_str(), t["queued_reason"].as_str()),
        (Some("QUEUED"), Some("AWAITING_PULL"))
    );
    assert_eq!(
        server.job(&id).await["counts"]["queued"]["awaiting_pull"],
        1
    );
    expect_no_push(&server, &dev).await;

    assert_eq!(other.request_firmware(None).await.unwrap(), None);
    let push = dev
        .request_firmware(None)
        .await
        .unwrap()
        .expect("a pending package");
    assert_eq!(push.data.version, "2.0.0");
    assert!(push.data.url.is_some());
    server.wait_status(&id, name, "NOTIFIED").await;
    dev.run_update(&push).await.expect("update");
    server.wait_status(&id, name, "SUCCEEDED").await;
    assert_eq!(
        dev.request_firmware(None).await.unwrap(),
        None,
        "nothing left"
    );
}

#[tokio::test]
async fn mqtt_block_download_delivers_the_exact_package() {
    mqtt_block_update(&Server::start().await).await;
}

/// One device updates by MQTT block download on `server` and installs exactly the package:
/// 23,003 bytes, not a multiple of the 5 KiB block, so the last block is short. Shared by
/// the scenarios that run it on other device links and package stores.
pub async fn mqtt_block_update(server: &Server) {
    let fleet = fleet(server, 1).await;
    let pkg = package(server, &fleet.pk, "2.0.0", 23_003).await;
    let dev = online(server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(server, &fleet.pk, 1).await;
    let id = fixtures::id(
        &job(
            server,
            &pkg,
            json!({"target_selection": "ALL", "download_protocol": "MQTT"}),
        )
        .await,
    );
    let push = expect_push(&dev).await;
    let data = &push.data;
    assert_eq!(data.d_protocol.as_deref(), Some("mqtt"));
    assert!(data.stream_id.is_some() && data.url.is_none(), "{data:?}");
    assert_eq!(data.stream_file_id, Some(1));
    assert_eq!(data.size, Some(23_003));
    dev.run_update(&push).await.expect("update over MQTT");
    assert_eq!(
        *dev.handler().installed.lock().unwrap(),
        vec![pkg.bytes.clone()]
    );
    let t = server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
    assert_eq!(t["progress"], 100);
}
