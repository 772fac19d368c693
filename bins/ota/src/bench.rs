//! `ota bench rollout`: the end-to-end benchmark. It starts a real server process, connects
//! a simulated fleet over MQTT, rolls a package out to every device and measures device
//! updates per second (first push to last success) and the server's peak memory.
//!
//! A batch's push rate is capped at 10,000 a minute (the Aliyun limit), so the fleet is
//! split into several batches of the same package running at once, the way an operator
//! runs parallel waves; each batch pushes at the maximum rate.

use crate::client::{ApiClient, text};
use crate::launch::Launch;
use anyhow::{Context, bail};
use clap::Args;
use ota_device_sdk::sim::{self, SimConfig, SimStats};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct RolloutArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 10_000)]
    pub devices: usize,
    /// Devices per batch (SPECIFIC batches hold at most 200 names).
    #[arg(long, default_value_t = 200)]
    pub batch_size: usize,
    /// Package size in KiB.
    #[arg(long, default_value_t = 16)]
    pub package_kib: usize,
    /// Store URL; default is a SQLite file in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The server binary (default: this executable).
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

pub async fn rollout(args: RolloutArgs) -> anyhow::Result<()> {
    if !(1..=200).contains(&args.batch_size) {
        bail!("--batch-size must be 1-200");
    }
    let dir = tempfile::tempdir()?;
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    let mut launch = Launch::new(&binary, dir.path());
    launch.database_url = args.database_url.clone();
    let server = launch.start().await?;
    let api = ApiClient::new(
        &format!("http://{}", server.http),
        &launch.key_id,
        &launch.secret,
    );
    let base_rss = server.rss_kib().unwrap_or(0);
    let store_kind = if args.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    eprintln!(
        "server up ({store_kind}) at {} / {}",
        server.http, server.mqtt
    );

    let product = api
        .post("/products", &json!({"name": "BenchFleet"}))
        .await?;
    let pk = text(&product, "product_key")?;
    let devices = crate::sim::register(&api, &pk, args.devices).await?;
    let payload: Vec<u8> = (0..args.package_kib * 1024)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let upload = api.upload_bytes("bench.bin", payload).await?;
    let firmware = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "bench-2", "dest_version": "2.0.0",
                    "url": text(&upload, "url")?, "need_to_verify": false}),
        )
        .await?;
    let firmware_id = text(&firmware, "firmware_id")?;
    let names: Vec<String> = devices.iter().map(|d| d.device_name.clone()).collect();

    let mut config = SimConfig::new(devices, vec![server.mqtt]);
    config.connect_concurrency = 256;
    config.duration = Some(Duration::from_secs(args.timeout));
    let stats = Arc::new(SimStats::default());
    let fleet = tokio::spawn(sim::run(config, stats.clone()));

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let connect_start = Instant::now();
    loop {
        let dist = api
            .get(&format!("/products/{pk}/versions?module=default"))
            .await?;
        let reported: i64 = dist["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["devices"].as_i64())
            .sum();
        if reported as usize >= args.devices {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {reported} of {} devices connected and reported",
                args.devices
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let idle_rss = server.rss_kib().unwrap_or(0);
    eprintln!(
        "{} devices connected and reported in {connect_secs:.1} s; server RSS {idle_rss} KiB",
        args.devices
    );

    let cpu_before = server.cpu_seconds().unwrap_or(0.0);
    let start = Instant::now();
    for chunk in names.chunks(args.batch_size) {
        api.post(
            &format!("/firmwares/{firmware_id}/jobs"),
            &json!({"kind": "static", "target_selection": "SPECIFIC", "device_names": chunk,
                    "maximum_per_minute": 10_000}),
        )
        .await
        .context("creating a batch")?;
    }
    let created_secs = start.elapsed().as_secs_f64();
    loop {
        let s = stats.snapshot();
        if s.succeeded as usize + s.failed_total() as usize >= args.devices {
            break;
        }
        if Instant::now() > deadline {
            bail!("timed out: {} of {} updated", s.succeeded, args.devices);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let snapshot = stats.snapshot();
    let peak = server.peak_rss_kib().unwrap_or(0);
    let server_cpu = server.cpu_seconds().unwrap_or(0.0) - cpu_before;
    fleet.abort();
    server.stop().await?;

    let rate = snapshot.succeeded as f64 / elapsed;
    let result = json!({
        "store": store_kind,
        "devices": args.devices,
        "batches": names.len().div_ceil(args.batch_size),
        "package_bytes": args.package_kib * 1024,
        "succeeded": snapshot.succeeded,
        "failed": snapshot.failed_total(),
        "connect_seconds": connect_secs,
        "batch_creation_seconds": created_secs,
        "rollout_seconds": elapsed,
        "device_updates_per_second": rate,
        "server_cpu_seconds_during_rollout": server_cpu,
        "device_updates_per_server_cpu_second": snapshot.succeeded as f64 / server_cpu.max(0.001),
        "server_rss_idle_connected_kib": idle_rss,
        "server_peak_rss_kib": peak,
        "server_rss_before_fleet_kib": base_rss,
        "idle_kib_per_connected_device": idle_rss.saturating_sub(base_rss) as f64 / args.devices as f64,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
