//! Server-side deltas: the operator asks for a delta of a full package from an earlier
//! version (when adding the package, or later); the background generation is visible in
//! the API; at push time the device that reported that version gets the signed delta
//! (`isDiff`) by HTTPS or MQTT block download and rebuilds the new image with the SDK,
//! while a device on another version, one that does not say it applies deltas, or one whose
//! announced memory limit is below what the delta needs, gets the full package.

use crate::fixtures::{self, expect_push, fleet, job, unique};
use crate::harness::{Server, poll_value};
use ota_device_sdk::Device;
use ota_device_sdk::sim::{self, SimConfig, SimStats};
use serde_json::{Value, json};
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

/// Incompressible bytes (splitmix64), so only a real delta pays off.
fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..size)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

pub async fn upload(server: &Server, pk: &str, version: &str, bytes: Vec<u8>) -> String {
    upload_with(server, pk, version, bytes, json!({})).await["firmware_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Uploads `bytes` and creates a full package of `version` with `extra` creation fields;
/// returns the created package.
pub async fn upload_with(
    server: &Server,
    pk: &str,
    version: &str,
    bytes: Vec<u8>,
    extra: Value,
) -> Value {
    let upload = server
        .api
        .upload_bytes(&format!("{}.bin", unique("pkg")), bytes)
        .await
        .expect("upload");
    let mut body = json!({"product_key": pk, "name": unique("fw-"), "dest_version": version,
                          "url": upload["url"], "need_to_verify": false});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    server
        .api
        .post("/firmwares", &body)
        .await
        .expect("create firmware")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_get_the_delta_for_their_version() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let old = fixtures::payload(64 * 1024, 3);
    let mut new = old.clone();
    new[1000..1100].fill(0xAB);
    new.extend_from_slice(b"version two");
    upload(&server, &fleet.pk, "1.0.0", old.clone()).await;
    let new_id = upload(&server, &fleet.pk, "2.0.0", new.clone()).await;

    let (deltas, delta_size) = delta_from_1_0_0(&server, &new_id).await;
    assert!(delta_size < new.len() as u64 / 2, "{deltas}");

    let mut devices = Vec::new();
    for (creds, version) in fleet.devices.iter().zip(["1.0.0", "0.9.0"]) {
        devices.push(fixtures::online_trusting(&server, creds, version).await);
    }
    // On 1.0.0 too, but its reports do not say it applies deltas (as an Aliyun device).
    let creds = &fleet.devices[2];
    let mut cfg = fixtures::config(&server, creds);
    cfg.apply_deltas = false;
    let plain = Device::connect(cfg, fixtures::Keep::default())
        .await
        .unwrap();
    plain.report_version(None, "1.0.0").await.unwrap();
    fixtures::wait_reported(&server, &fleet.pk, 3).await;
    let batch = job_for_all(&server, &new_id, &new).await;

    // On 1.0.0: the signed delta, applied to the running image.
    delta_update(&devices[0], delta_size, &old, &new).await;

    // On 0.9.0: no delta, the full package.
    let push = expect_push(&devices[1]).await;
    assert!(!push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(new.len() as u64));
    devices[1].run_update(&push).await.expect("full update");
    // On 1.0.0 without delta support: the full package.
    let push = expect_push(&plain).await;
    assert!(!push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(new.len() as u64));
    plain.run_update(&push).await.expect("full update");
    let id = fixtures::id(&batch);
    for i in 0..3 {
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
}

/// Expects `device`'s push to be the delta of `delta_size` bytes, runs the update, and checks
/// that the patch it installed rebuilds `new` from `old`; returns the patch.
pub async fn delta_update(
    device: &fixtures::TestDevice,
    delta_size: u64,
    old: &[u8],
    new: &[u8],
) -> Vec<u8> {
    let push = expect_push(device).await;
    assert!(push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(delta_size));
    device.run_update(&push).await.expect("delta update");
    let patch = device.handler().installed.lock().unwrap()[0].clone();
    let mut rebuilt = Vec::new();
    ota_device_sdk::delta::apply_delta(Cursor::new(old), Cursor::new(&patch), &mut rebuilt)
        .expect("apply");
    assert_eq!(rebuilt, new);
    patch
}

/// A real executable update (ARMv7 shared library), whose smallest delta is full-old: from
/// `OTA_FIRMWARE_PAIRS`, `shared/data/firmware-pairs` beside the checkout, or under `/work`.
/// Asks for the delta of package `new_id` from 1.0.0 and waits until it is READY; returns the
/// package's delta listing and the delta's size.
pub async fn delta_from_1_0_0(server: &Server, new_id: &str) -> (Value, u64) {
    let path = format!("/firmwares/{new_id}/deltas");
    let requested = server
        .api
        .post(&path, &json!({"src_versions": ["1.0.0"]}))
        .await
        .unwrap();
    assert_eq!(requested["items"][0]["src_version"], "1.0.0", "{requested}");
    let deltas = first_delta_ready(server, &path).await;
    let size = deltas["items"][0]["size"].as_u64().unwrap();
    (deltas, size)
}

/// The deltas listed at `path` once the first is READY.
pub async fn first_delta_ready(server: &Server, path: &str) -> Value {
    let (ok, deltas) = poll_value(
        || async { server.api.get(path).await.unwrap() },
        |v: &Value| v["items"][0]["status"] == "READY",
    )
    .await;
    assert!(ok, "delta never ready: {deltas}");
    deltas
}

/// A batch of package `id` (whose image is `bytes`) for every device of its product.
pub async fn job_for_all(server: &Server, id: &str, bytes: &[u8]) -> Value {
    let package = fixtures::Package {
        id: id.to_owned(),
        bytes: bytes.to_vec(),
    };
    job(server, &package, json!({"target_selection": "ALL"})).await
}

fn executable_pair() -> (Vec<u8>, Vec<u8>) {
    let beside = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/firmware-pairs");
    let dir = std::env::var_os("OTA_FIRMWARE_PAIRS")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain([beside, "/work/shared/data/firmware-pairs".into()])
        .find(|d| d.join("orjson-armv7-3.10.6.so").is_file())
        .expect("the shared firmware pairs (set OTA_FIRMWARE_PAIRS)");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("firmware pair");
    (
        read("orjson-armv7-3.10.6.so"),
        read("orjson-armv7-3.10.7.so"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_too_little_memory_for_the_delta_gets_the_full_package() {
    let server = Server::start().await;
    let fleet = fleet(&server, 3).await;
    let (old, new) = executable_pair();
    upload(&server, &fleet.pk, "1.0.0", old.clone()).await;
    let new_id = upload(&server, &fleet.pk, "2.0.0", new.clone()).await;
    let (deltas, delta_size) = delta_from_1_0_0(&server, &new_id).await;

    // All on 1.0.0 and applying every format: no limit, a limit below the old image (an
    // MCU), and a limit with room to spare.
    let limits = [None, Some(256 * 1024), Some(64 << 20)];
    let mut devices = Vec::new();
    for (creds, limit) in fleet.devices.iter().zip(limits) {
        let mut cfg = fixtures::config(&server, creds);
        cfg.delta_memory_limit = limit;
        let device = Device::connect(cfg, fixtures::Keep::default())
            .await
            .unwrap();
        device.report_version(None, "1.0.0").await.unwrap();
        devices.push(device);
    }
    fixtures::wait_reported(&server, &fleet.pk, 3).await;
    let batch = job_for_all(&server, &new_id, &new).await;

    // Unlimited: the delta, which needs the whole old image in memory.
    let patch = delta_update(&devices[0], delta_size, &old, &new).await;
    let header = ota_delta::inspect(&patch[..]).unwrap();
    assert!(header.needs_full_old(), "{header:?}");
    assert!(header.apply_need() > 256 * 1024, "{header:?}");
    // The API shows what the device will need and which decoder version reads it.
    assert_eq!(
        deltas["items"][0]["apply_memory"],
        header.apply_need(),
        "{deltas}"
    );
    assert_eq!(deltas["items"][0]["format"], header.version, "{deltas}");

    // Too little memory for it: the full package, as for a device without the format.
    let push = expect_push(&devices[1]).await;
    assert!(!push.data.is_diff, "{push:?}");
    assert_eq!(push.data.size, Some(new.len() as u64));
    devices[1].run_update(&push).await.expect("full update");
    // Enough memory: the delta.
    let push = expect_push(&devices[2]).await;
    assert!(push.data.is_diff, "{push:?}");
    devices[2].run_update(&push).await.expect("delta update");
    let id = fixtures::id(&batch);
    for i in 0..3 {
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_chosen_at_upload_are_applied_by_a_simulated_fleet_over_https_and_mqtt() {
    let server = Server::start().await;
    let fleet = fleet(&server, 4).await;
    let old = noise(96 * 1024, 5);
    let mut new = old.clone();
    new[20_000..20_300].fill(0x5C);
    new.extend_from_slice(b"release 3");
    upload(&server, &fleet.pk, "1.0.0", old.clone()).await;
    upload(&server, &fleet.pk, "0.9.0", noise(96 * 1024, 9)).await;

    // A bad choice creates nothing.
    let refused = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": fleet.pk, "name": unique("fw-"), "dest_version": "3.0.0",
                    "url": "uploads/none.bin", "delta_from_latest": 11}),
        )
        .await
        .unwrap_err();
    let (status, body) = fixtures::failure(&refused);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "delta_from_latest", "{body}");
    let unknown = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": fleet.pk, "name": unique("fw-"), "dest_version": "3.0.0",
                    "url": "uploads/none.bin", "delta_from_versions": ["7.7.7"]}),
        )
        .await
        .unwrap_err();
    assert_eq!(fixtures::failure(&unknown).0, 404, "{unknown}");

    // The two most recent other versions of the module, chosen when the package is added.
    let created = upload_with(
        &server,
        &fleet.pk,
        "3.0.0",
        new.clone(),
        json!({"delta_from_latest": 2}),
    )
    .await;
    let mut sources: Vec<&str> = created["deltas"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["src_version"].as_str())
        .collect();
    sources.sort_unstable();
    assert_eq!(sources, ["0.9.0", "1.0.0"], "{created}");
    let new_id = created["firmware_id"].as_str().unwrap().to_owned();
    let path = format!("/firmwares/{new_id}/deltas");
    let (ok, deltas) = poll_value(
        || async { server.api.get(&path).await.unwrap() },
        |v: &Value| {
            v["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .all(|d| d["status"] != "PENDING" && d["status"] != "RUNNING")
            })
        },
    )
    .await;
    assert!(ok, "deltas never finished: {deltas}");
    let items = deltas["items"].as_array().unwrap();
    let from = |v: &str| items.iter().find(|d| d["src_version"] == v).unwrap();
    assert_eq!(from("1.0.0")["status"], "READY", "{deltas}");
    assert_eq!(from("1.0.0")["progress"], 100, "{deltas}");
    // 0.9.0 shares nothing with 3.0.0: the patch would not pay off.
    assert_eq!(from("0.9.0")["status"], "SKIPPED", "{deltas}");
    let delta_size = from("1.0.0")["size"].as_u64().unwrap();

    // The simulated fleet runs 1.0.0's real image and verifies signatures.
    let mut config = SimConfig::new(fleet.devices.clone(), vec![server.mqtt]);
    config.base_image = Some(old.clone());
    config.trusted_keys = ota::sim::trusted_keys(&server.api, &fleet.devices)
        .await
        .unwrap();
    config.duration = Some(Duration::from_secs(90));
    let stats = Arc::new(SimStats::default());
    let run = tokio::spawn(sim::run(config, Arc::clone(&stats)));
    fixtures::wait_reported(&server, &fleet.pk, 4).await;
    let package = fixtures::Package {
        id: new_id.clone(),
        bytes: new.clone(),
    };
    let https = job(
        &server,
        &package,
        json!({"target_selection": "SPECIFIC", "device_names": fleet.names(0..2)}),
    )
    .await;
    let mqtt = job(
        &server,
        &package,
        json!({"target_selection": "SPECIFIC", "device_names": fleet.names(2..4),
               "download_protocol": "MQTT"}),
    )
    .await;
    for (batch, range) in [(&https, 0..2), (&mqtt, 2..4)] {
        for i in range {
            server
                .wait_status(&fixtures::id(batch), fleet.name(i), "SUCCEEDED")
                .await;
        }
    }
    let snapshot = run.await.unwrap().unwrap();
    assert_eq!(snapshot.succeeded, 4, "{snapshot:?}");
    assert_eq!(snapshot.deltas_applied, 4, "{snapshot:?}");
    assert_eq!(snapshot.bytes, 4 * delta_size, "{snapshot:?}");

    // Deleting the package deletes its deltas and their stored patches.
    let listed = server.api.get(&path).await.unwrap();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
    let packages = server.data_dir().join("packages");
    let stored_before = count_files(&packages);
    server
        .api
        .delete(&format!("/firmwares/{new_id}"))
        .await
        .expect("delete package");
    let gone = server.api.get(&path).await.unwrap_err();
    assert_eq!(fixtures::failure(&gone).0, 404, "{gone}");
    // The package file and the one READY patch are gone.
    assert_eq!(count_files(&packages), stored_before - 2);
}

