//! `ota bench soak`: a long run of a churning fleet under back-to-back batches, watching the
//! server for what leaks over hours and not minutes.
//!
//! A real server process, a simulated fleet whose devices disconnect and reconnect about
//! every `--churn-secs` (never mid-update), and one batch after another to every device
//! (versions 2, 3, 4, …), each started when the last completed. Every `--sample-secs` the
//! server's resident memory and open descriptors are recorded with the fleet's counters.
//! The run passes when, after the warm-up, memory grew at most `--max-rss-growth` percent,
//! descriptors did not grow beyond the connections held, no device met an error, and every
//! batch completed with every device updated.

use crate::client::{ApiClient, text};
use crate::launch::{OwnServer, ServerProcess, metric_sum};
use anyhow::{Context, bail};
use clap::Args;
use ota_device_sdk::sim::{self, SimConfig, SimSnapshot, SimStats};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug, Clone)]
pub struct SoakArgs {
    /// Simulated devices.
    #[arg(long, default_value_t = 15_000)]
    pub devices: usize,
    /// How long batches keep being started.
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,
    /// Each device reconnects after about this many seconds connected.
    #[arg(long, default_value_t = 60)]
    pub churn_secs: u64,
    /// Seconds at least between the starts of two batches (a batch starts when the last
    /// one completed and this long has passed since it started).
    #[arg(long, default_value_t = 120)]
    pub batch_every_secs: u64,
    /// Seconds between samples.
    #[arg(long, default_value_t = 60)]
    pub sample_secs: u64,
    /// Minutes before memory growth counts (the server warms up its caches first).
    #[arg(long, default_value_t = 5.0)]
    pub warmup_minutes: f64,
    /// Largest memory growth after the warm-up, in percent.
    #[arg(long, default_value_t = 5.0)]
    pub max_rss_growth: f64,
    /// Minutes of samples whose peaks are compared: the first window after the warm-up
    /// against the last. Memory rises and falls with each batch, so single samples taken
    /// at different points of a batch differ by more than any leak; a window that spans
    /// two batch cycles or more holds a peak of each.
    #[arg(long, default_value_t = 5.0)]
    pub window_minutes: f64,
    /// Package size in KiB.
    #[arg(long, default_value_t = 16)]
    pub package_kib: usize,
    #[command(flatten)]
    pub own: OwnServer,
}

/// One sample of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub seconds: u64,
    pub server_rss_kib: u64,
    /// The file-backed part of `server_rss_kib` (the binary's pages; the rest is allocated).
    pub server_rss_file_kib: u64,
    /// What the server's allocator has handed out and not had back (`ota_heap_allocated_bytes`).
    pub server_heap_allocated_kib: Option<u64>,
    /// The allocator's resident pages (`ota_heap_resident_bytes`).
    pub server_heap_resident_kib: Option<u64>,
    pub server_open_fds: usize,
    pub devices_connected: u64,
    pub reconnects: u64,
    pub updates: u64,
    pub batches_completed: usize,
}

/// The outcome: samples, figures and the verdict of each check.
#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub devices: usize,
    pub samples: Vec<Sample>,
    pub batches: usize,
    pub batches_completed: usize,
    pub updates: u64,
    pub reconnects: u64,
    pub errors: u64,
    /// Peak resident memory in the first window after the warm-up.
    pub rss_peak_after_warmup_kib: u64,
    /// Peak resident memory in the last window.
    pub rss_peak_at_end_kib: u64,
    /// Growth from the first peak to the last.
    pub rss_growth_percent: f64,
    pub fds_after_warmup: usize,
    pub fds_at_end: usize,
    pub checks: Vec<(String, bool)>,
}

impl SoakReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|(_, ok)| *ok)
    }
}

