//! Configuration of `ota serve`: defaults, then a TOML file, then `OTA_*` environment
//! variables, then command-line flags — each layer overriding the one before, layered by
//! `figment2` into one typed [`ServeConfig`] ([`load`]). Every field has a doc line and a
//! default; unknown fields are refused by name; every secret can also be read from a file
//! (`<name>_file`, for container and systemd credentials).

mod args;
mod check;
mod load;
#[cfg(test)]
mod tests;

pub use args::ServeArgs;

use ota_domain::validate::MAX_DELTA_SOURCES;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// The longest lifetime of an S3 presigned URL, in minutes (SigV4 allows 7 days).
const MAX_PRESIGNED_MINUTES: i64 = 7 * 24 * 60;
/// A node silent this long is lost: long enough for a garbage-collection pause or a
/// database fail-over not to count, short enough that a lost node's devices wait little.
const DEFAULT_NODE_LEASE_SECS: u64 = 20;
/// Default `nudge_secs`: five minutes.
pub const DEFAULT_NUDGE_SECS: u64 = 300;
/// Default `batch_creation_wait_ms`: well inside the 10 s an Aliyun SDK waits for an answer.
pub const DEFAULT_BATCH_CREATION_WAIT_MS: u64 = 4_000;
/// Accepted `batch_creation_wait_ms`.
pub const BATCH_CREATION_WAIT_MS: std::ops::RangeInclusive<u64> = 0..=30_000;
/// Accepted `node_lease_secs`.
const NODE_LEASE_SECS: std::ops::RangeInclusive<u64> = 3..=600;

