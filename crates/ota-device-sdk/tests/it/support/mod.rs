//! Test doubles: the platform on Mosquitto, a package server, and small helpers.

pub mod http;
pub mod platform;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ota_device_sdk::{
    DeviceConfig, DownloadTarget, DownloadedFile, FileSpec, Hasher, InstallError, SignMethod,
    UpdateHandler, UpgradeData, UpgradePush,
};

/// The shared test broker: `OTA_TEST_MQTT_BROKER` (`HOST:PORT`), by default the local
/// Mosquitto at 127.0.0.1:1883.
pub fn broker() -> (String, u16) {
    let addr = std::env::var("OTA_TEST_MQTT_BROKER").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let (host, port) = addr
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse().ok()?)))
        .unwrap_or_else(|| panic!("OTA_TEST_MQTT_BROKER={addr:?} is not HOST:PORT"));
    if std::net::TcpStream::connect((host.as_str(), port)).is_err() {
        panic!(
            "no MQTT broker at {host}:{port} (Mosquitto; scripts/test starts one, or set \
             OTA_TEST_MQTT_BROKER=HOST:PORT)"
        );
    }
    (host, port)
}

/// A product key no other test (or earlier run) uses.
pub fn unique_pk(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{tag}{}x{}x{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A device config on the test broker with short timeouts.
pub fn device_config(pk: &str, dn: &str) -> DeviceConfig {
    let (host, port) = broker();
    let mut cfg = DeviceConfig::new(pk, dn, "secret", &host, port);
    cfg.request_timeout = std::time::Duration::from_secs(5);
    cfg.min_backoff = std::time::Duration::from_millis(100);
    cfg
}

/// `len` bytes that are not all alike.
pub fn package(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Lower-case hex digest.
pub fn digest(method: SignMethod, data: &[u8]) -> String {
    let mut h = Hasher::new(method);
    h.update(data);
    h.hex()
}

/// A single-file HTTP push for `data` at `url`.
pub fn http_push(url: &str, data: &[u8], method: SignMethod, module: Option<&str>) -> UpgradePush {
    UpgradePush::new(
        UpgradeData {
            size: Some(data.len() as u64),
            version: "2.0.0".into(),
            url: Some(url.to_owned()),
            md5: Some(digest(SignMethod::Md5, data)),
            sign: Some(digest(method, data)),
            sign_method: method,
            module: module.map(str::to_owned),
            ..UpgradeData::default()
        },
        1_700_000_000_000,
    )
}

/// Keeps what it is given; installs by returning the pushed version, or fails as told.
#[derive(Default)]
pub struct Keep {
    pub fail: Option<InstallError>,
    pub files: std::sync::Mutex<Vec<DownloadedFile>>,
    pub to_disk: Option<(String, std::path::PathBuf)>,
}

impl UpdateHandler for Keep {
    fn target(&self, _: &UpgradeData, file: &FileSpec) -> DownloadTarget {
        match &self.to_disk {
            Some((name, path)) if *name == file.name => DownloadTarget::Path(path.clone()),
            _ => DownloadTarget::Memory,
        }
    }

    async fn install(
        &self,
        data: &UpgradeData,
        files: Vec<DownloadedFile>,
    ) -> Result<String, InstallError> {
        self.files.lock().unwrap().extend(files);
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(data.version.clone()),
        }
    }
}
