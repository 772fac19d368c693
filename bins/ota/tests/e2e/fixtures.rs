//! What scenarios set up again and again: a product with devices, an uploaded package, a
//! batch, and SDK devices that connect, wait for pushes and report by hand or run whole
//! updates. Kept apart from the scenarios so each of those reads as its rule.

use crate::harness::Server;
use ota_device_sdk::sim::{self, DeviceCredentials, SimConfig, SimSnapshot, SimStats};
use ota_device_sdk::{
    Device, DeviceConfig, DownloadedFile, InstallError, StoredFile, UpdateHandler, UpgradeData,
    UpgradePush,
};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name no other scenario in this process uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", SEQ.fetch_add(1, Ordering::Relaxed))
}

/// A product and its registered devices.
pub struct Fleet {
    pub pk: String,
    pub devices: Vec<DeviceCredentials>,
}

impl Fleet {
    pub fn name(&self, i: usize) -> &str {
        &self.devices[i].device_name
    }

    pub fn names(&self, range: std::ops::Range<usize>) -> Vec<String> {
        self.devices[range]
            .iter()
            .map(|d| d.device_name.clone())
            .collect()
    }
}

/// Creates a product with `n` devices.
pub async fn fleet(server: &Server, n: usize) -> Fleet {
    let product = server
        .api
        .post("/products", &json!({"name": unique("Fleet")}))
        .await
        .expect("create product");
    let pk = product["product_key"].as_str().unwrap().to_owned();
    let devices = ota::sim::register(&server.api, &pk, n)
        .await
        .expect("register devices");
    Fleet { pk, devices }
}

/// An uploaded package and what devices should end up with.
pub struct Package {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// Deterministic package content of `size` bytes.
pub fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| {
            (i as u32)
                .wrapping_mul(2_654_435_761)
                .rotate_left(u32::from(seed)) as u8
        })
        .collect()
}

/// Uploads `size` bytes and creates a package of `version` (no verification required).
pub async fn package(server: &Server, pk: &str, version: &str, size: usize) -> Package {
    package_with(server, pk, version, size, json!({"need_to_verify": false})).await
}

