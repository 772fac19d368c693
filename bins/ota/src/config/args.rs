//! The flags of `ota serve`: the top layer of the configuration. Each flag also reads its
//! `OTA_*` variable; a flag not given leaves the layers below as they are.

use serde::Serialize;
use std::path::PathBuf;

/// Overrides given on the command line. Defaults are those of the configuration file's
/// fields (docs: README "Configuration").
#[derive(Debug, Default, clap::Args, Serialize)]
pub struct ServeArgs {
    /// A TOML configuration file (its fields: README "Configuration").
    #[arg(long, env = "OTA_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Check the configuration, print it (secrets hidden) and exit without serving.
    #[arg(long)]
    #[serde(skip)]
    pub check_config: bool,
    /// Directory for the database, packages and secrets [default: ota-data].
    #[arg(long, env = "OTA_DATA_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address, HOST:PORT [default: 127.0.0.1:8080].
    #[arg(long, env = "OTA_HTTP_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_addr: Option<String>,
    /// MQTT listen address for devices, HOST:PORT [default: 127.0.0.1:1883].
    #[arg(long, env = "OTA_MQTT_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_addr: Option<String>,
    /// HTTPS listen address (with --tls-cert-file, --tls-key-file) [default: none].
    #[arg(long, env = "OTA_HTTPS_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https_addr: Option<String>,
    /// MQTT-over-TLS listen address for devices (with --tls-cert-file, --tls-key-file)
    /// [default: none].
    #[arg(long, env = "OTA_MQTT_TLS_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_tls_addr: Option<String>,
    /// PEM certificate chain of the TLS listeners.
    #[arg(long, env = "OTA_TLS_CERT_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the TLS listeners.
    #[arg(long, env = "OTA_TLS_KEY_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key_file: Option<PathBuf>,
    /// External MQTT broker HOST:PORT; replaces the embedded endpoint [default: none].
    #[arg(long, env = "OTA_MQTT_BROKER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_broker: Option<String>,
    /// Username for the external broker (the password: OTA_MQTT_BROKER_PASSWORD or
    /// OTA_MQTT_BROKER_PASSWORD_FILE).
    #[arg(long, env = "OTA_MQTT_BROKER_USERNAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt_broker_username: Option<String>,
    /// Base URL devices use for downloads [default: http://<http-addr>, or https://<https-addr>].
    #[arg(long, env = "OTA_PUBLIC_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// sqlite://… or postgres://… [default: SQLite file in the data directory].
    #[arg(long, env = "OTA_DATABASE_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Deltas from the N (0-10) most recent versions when a package is added without saying
    /// [default: 0].
    #[arg(long, env = "OTA_DELTA_FROM_LATEST", value_parser = delta_from_latest)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_from_latest: Option<i64>,
    /// Allow moving the clock forward through the API (tests and demos only).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adjustable_clock: bool,
}

/// `--delta-from-latest` as a whole number; its range is checked with the other rules, so
/// a flag, a variable and a file value are refused with the same words.
fn delta_from_latest(text: &str) -> Result<i64, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "delta_from_latest must be a whole number between 0 and {}, not {text:?}",
            super::MAX_DELTA_SOURCES
        )
    })
}
