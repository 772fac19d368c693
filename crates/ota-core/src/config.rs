//! Settings of the service layer, with the defaults of the Aliyun platform.

use ota_domain::Millis;

/// How the core behaves; every field has a production default.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Base URL devices use to download packages, e.g. `http://10.0.0.5:8080`.
    pub public_url: String,
    /// Maximum number of packages (Aliyun: 500 per instance).
    pub firmware_quota: i64,
    /// Largest accepted package file, in bytes (Aliyun: 1,000 MB).
    pub max_file_size: u64,
    /// How long a download URL in a push stays valid.
    pub download_url_ttl: Millis,
    /// Device events are committed in groups of at most this many.
    pub ingest_batch: usize,
    /// Device reports queued for the engine at most; a device link with more to hand in
    /// waits (holding back that device's connection) until there is room.
    pub ingest_queue: usize,
    /// How long the engine waits to fill a group before committing it.
    pub ingest_linger: std::time::Duration,
    /// How often the dispatcher releases pushes and the timer worker looks for due work.
    pub tick: std::time::Duration,
    /// Largest block a device may request over MQTT download (bytes).
    pub max_block_size: usize,
    /// Largest package deliverable over MQTT download (Aliyun: 16 MB).
    pub max_mqtt_download: u64,
    /// Deltas generated when a full single-file package is added and its request does not
    /// say which (native REST without delta fields, the console form left empty, Aliyun
    /// `CreateOTAFirmware`): from the N most recent other versions of its module,
    /// 0..=`ota_domain::validate::MAX_DELTA_SOURCES`. 0 (the default): none.
    pub delta_from_latest: usize,
    /// How long a told task may go without a word from its device before its push is sent
    /// again (milliseconds; doubling while silent, up to an hour); `None`: never.
    pub nudge_after: Option<Millis>,
    /// How long a request creating a batch waits for its tasks to be created before it
    /// answers with the batch still being created (`ota_domain::job::creation`).
    pub creation_wait: std::time::Duration,
    /// Seals access-key secrets at rest; every node sharing a store needs the same one.
    pub server_key: crate::sealing::ServerKey,
    /// How long audit events are kept (default 365 days).
    pub audit_retention: Millis,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".to_owned(),
            firmware_quota: 500,
            max_file_size: 1_000 * 1024 * 1024,
            download_url_ttl: 24 * 3_600_000,
            ingest_batch: 4_096,
            ingest_queue: 65_536,
            ingest_linger: std::time::Duration::from_millis(5),
            tick: std::time::Duration::from_millis(200),
            max_block_size: 128 * 1024,
            max_mqtt_download: 16 * 1024 * 1024,
            delta_from_latest: 0,
            nudge_after: Some(5 * 60_000),
            creation_wait: std::time::Duration::from_secs(4),
            server_key: crate::sealing::ServerKey::generate(),
            audit_retention: 365 * 24 * 3_600_000,
        }
    }
}
