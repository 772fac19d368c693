//! `ota sim`: a fleet of simulated devices in one process, with one aggregate progress bar.
//! Devices come from a credentials CSV or are registered through the API on the spot.

use crate::client::{ApiClient, text};
use anyhow::{Context, bail};
use clap::Args;
use ota_device_sdk::sim::{self, Behaviour, DeviceCredentials, SimConfig, SimStats};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct SimArgs {
    /// `productKey,deviceName,deviceSecret` lines.
    #[arg(long, conflicts_with = "product_key")]
    pub credentials: Option<std::path::PathBuf>,
    /// Register this many new devices in this product through the API first.
    #[arg(long, requires = "devices")]
    pub product_key: Option<String>,
    /// How many devices to register (with --product-key).
    #[arg(long)]
    pub devices: Option<usize>,
    /// MQTT endpoint(s) of the platform (`ota serve`'s --mqtt-addr), `HOST:PORT`; devices
    /// are spread over them round-robin.
    #[arg(long = "mqtt", required = true, value_parser = crate::address::parse_socket_addr)]
    pub mqtt: Vec<SocketAddr>,
    /// Give up when no device has connected after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub connect_wait: u64,
    /// What devices do: `succeed`, `fail:STEP@PERCENT`, `slow:SECONDS`, `offline:SECONDS`,
    /// `wrong:VERSION`, or a mix such as `mix:80=succeed,10=fail:-3@100,10=wrong:0.0.1`.
    #[arg(long, default_value = "succeed")]
    pub behaviour: String,
    /// Version every device reports at start.
    #[arg(long, default_value = "1.0.0")]
    pub initial_version: String,
    /// Module to report and update (default module if absent).
    #[arg(long)]
    pub module: Option<String>,
    /// Stop after this many seconds.
    #[arg(long)]
    pub duration: Option<u64>,
    /// Also pull (`thing/ota/firmware/get`) every 30 s.
    #[arg(long)]
    pub pull: bool,
    /// Keep devices connected after their first update (for retries and further batches).
    #[arg(long)]
    pub keep_running: bool,
    /// Concurrent connection attempts.
    #[arg(long, default_value_t = 64)]
    pub connect_concurrency: usize,
    /// Verify package signatures: trust the products' signing keys read from the API.
    #[arg(long)]
    pub verify_signatures: bool,
    /// The image devices run at start (`--initial-version`): devices then keep what they
    /// install and apply delta packages to it for real.
    #[arg(long)]
    pub base_image: Option<std::path::PathBuf>,
    /// Memory each device has for applying a delta (bytes, or with a K/M/G suffix, 1024
    /// based): devices announce it, so the server sends a delta needing more as the full
    /// package. Models small devices; by default any delta is taken.
    #[arg(long, value_parser = parse_memory)]
    pub delta_memory: Option<u64>,
    /// Connect over TLS, trusting the certificate authorities in this PEM file (for the
    /// broker and HTTPS downloads); `--mqtt` then names the TLS listener.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Churn: each device disconnects and connects again after about this many seconds
    /// connected (0.5–1.5 times it, at random; never mid-update). Implies --keep-running.
    #[arg(long)]
    pub churn: Option<u64>,
    /// How often a download resumes (with `Range`) after a failure that made no progress
    /// before the device reports step -2 (default: the SDK's, 8).
    #[arg(long)]
    pub download_retries: Option<u32>,
    /// Send every report twice, and after one in `--reorder-one-in` an earlier one too
    /// (what `ota chaos duplicates` does).
    #[arg(long)]
    pub duplicate_reports: bool,
    /// With --duplicate-reports: follow one report in this many by an earlier one (0: never).
    #[arg(long, default_value_t = 4, requires = "duplicate_reports")]
    pub reorder_one_in: u32,
    /// Print the final counts as JSON instead of drawing a bar.
    #[arg(long)]
    pub json: bool,
}

/// A memory size: bytes, or a whole number with a `K`, `M` or `G` suffix (powers of 1024).
fn parse_memory(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 10),
        Some((i, 'm' | 'M')) => (&text[..i], 20),
        Some((i, 'g' | 'G')) => (&text[..i], 30),
        _ => (text, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 262144, 256K, 64M or 1G"))?;
    n.checked_mul(1 << shift)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("`{text}` must be more than 0 and fit in 64 bits"))
}

/// Registers `count` devices in `product_key` and returns their credentials.
pub async fn register(
    api: &ApiClient,
    product_key: &str,
    count: usize,
) -> anyhow::Result<Vec<DeviceCredentials>> {
    let mut out = Vec::with_capacity(count);
    let mut left = count;
    while left > 0 {
        let n = left.min(10_000);
        let reply = api
            .post(
                &format!("/products/{product_key}/devices"),
                &json!({"count": n}),
            )
            .await?;
        for d in reply["items"].as_array().into_iter().flatten() {
            out.push(DeviceCredentials {
                product_key: text(d, "product_key")?,
                device_name: text(d, "device_name")?,
                device_secret: text(d, "device_secret")?,
            });
        }
        left -= n;
    }
    Ok(out)
}

