//! Configuration of `ota serve`: defaults, then a TOML file, then `OTA_*` environment
//! variables, then command-line flags — each layer overriding the one before.

use ota_domain::validate::MAX_DELTA_SOURCES;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Base URL devices use to reach the HTTP server (download URLs in pushes).
    /// Default: `http://<http_addr>`.
    pub public_url: Option<String>,
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
            public_url: None,
            database_url: None,
            firmware_quota: 500,
            max_file_mb: 1_000,
            download_url_ttl_minutes: 24 * 60,
            delta_from_latest: 0,
            log: "info".to_owned(),
            adjustable_clock: false,
        }
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
}