/// Asking a stored package for more deltas follows the rule package creation applies to
/// `delta_from_versions` (under the request's `src_versions`): not the package's own
/// version, no version twice, at most 10; a refused request queues nothing. Every source
/// version below has a full package, so only that rule stands in the way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requested_deltas_follow_the_creation_rule() {
    let server = Server::start().await;
    let fleet = fleet(&server, 0).await;
    let earlier: Vec<String> = (0..=10).map(|i| format!("1.{i}")).collect();
    for v in &earlier {
        fixtures::package(&server, &fleet.pk, v, 4 * 1024).await;
    }
    let target = fixtures::package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let path = format!("/firmwares/{}/deltas", target.id);

    let queued = server
        .api
        .post(&path, &json!({"src_versions": ["1.0"]}))
        .await
        .expect("request a delta");
    assert_eq!(
        queued["items"].as_array().map(Vec::len),
        Some(1),
        "{queued}"
    );

    let eleven = earlier.clone();
    let refusals = [
        (
            "own version",
            json!(["1.1", "2.0.0"]),
            "2.0.0 is the package's own version",
        ),
        ("twice", json!(["1.1", "1.1"]), "1.1 is listed twice"),
        ("eleven", json!(eleven), "at most 10 versions"),
    ];
    for (label, versions, rule) in refusals {
        let refused = server
            .api
            .post(&path, &json!({"src_versions": versions}))
            .await
            .unwrap_err();
        let (status, body) = fixtures::failure(&refused);
        assert_eq!(status, 400, "{label}: {body}");
        assert_eq!(body["code"], "InvalidParameter", "{label}: {body}");
        assert_eq!(body["field"], "src_versions", "{label}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(rule), "{label}: {body}");
        assert_eq!(
            delta_sources_of(&server, &target.id).await,
            ["1.0"],
            "{label}: stored a delta"
        );
    }

    // Asking again for a version that has a delta keeps that one delta.
    let again = server
        .api
        .post(&path, &json!({"src_versions": ["1.0"]}))
        .await
        .expect("request the same delta again");
    assert_eq!(again["items"].as_array().map(Vec::len), Some(1), "{again}");
    assert_eq!(delta_sources_of(&server, &target.id).await, ["1.0"]);
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() { count_files(&p) } else { 1 }
        })
        .sum()
}

/// Source versions of a package's deltas, sorted.
pub async fn delta_sources_of(server: &Server, id: &str) -> Vec<String> {
    let listed = server
        .api
        .get(&format!("/firmwares/{id}/deltas"))
        .await
        .expect("list deltas");
    src_versions(&listed["items"])
}

/// The `src_version`s of a JSON array of deltas, sorted.
pub fn src_versions(deltas: &Value) -> Vec<String> {
    let mut versions: Vec<String> = deltas
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["src_version"].as_str().unwrap().to_owned())
        .collect();
    versions.sort_unstable();
    versions
}