/// Waits until `devices` devices of product `pk` have reported a version (connected and
/// said what they run); fails after `within`.
pub async fn wait_reported(
    api: &ApiClient,
    pk: &str,
    devices: usize,
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let dist = api.get(&format!("/products/{pk}/versions")).await?;
        let reported: i64 = dist["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["devices"].as_i64())
            .sum();
        if reported as usize >= devices {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("only {reported} of {devices} devices connected and reported");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The public keys devices of these products should trust.
pub async fn trusted_keys(
    api: &ApiClient,
    devices: &[DeviceCredentials],
) -> anyhow::Result<Vec<String>> {
    let products: std::collections::BTreeSet<&str> =
        devices.iter().map(|d| d.product_key.as_str()).collect();
    let mut keys = Vec::new();
    for pk in products {
        let reply = api.get(&format!("/products/{pk}/signing-keys")).await?;
        for k in reply["trustedPublicKeys"].as_array().into_iter().flatten() {
            keys.extend(k.as_str().map(str::to_owned));
        }
    }
    Ok(keys)
}

pub async fn run(args: SimArgs) -> anyhow::Result<()> {
    let devices = match (&args.credentials, &args.product_key) {
        (Some(path), _) => sim::load_credentials_csv(path)
            .with_context(|| format!("reading --credentials {}", path.display()))?,
        (None, Some(pk)) => {
            register(&ApiClient::from_env()?, pk, args.devices.unwrap_or(1)).await?
        }
        (None, None) => bail!("give --credentials FILE or --product-key PK --devices N"),
    };
    let mut config = SimConfig::new(devices, args.mqtt.clone());
    config.behaviour = args
        .behaviour
        .parse::<Behaviour>()
        .map_err(|e| anyhow::anyhow!("--behaviour: {e}"))?;
    config.initial_version = args.initial_version.clone();
    config.module = args.module.clone();
    config.duration = args.duration.map(Duration::from_secs);
    config.pull = args.pull;
    config.pull_interval = Duration::from_secs(30);
    config.stop_after_update = !args.keep_running && args.churn.is_none();
    config.churn = args.churn.map(Duration::from_secs);
    config.connect_concurrency = args.connect_concurrency;
    if let Some(path) = &args.base_image {
        config.base_image = Some(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--base-image {}: {e}", path.display()))?,
        );
    }
    config.delta_memory_limit = args.delta_memory;
    config.download_retries = args.download_retries;
    config.echo = args.duplicate_reports.then(|| sim::Echo {
        reorder_one_in: args.reorder_one_in,
        seed: rand::random(),
    });
    if let Some(path) = &args.tls_ca {
        config.tls_ca_pem = Some(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("reading --tls-ca {}: {e}", path.display()))?,
        );
    }
    if args.verify_signatures {
        config.trusted_keys = trusted_keys(&ApiClient::from_env()?, &config.devices).await?;
    }
    let total = config.devices.len() as u64;
    let stats = Arc::new(SimStats::default());
    let run = tokio::spawn(sim::run(config, stats.clone()));
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} settled  {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let endpoints = args
        .mqtt
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    while !run.is_finished() {
        let s = stats.snapshot();
        bar.set_position(s.settled());
        bar.set_message(format!(
            "online {} notified {} downloading {} ok {} failed {} wrong {} | unreachable {} refused {}",
            s.connected,
            s.notified,
            s.downloading,
            s.succeeded,
            s.failed_total(),
            s.wrong_version,
            s.connect_failures,
            s.auth_failures,
        ));
        if s.connections == 0 && started.elapsed() > Duration::from_secs(args.connect_wait) {
            run.abort();
            bar.abandon();
            bail!(
                "no device connected to {endpoints} within {} s ({} attempts reached no \
                 broker, {} were refused: wrong credentials or unknown devices); is `ota serve` \
                 running there (its --mqtt-addr)?",
                args.connect_wait,
                s.connect_failures,
                s.auth_failures
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let snapshot = run.await??;
    bar.finish();
    println!(
        "{}",
        json!({
            "devices": snapshot.devices,
            "notified": snapshot.notified,
            "succeeded": snapshot.succeeded,
            "wrong_version": snapshot.wrong_version,
            "failed": {"-1": snapshot.failed[0], "-2": snapshot.failed[1], "-3": snapshot.failed[2], "-4": snapshot.failed[3]},
            "connect_failures": snapshot.connect_failures,
            "auth_failures": snapshot.auth_failures,
            "reconnects": snapshot.reconnects,
            "bytes": snapshot.bytes,
            "deltas_applied": snapshot.deltas_applied,
            "reports_duplicated": snapshot.reports_duplicated,
            "reports_reordered": snapshot.reports_reordered,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_sizes_parse_in_powers_of_1024() {
        let cases: [(&str, Option<u64>); 9] = [
            ("262144", Some(262_144)),
            ("256K", Some(256 << 10)),
            ("64m", Some(64 << 20)),
            ("1G", Some(1 << 30)),
            (" 8k ", Some(8 << 10)),
            ("0", None),
            ("K", None),
            ("12T", None),
            ("99999999999G", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_memory(text).ok(), want, "{text}");
        }
    }
}