/// Everything `ota serve` can be told. Every field has a default that runs a complete
/// platform on one machine. Addresses are `HOST:PORT`, host names included.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Directory for the SQLite database, packages and the generated secrets.
    pub data_dir: PathBuf,
    /// Address of the HTTP server (management API, downloads, console).
    #[serde(deserialize_with = "address")]
    pub http_addr: SocketAddr,
    /// Address of the embedded MQTT endpoint for devices.
    #[serde(deserialize_with = "address")]
    pub mqtt_addr: SocketAddr,
    /// Address of an HTTPS listener serving what `http_addr` serves (API, console,
    /// downloads), with `tls_cert_file` and `tls_key_file`. When set, download URLs default
    /// to it. Unset: no HTTPS listener.
    #[serde(deserialize_with = "optional_address")]
    pub https_addr: Option<SocketAddr>,
    /// Address of the embedded endpoint's MQTT-over-TLS listener (e.g. `0.0.0.0:8883`),
    /// beside `mqtt_addr`; needs `tls_cert_file` and `tls_key_file`. Unset: no TLS listener.
    #[serde(deserialize_with = "optional_address")]
    pub mqtt_tls_addr: Option<SocketAddr>,
    /// PEM certificate chain (leaf first) the TLS listeners present.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<PathBuf>,
    /// `host:port` of an external MQTT broker (Mosquitto, EMQX, VerneMQ). When set, the
    /// embedded endpoint is not started: the server joins the broker as a client and shares
    /// the device topics with the other nodes (`$share/ota/…`).
    pub mqtt_broker: Option<String>,
    /// Username for the external broker.
    pub mqtt_broker_username: Option<String>,
    /// Shared-subscription group of the external broker: the nodes of one platform share
    /// one; platforms sharing a broker need different ones.
    pub mqtt_share_group: String,
    /// Password for the external broker (never logged).
    pub mqtt_broker_password: Option<Secret>,
    /// A file holding `mqtt_broker_password` (instead of the value itself).
    pub mqtt_broker_password_file: Option<PathBuf>,
    /// Behind an external broker, seconds without a message after which a device counts as
    /// offline; 0: never (see docs/adr/0005-external-broker.md).
    pub mqtt_presence_timeout_secs: u64,
    /// Bearer token the broker must send to `/mqtt/auth` and `/mqtt/acl`; unset: none asked.
    pub mqtt_http_auth_secret: Option<Secret>,
    /// A file holding `mqtt_http_auth_secret`.
    pub mqtt_http_auth_secret_file: Option<PathBuf>,
    /// Base URL devices use to reach the HTTP server (download URLs in pushes).
    /// Default: `http://<http_addr>`.
    pub public_url: Option<String>,
    /// S3 bucket for packages (AWS S3 or any S3-compatible service). When set, packages are
    /// stored there instead of `data_dir/packages`, and pushes carry presigned URLs of the
    /// bucket, so downloads bypass the server.
    pub s3_bucket: Option<String>,
    /// Endpoint URL of an S3-compatible service, e.g. `http://minio.local:9000`; unset: AWS.
    pub s3_endpoint: Option<String>,
    /// Region of the bucket; unset: `AWS_REGION` or `us-east-1`.
    pub s3_region: Option<String>,
    /// Key prefix inside the bucket, so several platforms can share one.
    pub s3_prefix: String,
    /// Access key; unset: the standard `AWS_*` environment variables.
    pub s3_access_key_id: Option<String>,
    /// Secret key (never logged); unset: `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<Secret>,
    /// A file holding `s3_secret_access_key`.
    pub s3_secret_access_key_file: Option<PathBuf>,
    /// Store URL: `sqlite://…` or `postgres://…`. Default: SQLite file in `data_dir`. It
    /// may hold a password: it is never logged.
    pub database_url: Option<Secret>,
    /// A file holding `database_url`.
    pub database_url_file: Option<PathBuf>,
    /// Maximum number of packages.
    pub firmware_quota: i64,
    /// Largest accepted package file in MB.
    pub max_file_mb: u64,
    /// Lifetime of download URLs in pushes, in minutes.
    pub download_url_ttl_minutes: i64,
    /// Deltas generated when a full single-file package is added without saying which (on
    /// every face, Aliyun `CreateOTAFirmware` included): from the N most recent other
    /// versions of its module, 0..=10. 0: only the deltas a request asks for.
    pub delta_from_latest: i64,
    /// Seconds a node may be silent before the other nodes declare it lost and recover what
    /// it may have dropped (docs/adr/0008-node-liveness.md); it renews its heartbeat four
    /// times as often. 3-600.
    pub node_lease_secs: u64,
    /// Seconds a told task (NOTIFIED, IN_PROGRESS) may go without a word from its device
    /// before its push is sent again, in case the push or the device's answer was lost;
    /// the wait doubles while the device stays silent, up to an hour. 0: never. 0 or 5-86400.
    pub nudge_secs: u64,
    /// Milliseconds a request creating a batch waits for all its tasks to be created
    /// before it answers with the batch still being created (it is then held, pushing
    /// nothing, until they are). 0-30000.
    pub batch_creation_wait_ms: u64,
    /// File holding the server key (64 hex digits) that seals access-key secrets in the
    /// store. Unset: `<data_dir>/server.key`, made on the first start. Every node sharing a
    /// PostgreSQL store must be given the same file; keep it out of database backups.
    pub server_key_file: Option<PathBuf>,
    /// Days audit events are kept before they are deleted. 1-36500.
    pub audit_retention_days: u64,
    /// Log filter, e.g. `info` or `ota=debug`.
    pub log: String,
    /// Let `POST /api/v1/debug/clock` move the platform's time forward (tests, demos).
    /// Never enable in production.
    pub adjustable_clock: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("ota-data"),
            http_addr: "127.0.0.1:8080".parse().expect("valid address"),
            mqtt_addr: "127.0.0.1:1883".parse().expect("valid address"),
            https_addr: None,
            mqtt_tls_addr: None,
            tls_cert_file: None,
            tls_key_file: None,
            mqtt_broker: None,
            mqtt_broker_username: None,
            mqtt_share_group: "ota".to_owned(),
            mqtt_broker_password: None,
            mqtt_broker_password_file: None,
            mqtt_presence_timeout_secs: 0,
            mqtt_http_auth_secret: None,
            mqtt_http_auth_secret_file: None,
            public_url: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_prefix: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_secret_access_key_file: None,
            database_url: None,
            database_url_file: None,
            firmware_quota: 500,
            max_file_mb: 1_000,
            download_url_ttl_minutes: 24 * 60,
            delta_from_latest: 0,
            node_lease_secs: DEFAULT_NODE_LEASE_SECS,
            nudge_secs: DEFAULT_NUDGE_SECS,
            batch_creation_wait_ms: DEFAULT_BATCH_CREATION_WAIT_MS,
            server_key_file: None,
            audit_retention_days: 365,
            log: "info".to_owned(),
            adjustable_clock: false,
        }
    }
}

