//! Configuration of `ota serve`: defaults, then a TOML file, then `OTA_*` environment
//! variables, then command-line flags — each layer overriding the one before.

use ota_domain::validate::MAX_DELTA_SOURCES;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The longest lifetime of an S3 presigned URL, in minutes (SigV4 allows 7 days).
const MAX_PRESIGNED_MINUTES: i64 = 7 * 24 * 60;
/// A node silent this long is lost: long enough for a garbage-collection pause or a
/// database fail-over not to count, short enough that a lost node's devices wait little.
const DEFAULT_NODE_LEASE_SECS: u64 = 20;
/// Default `nudge_secs`: five minutes.
pub const DEFAULT_NUDGE_SECS: u64 = 300;
/// Accepted `node_lease_secs`.
const NODE_LEASE_SECS: std::ops::RangeInclusive<u64> = 3..=600;

/// Everything `ota serve` can be told. Every field has a default that runs a complete
/// platform on one machine.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Directory for the SQLite database, packages and the generated secrets.
    pub data_dir: PathBuf,
    /// Address of the HTTP server (management API, downloads, console).
    pub http_addr: SocketAddr,
    /// Address of the embedded MQTT endpoint for devices.
    pub mqtt_addr: SocketAddr,
    /// Address of an HTTPS listener serving what `http_addr` serves (API, console,
    /// downloads), with `tls_cert_file` and `tls_key_file`. When set, download URLs default
    /// to it. Unset: no HTTPS listener.
    pub https_addr: Option<SocketAddr>,
    /// Address of the embedded endpoint's MQTT-over-TLS listener (e.g. `0.0.0.0:8883`),
    /// beside `mqtt_addr`; needs `tls_cert_file` and `tls_key_file`. Unset: no TLS listener.
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
    /// Behind an external broker, seconds without a message after which a device counts as
    /// offline; 0: never (see docs/adr/0005-external-broker.md).
    pub mqtt_presence_timeout_secs: u64,
    /// Bearer token the broker must send to `/mqtt/auth` and `/mqtt/acl`; unset: none asked.
    pub mqtt_http_auth_secret: Option<Secret>,
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
    /// Store URL: `sqlite://…` or `postgres://…`. Default: SQLite file in `data_dir`.
    pub database_url: Option<String>,
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
            mqtt_presence_timeout_secs: 0,
            mqtt_http_auth_secret: None,
            public_url: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_prefix: String::new(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            database_url: None,
            firmware_quota: 500,
            max_file_mb: 1_000,
            download_url_ttl_minutes: 24 * 60,
            delta_from_latest: 0,
            node_lease_secs: DEFAULT_NODE_LEASE_SECS,
            nudge_secs: DEFAULT_NUDGE_SECS,
            log: "info".to_owned(),
            adjustable_clock: false,
        }
    }
}

/// A setting that must not appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Overrides given on the command line.
#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// A TOML configuration file.
    #[arg(long, env = "OTA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the database, packages and secrets.
    #[arg(long, env = "OTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, env = "OTA_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// MQTT listen address for devices.
    #[arg(long, env = "OTA_MQTT_ADDR")]
    pub mqtt_addr: Option<SocketAddr>,
    /// HTTPS listen address (with `--tls-cert-file`, `--tls-key-file`).
    #[arg(long, env = "OTA_HTTPS_ADDR")]
    pub https_addr: Option<SocketAddr>,
    /// MQTT-over-TLS listen address for devices (with `--tls-cert-file`, `--tls-key-file`).
    #[arg(long, env = "OTA_MQTT_TLS_ADDR")]
    pub mqtt_tls_addr: Option<SocketAddr>,
    /// PEM certificate chain of the TLS listener.
    #[arg(long, env = "OTA_TLS_CERT_FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the TLS listener.
    #[arg(long, env = "OTA_TLS_KEY_FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// External MQTT broker `host:port`; replaces the embedded endpoint.
    #[arg(long, env = "OTA_MQTT_BROKER")]
    pub mqtt_broker: Option<String>,
    /// Username for the external broker (the password: `OTA_MQTT_BROKER_PASSWORD`).
    #[arg(long, env = "OTA_MQTT_BROKER_USERNAME")]
    pub mqtt_broker_username: Option<String>,
    /// Base URL devices use for downloads.
    #[arg(long, env = "OTA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `sqlite://…` or `postgres://…`.
    #[arg(long, env = "OTA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Deltas from the N (0-10) most recent versions when a package is added without saying.
    #[arg(long, env = "OTA_DELTA_FROM_LATEST")]
    pub delta_from_latest: Option<String>,
    /// Allow moving the clock forward through the API (tests and demos only).
    #[arg(long)]
    pub adjustable_clock: bool,
}