/// As [`package`], with extra creation fields (e.g. `need_to_verify`).
pub async fn package_with(
    server: &Server,
    pk: &str,
    version: &str,
    size: usize,
    extra: Value,
) -> Package {
    let bytes = payload(size, version.len() as u8);
    let upload = server
        .api
        .upload_bytes(&format!("{}.bin", unique("pkg")), bytes.clone())
        .await
        .expect("upload");
    let mut body = json!({
        "product_key": pk,
        "name": unique("fw-"),
        "dest_version": version,
        "url": upload["url"],
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let fw = server
        .api
        .post("/firmwares", &body)
        .await
        .expect("create firmware");
    Package {
        id: fw["firmware_id"].as_str().unwrap().to_owned(),
        bytes,
    }
}

/// Creates a batch of `package` (body as `POST /firmwares/{id}/jobs`); panics on refusal.
pub async fn job(server: &Server, package: &Package, body: Value) -> Value {
    try_job(server, package, body).await.expect("create batch")
}

pub async fn try_job(server: &Server, package: &Package, body: Value) -> anyhow::Result<Value> {
    server
        .api
        .post(&format!("/firmwares/{}/jobs", package.id), &body)
        .await
}

/// The job id of a created batch.
pub fn id(job: &Value) -> String {
    job["job_id"].as_str().expect("job_id").to_owned()
}

/// The HTTP status and body of a refused API call.
pub fn failure(err: &anyhow::Error) -> (u16, Value) {
    let f = err
        .downcast_ref::<ota::client::ApiFailure>()
        .unwrap_or_else(|| panic!("not an API failure: {err:#}"));
    (f.status, f.body.clone())
}

/// An [`UpdateHandler`] that keeps files in memory and reports the pushed version.
#[derive(Default)]
pub struct Keep {
    pub installed: Mutex<Vec<Vec<u8>>>,
}

impl UpdateHandler for Keep {
    async fn install(
        &self,
        data: &UpgradeData,
        files: Vec<DownloadedFile>,
    ) -> Result<String, InstallError> {
        for f in files {
            if let StoredFile::Memory(bytes) = f.stored {
                self.installed.lock().unwrap().push(bytes);
            }
        }
        Ok(data.version.clone())
    }
}

pub type TestDevice = Device<Keep>;

/// The SDK configuration of a test device: the server's MQTT endpoint, quick retries.
pub fn config(server: &Server, creds: &DeviceCredentials) -> DeviceConfig {
    let mut cfg = DeviceConfig::new(
        &creds.product_key,
        &creds.device_name,
        &creds.device_secret,
        "127.0.0.1",
        server.mqtt.port(),
    );
    cfg.min_backoff = Duration::from_millis(200);
    cfg.max_backoff = Duration::from_secs(1);
    cfg.request_timeout = Duration::from_secs(5);
    cfg
}

/// Connects an SDK device and reports `version`.
pub async fn online(server: &Server, creds: &DeviceCredentials, version: &str) -> TestDevice {
    let device = Device::connect(config(server, creds), Keep::default())
        .await
        .expect("device connects");
    device
        .report_version(None, version)
        .await
        .expect("report version");
    device
}

/// Connects an SDK device trusting the product's package-signing keys (as the API lists
/// them now) and reports `version`.
pub async fn online_trusting(
    server: &Server,
    creds: &DeviceCredentials,
    version: &str,
) -> TestDevice {
    let keys = server
        .api
        .get(&format!("/products/{}/signing-keys", creds.product_key))
        .await
        .expect("signing keys");
    let mut cfg = config(server, creds);
    cfg.trusted_keys = serde_json::from_value(keys["trustedPublicKeys"].clone()).unwrap();
    let device = Device::connect(cfg, Keep::default())
        .await
        .expect("device connects");
    device
        .report_version(None, version)
        .await
        .expect("report version");
    device
}

/// Connects with a wrong secret; returns the error.
pub async fn connect_refused(server: &Server, creds: &DeviceCredentials) -> String {
    let mut cfg = config(server, creds);
    cfg.device_secret = "not-the-secret".into();
    cfg.connect_timeout = Duration::from_secs(3);
    match Device::connect(cfg, Keep::default()).await {
        Ok(_) => panic!("a wrong secret was accepted"),
        Err(e) => e.to_string(),
    }
}

/// The next push, within 10 s.
pub async fn expect_push(device: &TestDevice) -> UpgradePush {
    tokio::time::timeout(Duration::from_secs(10), device.next_push())
        .await
        .unwrap_or_else(|_| panic!("{}: no push within 10 s", device.config().device_name))
        .expect("device open")
}

/// A module no package uses: reports and pulls on it are barriers, not state.
const BARRIER_MODULE: &str = "e2e-barrier";

/// Waits until the server has applied everything `device` sent so far: a later version
/// report on a module no package uses is stored, and the server applies each device's
/// reports in order.
pub async fn settled(server: &Server, device: &TestDevice) {
    let marker = unique("m");
    device
        .report_version(Some(BARRIER_MODULE), &marker)
        .await
        .expect("barrier report");
    let name = &device.config().device_name;
    let path = format!("/products/{}/devices/{name}", device.config().product_key);
    let (stored, last) = crate::harness::poll_value(
        || async { server.api.get(&path).await.expect("device") },
        |d| {
            d["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|v| v["module"] == BARRIER_MODULE && v["version"] == marker.as_str())
        },
    )
    .await;
    assert!(
        stored,
        "{name}: the barrier report was never stored: {last}"
    );
}

/// Asserts that the platform pushes `device` nothing now: everything the device sent
/// before has been applied ([`settled`]), the dispatcher and the timers have looked at the
/// result twice, and everything the server queued for the device before has arrived (a
/// pull's reply, which travels behind it, has) — and no push is among it.
pub async fn expect_no_push(server: &Server, device: &TestDevice) {
    settled(server, device).await;
    server.wait_engine_ticks(2).await;
    assert_eq!(
        device
            .request_firmware(Some(BARRIER_MODULE))
            .await
            .expect("barrier pull"),
        None
    );
    if let Ok(Some(push)) = tokio::time::timeout(Duration::ZERO, device.next_push()).await {
        panic!(
            "{}: unexpected push {:?}",
            device.config().device_name,
            push.data.version
        );
    }
}

/// Reports a progress step.
pub async fn progress(device: &TestDevice, step: i32) {
    device
        .report_progress(None, step, "e2e")
        .await
        .expect("report progress");
}

/// Runs a simulated fleet of `devices` (all at `1.0.0`) in the background.
pub fn simulate(
    server: &Server,
    devices: Vec<DeviceCredentials>,
    behaviour: sim::Behaviour,
) -> (
    Arc<SimStats>,
    tokio::task::JoinHandle<Result<SimSnapshot, ota_device_sdk::SdkError>>,
) {
    let mut config = SimConfig::new(devices, vec![server.mqtt]);
    config.behaviour = behaviour;
    config.connect_concurrency = 16;
    config.duration = Some(Duration::from_secs(60));
    let stats = Arc::new(SimStats::default());
    let handle = tokio::spawn(sim::run(config, Arc::clone(&stats)));
    (stats, handle)
}

/// Waits until `n` devices of the product reported a version.
pub async fn wait_reported(server: &Server, pk: &str, n: i64) {
    let (ok, last) = crate::harness::poll_value(
        || async {
            server
                .api
                .get(&format!("/products/{pk}/versions"))
                .await
                .expect("versions")
        },
        |v| {
            v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["devices"].as_i64())
                .sum::<i64>()
                >= n
        },
    )
    .await;
    assert!(ok, "{n} devices never reported: {last}");
}

/// A connection to the server's SQLite database, beside the server, as another tool's.
pub async fn open_store(server: &Server) -> sqlx::SqliteConnection {
    let db = server.data_dir().join("ota.db");
    <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the server's database")
}

/// Locks the server's SQLite database for writing, as a stuck tool would.
pub async fn lock_store(server: &Server) -> sqlx::SqliteConnection {
    let mut lock = open_store(server).await;
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .expect("lock the database");
    lock
}

pub async fn unlock_store(mut lock: sqlx::SqliteConnection) {
    sqlx::query("COMMIT").execute(&mut lock).await.unwrap();
}

/// The server a short benchmark run starts for itself: this build's binary, on SQLite.
pub fn own_server() -> ota::launch::OwnServer {
    ota::launch::OwnServer {
        database_url: None,
        server: Some(env!("CARGO_BIN_EXE_ota").into()),
    }
}