/// Runs the soak; prints one JSON line per sample to stderr and the report to stdout.
pub async fn soak(args: SoakArgs) -> anyhow::Result<SoakReport> {
    let (_dir, server, api) = args.own.start().await?;
    let product = api.post("/products", &json!({"name": "SoakFleet"})).await?;
    let pk = text(&product, "product_key")?;
    let devices = crate::sim::register(&api, &pk, args.devices).await?;

    let soak_for = Duration::from_secs_f64(args.minutes * 60.0);
    let drain = Duration::from_secs(600);
    let mut config = SimConfig::new(devices, vec![server.mqtt]);
    config.stop_after_update = false;
    config.churn = Some(Duration::from_secs(args.churn_secs));
    config.connect_concurrency = 256;
    config.duration = Some(soak_for + drain * 2);
    let stats = Arc::new(SimStats::default());
    let fleet = tokio::spawn(sim::run(config, stats.clone()));
    let result = run_batches(&args, &server, &api, &pk, &stats, soak_for, drain).await;
    fleet.abort();
    let page = server.metrics().await.unwrap_or_default();
    let dropped = metric_sum(&page, "ota_device_reports_dropped_total").unwrap_or(0.0) as u64;
    server.stop().await?;
    let (samples, batches, completed) = result?;
    let report = judge(
        &args,
        samples,
        batches,
        completed,
        stats.snapshot(),
        dropped,
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(report)
}

/// Starts batches one after another for `soak_for`, then lets the last one finish.
async fn run_batches(
    args: &SoakArgs,
    server: &ServerProcess,
    api: &ApiClient,
    pk: &str,
    stats: &SimStats,
    soak_for: Duration,
    drain: Duration,
) -> anyhow::Result<(Vec<Sample>, usize, usize)> {
    crate::sim::wait_reported(api, pk, args.devices, drain).await?;
    let start = Instant::now();
    let every = Duration::from_secs(args.sample_secs.max(1));
    let mut next_sample = start;
    let mut samples = Vec::new();
    let (mut batches, mut completed) = (0usize, 0usize);
    let mut running: Option<String> = None;
    let spacing = Duration::from_secs(args.batch_every_secs);
    let mut last_start: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if now >= next_sample {
            let sample = sample(server, stats, start, completed).await;
            eprintln!("{}", serde_json::to_string(&sample)?);
            samples.push(sample);
            next_sample += every;
        }
        if let Some(id) = &running
            && batch_done(api, id).await?
        {
            running = None;
            completed += 1;
        }
        let soaking = now.duration_since(start) < soak_for;
        if running.is_none() {
            if !soaking {
                break;
            }
            if last_start.is_none_or(|at| now.duration_since(at) >= spacing) {
                batches += 1;
                last_start = Some(now);
                running = Some(start_batch(api, pk, batches + 1, args.package_kib).await?);
            }
        }
        if now.duration_since(start) > soak_for + drain {
            bail!("the last batch did not finish within {drain:?} of the end");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    samples.push(sample(server, stats, start, completed).await);
    Ok((samples, batches, completed))
}

async fn sample(
    server: &ServerProcess,
    stats: &SimStats,
    start: Instant,
    completed: usize,
) -> Sample {
    let s = stats.snapshot();
    let metrics = server.metrics().await.unwrap_or_default();
    let kib = |name: &str| metric_sum(&metrics, name).map(|bytes| bytes as u64 / 1024);
    Sample {
        seconds: start.elapsed().as_secs(),
        server_rss_kib: server.rss_kib().unwrap_or(0),
        server_rss_file_kib: server.rss_file_kib().unwrap_or(0),
        server_heap_allocated_kib: kib("ota_heap_allocated_bytes"),
        server_heap_resident_kib: kib("ota_heap_resident_bytes"),
        server_open_fds: server.open_fds().unwrap_or(0),
        devices_connected: s.connected,
        reconnects: s.reconnects,
        updates: s.succeeded,
        batches_completed: completed,
    }
}

/// Uploads version `major`.0.0 and starts a batch of it to every device.
async fn start_batch(
    api: &ApiClient,
    pk: &str,
    major: usize,
    package_kib: usize,
) -> anyhow::Result<String> {
    let version = format!("{major}.0.0");
    let payload: Vec<u8> = (0..package_kib * 1024)
        .map(|i| ((i * 31 + major) % 251) as u8)
        .collect();
    let upload = api.upload_bytes("soak.bin", payload).await?;
    let firmware = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": format!("soak-{major}"), "dest_version": version,
                    "url": text(&upload, "url")?, "need_to_verify": false}),
        )
        .await?;
    let job = api
        .post(
            &format!("/firmwares/{}/jobs", text(&firmware, "firmware_id")?),
            &json!({"target_selection": "ALL", "maximum_per_minute": 10_000}),
        )
        .await
        .context("creating a batch")?;
    text(&job, "job_id")
}