/// A setting that must not appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl ServeConfig {
    /// The default delta sources as the core takes them (after [`ServeConfig::check`]).
    pub fn delta_from_latest(&self) -> usize {
        usize::try_from(self.delta_from_latest)
            .unwrap_or(0)
            .min(MAX_DELTA_SOURCES)
    }

    /// The external broker as `(host, port)`, if one is set.
    pub fn mqtt_broker(&self) -> Option<anyhow::Result<(String, u16)>> {
        let text = self.mqtt_broker.as_deref()?.trim();
        let parsed = text
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
            .filter(|(host, port)| !host.is_empty() && *port != 0)
            .map(|(host, port)| {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                (host.to_owned(), port)
            });
        Some(parsed.ok_or_else(|| {
            anyhow::anyhow!(
                "mqtt_broker (--mqtt-broker / OTA_MQTT_BROKER) must be HOST:PORT, not {text:?}"
            )
        }))
    }

    /// The TLS certificate chain and key `tls_cert_file` and `tls_key_file` name.
    pub fn tls_server_config(
        &self,
        device_certificates: bool,
    ) -> anyhow::Result<std::sync::Arc<ota_device_gateway::TlsServerConfig>> {
        use anyhow::Context;
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else {
            anyhow::bail!("TLS listeners need tls_cert_file and tls_key_file");
        };
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        let loaded = match device_certificates {
            true => ota_device_gateway::mqtt_tls_server_config(&cert_pem, &key_pem),
            false => ota_device_gateway::tls_server_config(&cert_pem, &key_pem),
        };
        loaded.with_context(|| {
            format!(
                "loading the TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })
    }

    /// The S3 bucket settings, when packages are stored in one.
    pub fn s3(&self) -> Option<ota_blob::S3Config> {
        Some(ota_blob::S3Config {
            bucket: self.s3_bucket.clone()?,
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.as_ref().map(|s| s.0.clone()),
            prefix: self.s3_prefix.clone(),
        })
    }

    /// This node's liveness settings, given its HTTP address and the public URL in force
    /// (configured, or the per-node default).
    pub fn node_settings(
        &self,
        http_addr: SocketAddr,
        public_url: &str,
    ) -> ota_core::nodes::NodeSettings {
        ota_core::nodes::NodeSettings {
            name: format!("{}/{http_addr}", host_name()),
            public_url: public_url.to_owned(),
            public_url_explicit: self.public_url.is_some(),
            presigned_downloads: self.s3_bucket.is_some(),
            lease: std::time::Duration::from_secs(self.node_lease_secs),
            repush_on_loss: self.mqtt_broker.is_some(),
        }
    }

    /// The store URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .as_ref()
            .map(|s| s.0.clone())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    self.data_dir.join("ota.db").display()
                )
            })
    }
}

/// This machine's host name (Linux), for telling a node's restarts from its neighbours.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `HOST:PORT`, an IP address or a host name resolved now.
fn address<'de, D: serde::Deserializer<'de>>(de: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(de)?;
    crate::address::parse_socket_addr(&text).map_err(serde::de::Error::custom)
}

fn optional_address<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> Result<Option<SocketAddr>, D::Error> {
    Option::<String>::deserialize(de)?
        .map(|text| crate::address::parse_socket_addr(&text).map_err(serde::de::Error::custom))
        .transpose()
}
