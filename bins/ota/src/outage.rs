//! `ota bench outage`: the store stops taking writes in the middle of a rollout, and the
//! server's memory is watched while device reports pile up.
//!
//! A real server on SQLite, a simulated fleet, one batch to every device; once updates are
//! flowing, another connection locks the database (`BEGIN EXCLUSIVE`, as a stuck tool or a
//! long backup would) for `--outage-secs`. Reports wait in the bounded queue and the devices
//! that report are held back, so the server's memory must stay bounded; when the lock goes,
//! the rollout must finish with every device updated and no report lost.

use crate::client::text;
use crate::launch;
use anyhow::{Context, bail};
use clap::Args;
use ota_device_sdk::sim::{self, SimConfig, SimStats};
use serde::Serialize;
use serde_json::json;
use sqlx::Connection;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct OutageArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 10_000)]
    pub devices: usize,
    /// How long the store is locked.
    #[arg(long, default_value_t = 60)]
    pub outage_secs: u64,
    /// Updates that must have succeeded before the lock is taken.
    #[arg(long, default_value_t = 500)]
    pub lock_after_updates: u64,
    /// Package size in KiB.
    #[arg(long, default_value_t = 16)]
    pub package_kib: usize,
    /// The server binary (default: this executable).
    #[arg(long)]
    pub server: Option<std::path::PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout: u64,
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct OutageReport {
    pub devices: usize,
    pub outage_seconds: u64,
    pub server_rss_before_kib: u64,
    pub server_rss_peak_during_kib: u64,
    pub server_rss_after_kib: u64,
    /// Updates the fleet finished while the store was locked (downloads go on).
    pub updates_during_outage: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub seconds_to_finish_after_outage: f64,
    pub dropped_reports: u64,
    /// Server RSS each second of the outage, in KiB.
    pub rss_during_kib: Vec<u64>,
}

pub async fn outage(args: OutageArgs) -> anyhow::Result<OutageReport> {
    let (dir, server, api) = launch::start_own(args.server.as_deref(), None).await?;
    let product = api
        .post("/products", &json!({"name": "OutageFleet"}))
        .await?;
    let pk = text(&product, "product_key")?;
    let devices = crate::sim::register(&api, &pk, args.devices).await?;
    let payload: Vec<u8> = (0..args.package_kib * 1024)
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let upload = api.upload_bytes("outage.bin", payload).await?;
    let firmware = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "outage", "dest_version": "2.0.0",
                    "url": text(&upload, "url")?, "need_to_verify": false}),
        )
        .await?;

    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut config = SimConfig::new(devices, vec![server.mqtt]);
    config.connect_concurrency = 256;
    config.stop_after_update = false;
    config.duration = Some(Duration::from_secs(args.timeout));
    let stats = Arc::new(SimStats::default());
    let fleet = tokio::spawn(sim::run(config, stats.clone()));
    while (stats.snapshot().connected as usize) < args.devices {
        if Instant::now() > deadline {
            bail!("the fleet did not connect");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    api.post(
        &format!("/firmwares/{}/jobs", text(&firmware, "firmware_id")?),
        &json!({"target_selection": "ALL", "maximum_per_minute": 10_000}),
    )
    .await
    .context("creating the batch")?;
    while stats.snapshot().succeeded < args.lock_after_updates {
        if Instant::now() > deadline {
            bail!("the rollout did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let before = server.rss_kib().unwrap_or(0);
    let db = dir.path().join("ota.db");
    let mut lock = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .context("opening the server's database")?;
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut lock).await?;
    let at_lock = stats.snapshot().succeeded;
    eprintln!("store locked after {at_lock} updates; server RSS {before} KiB");
    let mut during = Vec::new();
    for _ in 0..args.outage_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        during.push(server.rss_kib().unwrap_or(0));
    }
    let at_unlock = stats.snapshot().succeeded;
    sqlx::query("COMMIT").execute(&mut lock).await?;
    drop(lock);
    eprintln!(
        "store unlocked; {} updates during the outage",
        at_unlock - at_lock
    );

    let unlocked = Instant::now();
    let finished = loop {
        let job_done = stats.snapshot().settled() >= args.devices as u64;
        if job_done {
            break unlocked.elapsed().as_secs_f64();
        }
        if Instant::now() > deadline {
            bail!(
                "timed out: {} of {} updated",
                stats.snapshot().succeeded,
                args.devices
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Every device updated; the store must say so too.
    let mut stored = 0;
    while Instant::now() < deadline {
        let versions = api.get(&format!("/products/{pk}/versions")).await?;
        stored = versions["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["version"] == "2.0.0")
            .filter_map(|i| i["devices"].as_i64())
            .sum::<i64>();
        if stored as usize >= args.devices {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = server.rss_kib().unwrap_or(0);
    let metrics = server.metrics().await?;
    let dropped = crate::launch::metric_sum(&metrics, "ota_device_reports_dropped_total")
        .unwrap_or(0.0) as u64;
    fleet.abort();
    server.stop().await?;
    let snapshot = stats.snapshot();
    if stored as usize != args.devices {
        bail!(
            "{stored} of {} devices stored at the new version",
            args.devices
        );
    }
    let report = OutageReport {
        devices: args.devices,
        outage_seconds: args.outage_secs,
        server_rss_before_kib: before,
        server_rss_peak_during_kib: during.iter().copied().max().unwrap_or(0),
        server_rss_after_kib: after,
        updates_during_outage: at_unlock - at_lock,
        succeeded: snapshot.succeeded,
        failed: snapshot.failed_total() + snapshot.wrong_version,
        seconds_to_finish_after_outage: finished,
        dropped_reports: dropped,
        rss_during_kib: during,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(report)
}