/// Whether the batch finished; an error when it finished with devices not updated.
async fn batch_done(api: &ApiClient, id: &str) -> anyhow::Result<bool> {
    let job = api.get(&format!("/jobs/{id}")).await?;
    if job["status"] != "COMPLETED" {
        return Ok(false);
    }
    let succeeded = job["counts"]["by_status"]["SUCCEEDED"].as_i64();
    if succeeded != job["counts"]["total"].as_i64() {
        bail!(
            "batch {id} completed without every device updated: {}",
            job["counts"]
        );
    }
    Ok(true)
}

/// The peak resident memory of the first `window` seconds of samples from `warm` on, and
/// of the last `window` seconds of samples.
fn window_peaks(samples: &[Sample], warm: u64, window: u64) -> (u64, u64) {
    let end = samples.last().map_or(0, |s| s.seconds);
    let peak = |keep: &dyn Fn(&Sample) -> bool| {
        samples
            .iter()
            .filter(|s| s.seconds >= warm && keep(s))
            .map(|s| s.server_rss_kib)
            .max()
            .unwrap_or(0)
    };
    (
        peak(&|s| s.seconds < warm + window.max(1)),
        peak(&|s| s.seconds + window.max(1) > end),
    )
}

fn judge(
    args: &SoakArgs,
    samples: Vec<Sample>,
    batches: usize,
    completed: usize,
    fleet: SimSnapshot,
    dropped_reports: u64,
) -> SoakReport {
    let warm = (args.warmup_minutes * 60.0) as u64;
    let first = samples
        .iter()
        .find(|s| s.seconds >= warm)
        .or(samples.last())
        .cloned();
    let last = samples.last().cloned();
    let (fds_warm, connected_warm) = first
        .as_ref()
        .map_or((0, 0), |s| (s.server_open_fds, s.devices_connected));
    let (fds_end, connected_end) = last
        .as_ref()
        .map_or((0, 0), |s| (s.server_open_fds, s.devices_connected));
    let (rss_warm, rss_end) = window_peaks(&samples, warm, (args.window_minutes * 60.0) as u64);
    let growth = (rss_end as f64 - rss_warm as f64) / (rss_warm.max(1) as f64) * 100.0;
    // Descriptors beyond the devices connected at the moment must not grow: a few for
    // connections being set up or torn down, nothing per device ever seen.
    let extra_warm = fds_warm as i64 - connected_warm as i64;
    let extra_end = fds_end as i64 - connected_end as i64;
    let errors =
        fleet.connect_failures + fleet.failed_total() + fleet.wrong_version + dropped_reports;
    let checks = vec![
        (
            format!(
                "memory grew at most {}% after the warm-up",
                args.max_rss_growth
            ),
            growth <= args.max_rss_growth,
        ),
        (
            "no descriptor leak".to_owned(),
            extra_end <= extra_warm + 64 + (args.devices / 100) as i64,
        ),
        ("no errors".to_owned(), errors == 0),
        (
            "every batch completed with every device updated".to_owned(),
            batches > 0 && completed == batches,
        ),
    ];
    SoakReport {
        devices: args.devices,
        samples,
        batches,
        batches_completed: completed,
        updates: fleet.succeeded,
        reconnects: fleet.reconnects,
        errors,
        rss_peak_after_warmup_kib: rss_warm,
        rss_peak_at_end_kib: rss_end,
        rss_growth_percent: growth,
        fds_after_warmup: fds_warm,
        fds_at_end: fds_end,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64, rss: u64) -> Sample {
        Sample {
            seconds,
            server_rss_kib: rss,
            server_rss_file_kib: 0,
            server_heap_allocated_kib: None,
            server_heap_resident_kib: None,
            server_open_fds: 0,
            devices_connected: 0,
            reconnects: 0,
            updates: 0,
            batches_completed: 0,
        }
    }

    #[test]
    fn window_peaks_compare_like_with_like() {
        // A batch cycle of two samples: busy 160, idle 140, and no growth.
        let flat: Vec<Sample> = (0..31)
            .map(|m| at(m * 60, if m % 2 == 0 { 160 } else { 140 }))
            .collect();
        assert_eq!(window_peaks(&flat, 300, 300), (160, 160));
        // The same cycle on a rising floor: the last peak is higher.
        let rising: Vec<Sample> = (0..31)
            .map(|m| at(m * 60, m + if m % 2 == 0 { 160 } else { 140 }))
            .collect();
        assert_eq!(window_peaks(&rising, 300, 300), (168, 190));
        // Samples before the warm-up never count.
        let early_peak = vec![at(0, 999), at(300, 100), at(600, 101)];
        assert_eq!(window_peaks(&early_peak, 300, 300), (100, 101));
    }
}
