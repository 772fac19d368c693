//! Secure update end to end: the product's signing key is exported by the API, a device
//! trusting it installs a signed package, and when the stored package is tampered with
//! after upload the device refuses it (progress -3 naming the digest mismatch) and the task
//! ends FAILED. Rotation keeps the old key trusted during the overlap. The fleet simulator
//! verifies signatures with the keys it reads from the API.

use crate::fixtures::{self, Keep, expect_push, fleet, job, package};
use crate::harness::Server;
use ota_device_sdk::sim::{self, SimConfig, SimStats};
use ota_device_sdk::{Device, Hasher, SdkError, UpdateError};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Every file under `dir` whose content is `bytes`.
fn files_with(dir: &Path, bytes: &[u8], out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_with(&path, bytes, out);
        } else if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|b| b == bytes)
        {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_packages_install_and_tampered_ones_fail() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let keys: Value = server
        .api
        .get(&format!("/products/{}/signing-keys", fleet.pk))
        .await
        .unwrap();
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(1), "{keys}");
    let text = keys.to_string();
    assert!(!text.to_lowercase().contains("secret"), "{keys}");
    let trusted: Vec<String> = serde_json::from_value(keys["trustedPublicKeys"].clone()).unwrap();

    let creds = &fleet.devices[0];
    let mut cfg = fixtures::config(&server, creds);
    cfg.request_timeout = Duration::from_secs(5);
    cfg.trusted_keys = trusted;
    let device = Device::connect(cfg.clone(), Keep::default()).await.unwrap();
    device.report_version(None, "1.0.0").await.unwrap();

    // A signed package installs.
    let good = package(&server, &fleet.pk, "2.0.0", 8 * 1024).await;
    let batch = job(&server, &good, json!({"target_selection": "ALL"})).await;
    let push = expect_push(&device).await;
    assert!(push.data.digestsign.is_some(), "{push:?}");
    device.run_update(&push).await.expect("signed update");
    server
        .wait_status(&fixtures::id(&batch), fleet.name(0), "SUCCEEDED")
        .await;

    // Rotation: the new key signs, the old one stays trusted for the overlap.
    let rotated: Value = server
        .api
        .post(
            &format!("/products/{}/signing-keys/rotate", fleet.pk),
            &json!({"overlapSeconds": 3600}),
        )
        .await
        .unwrap();
    assert_eq!(
        rotated["trustedPublicKeys"].as_array().map(Vec::len),
        Some(2),
        "{rotated}"
    );
    assert_eq!(rotated["keys"][1]["active"], false, "{rotated}");
    // The device learns the new trusted set (as the simulator does from the API).
    device.close().await;
    cfg.trusted_keys = serde_json::from_value(rotated["trustedPublicKeys"].clone()).unwrap();
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    device.report_version(None, "2.0.0").await.unwrap();

    // Tamper with the stored package after upload: the device refuses it.
    let bad = package(&server, &fleet.pk, "3.0.0", 8 * 1024).await;
    let mut stored = Vec::new();
    files_with(server.data_dir(), &bad.bytes, &mut stored);
    assert!(!stored.is_empty(), "stored package not found");
    for path in &stored {
        let mut evil = bad.bytes.clone();
        evil[100] ^= 0x5a;
        std::fs::write(path, evil).unwrap();
    }
    let batch = job(&server, &bad, json!({"target_selection": "ALL"})).await;
    let push = expect_push(&device).await;
    let err = device.run_update(&push).await.unwrap_err();
    assert!(
        matches!(&err, UpdateError::Download(SdkError::DigestMismatch { .. })),
        "{err}"
    );
    let task = server
        .wait_status(&fixtures::id(&batch), fleet.name(0), "FAILED")
        .await;
    assert!(
        task.to_string().contains("-3") || task.to_string().contains("digest"),
        "{task}"
    );
    device.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_fleet_verifies_signatures() {
    let server = Server::start().await;
    let fleet = fleet(&server, 4).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;
    let trusted = ota::sim::trusted_keys(&server.api, &fleet.devices)
        .await
        .unwrap();
    assert_eq!(trusted.len(), 1);
    let mut config = SimConfig::new(fleet.devices.clone(), vec![server.mqtt]);
    config.trusted_keys = trusted;
    config.duration = Some(Duration::from_secs(60));
    let sim = tokio::spawn(sim::run(config, Arc::new(SimStats::default())));
    fixtures::wait_reported(&server, &fleet.pk, 4).await;
    let created = job(&server, &pkg, json!({"target_selection": "ALL"})).await;
    server
        .wait_job(&fixtures::id(&created), "COMPLETED", |j| {
            j["status"] == "COMPLETED"
        })
        .await;
    let snapshot = sim.await.unwrap().unwrap();
    assert_eq!(snapshot.succeeded, 4, "{snapshot:?}");
}

