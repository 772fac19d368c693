//! `ota bench rollout`: the end-to-end benchmark. It starts a real server process, connects
//! a simulated fleet over MQTT, rolls a package out to every device and measures device
//! updates per second (first push to last success) and the server's peak memory.
//!
//! With `--old-image` and `--new-image` the fleet runs the old image and the server generates
//! a delta, so the run shows what deltas save end to end (bytes per device, generation time)
//! with every device really applying the patch.
//!
//! A batch's push rate is capped at 10,000 a minute (the Aliyun limit), so the fleet is
//! split into several batches of the same package running at once, the way an operator
//! runs parallel waves; each batch pushes at the maximum rate.

use crate::client::{ApiClient, text};
use crate::launch::OwnServer;
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
    #[command(flatten)]
    pub own: OwnServer,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Roll out deltas: devices run this image as 1.0.0 (kept by the simulator) and the
    /// package is `--new-image`, with a server-generated delta from 1.0.0.
    #[arg(long, requires = "new_image")]
    pub old_image: Option<std::path::PathBuf>,
    /// The new image for `--old-image`.
    #[arg(long, requires = "old_image")]
    pub new_image: Option<std::path::PathBuf>,
    /// How devices download: `HTTPS` (the signed URL) or `MQTT` (block download over the
    /// device's MQTT connection).
    #[arg(long, default_value = "HTTPS", value_parser = ["HTTPS", "MQTT"])]
    pub download: String,
}

/// Uploads `bytes` and creates a full package of `version` (extra creation fields merged).
pub(crate) async fn add_package(
    api: &ApiClient,
    pk: &str,
    version: &str,
    bytes: Vec<u8>,
    extra: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let upload = api.upload_bytes("bench.bin", bytes).await?;
    api.post("/firmwares", &package_body(pk, version, &upload, extra)?)
        .await
}

/// The body that creates package `version` of product `pk` from an `upload` answer, with
/// `extra` fields added.
pub(crate) fn package_body(
    pk: &str,
    version: &str,
    upload: &serde_json::Value,
    extra: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let mut body = json!({"product_key": pk, "name": format!("bench-{}", version.replace('.', "_")),
                          "dest_version": version, "url": text(upload, "url")?,
                          "need_to_verify": false});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    Ok(body)
}

/// Waits for the package's delta to finish; returns (status, size, seconds).
async fn wait_delta(api: &ApiClient, firmware_id: &str) -> anyhow::Result<(String, u64, f64)> {
    let start = Instant::now();
    loop {
        let deltas = api.get(&format!("/firmwares/{firmware_id}/deltas")).await?;
        let d = &deltas["items"][0];
        let status = d["status"].as_str().unwrap_or_default().to_owned();
        if !matches!(status.as_str(), "PENDING" | "RUNNING") {
            return Ok((
                status,
                d["size"].as_u64().unwrap_or(0),
                start.elapsed().as_secs_f64(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn rollout(args: RolloutArgs) -> anyhow::Result<()> {
    if !(1..=200).contains(&args.batch_size) {
        bail!("--batch-size must be 1-200");
    }
    let (_dir, server, api) = args.own.start().await?;
    let base_rss = server.rss_kib().unwrap_or(0);
    let store_kind = args.own.store_name();
    eprintln!(
        "server up ({store_kind}) at {} / {}",
        server.http, server.mqtt
    );

    let product = api
        .post("/products", &json!({"name": "BenchFleet"}))
        .await?;
    let pk = text(&product, "product_key")?;
    let devices = crate::sim::register(&api, &pk, args.devices).await?;
    let images = match (&args.old_image, &args.new_image) {
        (Some(old), Some(new)) => Some((std::fs::read(old)?, std::fs::read(new)?)),
        _ => None,
    };
    let mut delta = None;
    let (firmware, package_bytes) = match &images {
        Some((old, new)) => {
            add_package(&api, &pk, "1.0.0", old.clone(), json!({})).await?;
            let fw = add_package(
                &api,
                &pk,
                "2.0.0",
                new.clone(),
                json!({"delta_from_versions": ["1.0.0"]}),
            )
            .await?;
            let generated = wait_delta(&api, &text(&fw, "firmware_id")?).await?;
            eprintln!(
                "delta {} ({} bytes of {}) generated in {:.1} s",
                generated.0,
                generated.1,
                new.len(),
                generated.2
            );
            delta = Some(generated);
            (fw, new.len())
        }
        None => {
            let payload: Vec<u8> = (0..args.package_kib * 1024)
                .map(|i| (i * 31 % 251) as u8)
                .collect();
            let len = payload.len();
            (
                add_package(&api, &pk, "2.0.0", payload, json!({})).await?,
                len,
            )
        }
    };
    let firmware_id = text(&firmware, "firmware_id")?;
    let names: Vec<String> = devices.iter().map(|d| d.device_name.clone()).collect();

    let mut config = SimConfig::new(devices, vec![server.mqtt]);
    config.base_image = images.map(|(old, _)| old);
    config.connect_concurrency = 256;
    config.duration = Some(Duration::from_secs(args.timeout));
    let stats = Arc::new(SimStats::default());
    let fleet = tokio::spawn(sim::run(config, stats.clone()));

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let connect_start = Instant::now();
    crate::sim::wait_reported(&api, &pk, args.devices, Duration::from_secs(args.timeout)).await?;
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
                    "maximum_per_minute": 10_000, "download_protocol": args.download}),
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
        "package_bytes": package_bytes,
        "download": args.download,
        "delta": delta.map(|(status, size, secs)| json!({
            "status": status, "bytes": size, "generation_seconds": secs,
            "applied_by_devices": snapshot.deltas_applied,
        })),
        "bytes_downloaded": snapshot.bytes,
        "bytes_downloaded_per_device": snapshot.bytes as f64 / args.devices.max(1) as f64,
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