impl ServeConfig {
    /// Layers defaults, the file, the environment and the flags.
    pub fn load(args: &ServeArgs) -> anyhow::Result<ServeConfig> {
        let mut config = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("in {}: {e}", path.display()))?
            }
            None => ServeConfig::default(),
        };
        if let Ok(v) = std::env::var("OTA_FIRMWARE_QUOTA") {
            config.firmware_quota = v
                .parse()
                .map_err(|_| anyhow::anyhow!("OTA_FIRMWARE_QUOTA must be an integer"))?;
        }
        if let Ok(v) = std::env::var("OTA_MAX_FILE_MB") {
            config.max_file_mb = v
                .parse()
                .map_err(|_| anyhow::anyhow!("OTA_MAX_FILE_MB must be an integer"))?;
        }
        if let Ok(v) = std::env::var("OTA_MQTT_BROKER_PASSWORD") {
            config.mqtt_broker_password = Some(Secret(v));
        }
        if let Ok(v) = std::env::var("OTA_MQTT_SHARE_GROUP") {
            config.mqtt_share_group = v;
        }
        if let Ok(v) = std::env::var("OTA_MQTT_HTTP_AUTH_SECRET") {
            config.mqtt_http_auth_secret = Some(Secret(v));
        }
        if let Ok(v) = std::env::var("OTA_MQTT_PRESENCE_TIMEOUT_SECS") {
            config.mqtt_presence_timeout_secs = v.trim().parse().map_err(|_| {
                anyhow::anyhow!("OTA_MQTT_PRESENCE_TIMEOUT_SECS must be a whole number of seconds")
            })?;
        }
        for (name, field) in [
            ("OTA_S3_BUCKET", &mut config.s3_bucket),
            ("OTA_S3_ENDPOINT", &mut config.s3_endpoint),
            ("OTA_S3_REGION", &mut config.s3_region),
            ("OTA_S3_ACCESS_KEY_ID", &mut config.s3_access_key_id),
        ] {
            if let Ok(v) = std::env::var(name) {
                *field = Some(v);
            }
        }
        if let Ok(v) = std::env::var("OTA_S3_PREFIX") {
            config.s3_prefix = v;
        }
        if let Ok(v) = std::env::var("OTA_S3_SECRET_ACCESS_KEY") {
            config.s3_secret_access_key = Some(Secret(v));
        }
        if let Ok(v) = std::env::var("OTA_NODE_LEASE_SECS") {
            config.node_lease_secs = v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "node_lease_secs (OTA_NODE_LEASE_SECS) must be a whole number of seconds between 3 and 600, not {v:?}"
                )
            })?;
        }
        if let Ok(v) = std::env::var("OTA_NUDGE_SECS") {
            config.nudge_secs = v.trim().parse().map_err(|_| {
                anyhow::anyhow!(
                    "nudge_secs (OTA_NUDGE_SECS) must be a whole number of seconds, 0 or 5-86400, not {v:?}"
                )
            })?;
        }
        if let Ok(v) = std::env::var("OTA_LOG") {
            config.log = v;
        }
        if let Some(v) = &args.data_dir {
            config.data_dir = v.clone();
        }
        if let Some(v) = args.http_addr {
            config.http_addr = v;
        }
        if let Some(v) = args.mqtt_addr {
            config.mqtt_addr = v;
        }
        if let Some(v) = args.https_addr {
            config.https_addr = Some(v);
        }
        if let Some(v) = args.mqtt_tls_addr {
            config.mqtt_tls_addr = Some(v);
        }
        if let Some(v) = &args.tls_cert_file {
            config.tls_cert_file = Some(v.clone());
        }
        if let Some(v) = &args.tls_key_file {
            config.tls_key_file = Some(v.clone());
        }
        if let Some(v) = &args.mqtt_broker {
            config.mqtt_broker = Some(v.clone());
        }
        if let Some(v) = &args.mqtt_broker_username {
            config.mqtt_broker_username = Some(v.clone());
        }
        if let Some(v) = &args.public_url {
            config.public_url = Some(v.clone());
        }
        if args.adjustable_clock {
            config.adjustable_clock = true;
        }
        if let Some(v) = &args.database_url {
            config.database_url = Some(v.clone());
        }
        if let Some(v) = &args.delta_from_latest {
            config.delta_from_latest = v.trim().parse().map_err(|_| {
                anyhow::anyhow!("delta_from_latest (--delta-from-latest / OTA_DELTA_FROM_LATEST) must be a whole number between 0 and {MAX_DELTA_SOURCES}, not {v:?}")
            })?;
        }
        config.check()?;
        Ok(config)
    }

    /// Refuses values no part of the server would accept, naming the setting.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(Err(e)) = self.mqtt_broker() {
            anyhow::bail!("{e}");
        }
        for (name, set) in [
            ("https_addr", self.https_addr.is_some()),
            ("mqtt_tls_addr", self.mqtt_tls_addr.is_some()),
        ] {
            if set && (self.tls_cert_file.is_none() || self.tls_key_file.is_none()) {
                anyhow::bail!(
                    "{name} needs tls_cert_file and tls_key_file (PEM certificate chain and private key)"
                );
            }
        }
        if self.mqtt_tls_addr.is_some() && self.mqtt_broker.is_some() {
            anyhow::bail!(
                "mqtt_tls_addr is for the embedded endpoint; behind mqtt_broker, TLS is the broker's"
            );
        }
        let group = &self.mqtt_share_group;
        if group.is_empty() || group.contains(['/', '+', '#']) {
            anyhow::bail!(
                "mqtt_share_group must be one topic level (no '/', '+', '#'), not {group:?}"
            );
        }
        if let Some(bucket) = &self.s3_bucket {
            if bucket.trim().is_empty() {
                anyhow::bail!("s3_bucket (OTA_S3_BUCKET) must name a bucket, not be empty");
            }
            if self.download_url_ttl_minutes > MAX_PRESIGNED_MINUTES {
                anyhow::bail!(
                    "download_url_ttl_minutes must be at most {MAX_PRESIGNED_MINUTES} (7 days, the longest an S3 presigned URL lives) when packages are in s3_bucket, not {}",
                    self.download_url_ttl_minutes
                );
            }
        }
        if self.download_url_ttl_minutes < 1 {
            anyhow::bail!(
                "download_url_ttl_minutes must be at least 1, not {}",
                self.download_url_ttl_minutes
            );
        }
        if self.nudge_secs != 0 && !(5..=86_400).contains(&self.nudge_secs) {
            anyhow::bail!(
                "nudge_secs must be 0 (never) or between 5 and 86400 seconds, not {}",
                self.nudge_secs
            );
        }
        if !NODE_LEASE_SECS.contains(&self.node_lease_secs) {
            anyhow::bail!(
                "node_lease_secs must be between 3 and 600 seconds, not {}",
                self.node_lease_secs
            );
        }
        if usize::try_from(self.delta_from_latest).map_or(true, |n| n > MAX_DELTA_SOURCES) {
            anyhow::bail!(
                "delta_from_latest must be between 0 and {MAX_DELTA_SOURCES} (the most versions a package may take deltas from), not {}",
                self.delta_from_latest
            );
        }
        Ok(())
    }

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
    ) -> anyhow::Result<std::sync::Arc<ota_device_gateway::TlsServerConfig>> {
        use anyhow::Context;
        let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) else {
            anyhow::bail!("TLS listeners need tls_cert_file and tls_key_file");
        };
        let read = |path: &std::path::Path| {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))
        };
        ota_device_gateway::tls_server_config(&read(cert)?, &read(key)?).with_context(|| {
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
        self.database_url.clone().unwrap_or_else(|| {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn delta_from_latest_from_the_file_and_the_flag() {
        assert_eq!(ServeConfig::default().delta_from_latest(), 0);
        let file: ServeConfig = toml::from_str("delta_from_latest = 3").unwrap();
        file.check().unwrap();
        assert_eq!(file.delta_from_latest(), 3);
        let cli = Cli::try_parse_from(["ota", "--delta-from-latest", "10"]).unwrap();
        let config = ServeConfig::load(&cli.serve).unwrap();
        assert_eq!(config.delta_from_latest(), 10);
    }

    #[test]
    fn the_external_broker_from_the_file_and_the_flag() {
        assert!(ServeConfig::default().mqtt_broker().is_none());
        let file: ServeConfig = toml::from_str(
            "mqtt_broker = \"broker.local:1883\"\nmqtt_broker_password = \"hunter2\"",
        )
        .unwrap();
        assert_eq!(
            file.mqtt_broker().unwrap().unwrap(),
            ("broker.local".to_owned(), 1883)
        );
        assert!(!format!("{file:?}").contains("hunter2"));
        let cli = Cli::try_parse_from(["ota", "--mqtt-broker", "127.0.0.1:1884"]).unwrap();
        let config = ServeConfig::load(&cli.serve).unwrap();
        assert_eq!(config.mqtt_broker().unwrap().unwrap().1, 1884);
        for bad in ["nohost", ":1883", "host:0", "host:port"] {
            let cli = Cli::try_parse_from(["ota", "--mqtt-broker", bad]).unwrap();
            let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
            assert!(err.contains("HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_bad_delta_from_latest_is_refused_by_name() {
        for text in ["delta_from_latest = 11", "delta_from_latest = -1"] {
            let file: ServeConfig = toml::from_str(text).unwrap();
            let err = file.check().unwrap_err().to_string();
            assert!(
                err.contains("delta_from_latest must be between 0 and 10"),
                "{err}"
            );
        }
        for flag in ["11", "-1", "two"] {
            let arg = format!("--delta-from-latest={flag}");
            let cli = Cli::try_parse_from(["ota", arg.as_str()]).unwrap();
            let err = ServeConfig::load(&cli.serve).unwrap_err().to_string();
            assert!(err.contains("delta_from_latest"), "{flag}: {err}");
            assert!(err.contains("between 0 and 10"), "{flag}: {err}");
        }
    }

    #[test]
    fn the_node_lease_is_bounded() {
        assert_eq!(ServeConfig::default().node_lease_secs, 20);
        let file: ServeConfig = toml::from_str("node_lease_secs = 5").unwrap();
        file.check().unwrap();
        for text in ["node_lease_secs = 2", "node_lease_secs = 601"] {
            let file: ServeConfig = toml::from_str(text).unwrap();
            let err = file.check().unwrap_err().to_string();
            assert!(
                err.contains("node_lease_secs must be between 3 and 600"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_package_bucket_from_the_file() {
        assert!(ServeConfig::default().s3().is_none());
        let file: ServeConfig = toml::from_str(
            "s3_bucket = \"fw\"\ns3_endpoint = \"http://10.0.0.5:9000\"\ns3_prefix = \"ota\"\n\
             s3_access_key_id = \"AK\"\ns3_secret_access_key = \"s3cr3t-value\"",
        )
        .unwrap();
        file.check().unwrap();
        let s3 = file.s3().unwrap();
        assert_eq!(
            (
                s3.bucket.as_str(),
                s3.endpoint.as_deref(),
                s3.prefix.as_str()
            ),
            ("fw", Some("http://10.0.0.5:9000"), "ota")
        );
        assert_eq!(s3.secret_access_key.as_deref(), Some("s3cr3t-value"));
        assert!(!format!("{file:?}").contains("s3cr3t-value"));
        assert!(!format!("{s3:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn bucket_settings_no_part_accepts_are_refused_by_name() {
        for (text, named) in [
            ("s3_bucket = \" \"", "s3_bucket"),
            (
                "s3_bucket = \"fw\"\ndownload_url_ttl_minutes = 10081",
                "download_url_ttl_minutes must be at most 10080",
            ),
            (
                "download_url_ttl_minutes = 0",
                "download_url_ttl_minutes must be at least 1",
            ),
        ] {
            let file: ServeConfig = toml::from_str(text).unwrap();
            let err = file.check().unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
        let long: ServeConfig = toml::from_str("download_url_ttl_minutes = 20000").unwrap();
        long.check()
            .expect("no bucket: the server's own URLs have no such limit");
    }

    #[test]
    fn the_tls_listener_needs_its_certificate_and_the_embedded_endpoint() {
        let complete: ServeConfig = toml::from_str(
            "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"",
        )
        .unwrap();
        complete.check().unwrap();
        for (text, named) in [
            (
                "mqtt_tls_addr = \"0.0.0.0:8883\"",
                "needs tls_cert_file and tls_key_file",
            ),
            (
                "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"",
                "needs tls_cert_file and tls_key_file",
            ),
            (
                "mqtt_tls_addr = \"0.0.0.0:8883\"\ntls_cert_file = \"c.pem\"\ntls_key_file = \"k.pem\"\nmqtt_broker = \"b:1883\"",
                "TLS is the broker's",
            ),
        ] {
            let file: ServeConfig = toml::from_str(text).unwrap();
            let err = file.check().unwrap_err().to_string();
            assert!(err.contains(named), "{text}: {err}");
        }
    }
}