/// Uploads each of `files` and creates a multi-file package of `version`.
async fn multi_file_package(
    server: &Server,
    pk: &str,
    version: &str,
    files: &[(&str, Vec<u8>)],
) -> fixtures::Package {
    let mut refs = Vec::new();
    for (name, bytes) in files {
        let up = server
            .api
            .upload_bytes(&format!("{}.bin", fixtures::unique(name)), bytes.clone())
            .await
            .expect("upload");
        refs.push(json!({"name": name, "url": up["url"]}));
    }
    let fw = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": fixtures::unique("multi-"), "dest_version": version,
                    "files": refs, "need_to_verify": false}),
        )
        .await
        .expect("create multi-file package");
    fixtures::Package {
        id: fw["firmware_id"].as_str().unwrap().to_owned(),
        bytes: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_file_packages_are_signed_file_by_file() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let device = fixtures::online_trusting(&server, &fleet.devices[0], "1.0.0").await;

    let (boot, app) = (fixtures::payload(3000, 1), fixtures::payload(5000, 2));
    let good = multi_file_package(
        &server,
        &fleet.pk,
        "2.0.0",
        &[("boot", boot.clone()), ("app", app.clone())],
    )
    .await;
    let batch = job(&server, &good, json!({"target_selection": "ALL"})).await;
    let push = expect_push(&device).await;
    let manifest: Value = serde_json::from_str(
        push.data
            .ext_data
            .as_ref()
            .and_then(|e| e.manifest.as_deref())
            .expect("signed manifest"),
    )
    .unwrap();
    let names: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(names, ["boot", "app"], "{manifest}");
    device
        .run_update(&push)
        .await
        .expect("signed multi-file update");
    assert_eq!(*device.handler().installed.lock().unwrap(), [boot, app]);
    server
        .wait_status(&fixtures::id(&batch), fleet.name(0), "SUCCEEDED")
        .await;

    // One file altered in storage after upload, and its digest in the push altered to
    // match (a compromised database): only the signed manifest catches it. Refused with
    // -3 naming the mismatch, the task FAILED.
    let (boot3, app3) = (fixtures::payload(3100, 3), fixtures::payload(5100, 4));
    let bad = multi_file_package(
        &server,
        &fleet.pk,
        "3.0.0",
        &[("boot", boot3), ("app", app3.clone())],
    )
    .await;
    let mut stored = Vec::new();
    files_with(server.data_dir(), &app3, &mut stored);
    assert!(!stored.is_empty(), "stored file not found");
    for path in &stored {
        let mut evil = app3.clone();
        evil[10] ^= 1;
        std::fs::write(path, evil).unwrap();
    }
    let batch = job(&server, &bad, json!({"target_selection": "ALL"})).await;
    let mut push = expect_push(&device).await;
    let mut evil = app3.clone();
    evil[10] ^= 1;
    let mut hasher = Hasher::new(push.data.sign_method);
    hasher.update(&evil);
    let files = push.data.files.as_mut().expect("multi-file push");
    files[1].file_sign = hasher.hex();
    files[1].file_md5 = None;
    let err = device.run_update(&push).await.unwrap_err();
    assert_eq!(err.step(), Some(-3), "{err}");
    assert!(
        matches!(&err, UpdateError::Download(SdkError::DigestMismatch { .. })),
        "{err}"
    );
    server
        .wait_status(&fixtures::id(&batch), fleet.name(0), "FAILED")
        .await;
    device.close().await;
}
