//! `ota bench download`: many devices downloading one large package at once from the
//! server's package directory, each with `Range` requests as a resuming device makes them.
//! It reports the aggregate throughput, the server's CPU and its memory while the downloads
//! run: a download route that buffered whole packages, or a buffer per connection that
//! grew with the file, shows up as resident memory growing with the clients.
//!
//! Every byte received is compared with the package, so a fast wrong answer counts as an
//! error, not as throughput.

use crate::client::text;
use crate::launch::OwnServer;
use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct DownloadArgs {
    /// Concurrent downloads, one HTTP connection each.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Package size in MB (10^6 bytes).
    #[arg(long, default_value_t = 100)]
    pub package_mb: u64,
    /// Bytes asked for by each `Range` request, in KiB.
    #[arg(long, default_value_t = 1024)]
    pub range_kib: u64,
    /// How long the downloads are measured, in seconds, after the warm-up.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Seconds of downloading before the measurement starts (connections opening).
    #[arg(long, default_value_t = 3)]
    pub warmup_secs: u64,
    #[command(flatten)]
    pub own: OwnServer,
}

/// What the clients have done so far, shared with the sampler.
#[derive(Default)]
struct Tally {
    bytes: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
}

/// The package: a pattern that differs at every offset of a range, so a response from the
/// wrong place of the file does not compare equal.
fn package(len: usize) -> Arc<Vec<u8>> {
    Arc::new(
        (0..len)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    )
}

/// Runs the benchmark and returns its report.
pub async fn download(args: DownloadArgs) -> anyhow::Result<serde_json::Value> {
    if args.clients == 0 || args.package_mb == 0 || args.range_kib == 0 {
        bail!("--clients, --package-mb and --range-kib must be at least 1");
    }
    let (_dir, server, api) = args.own.start().await?;
    let product = api
        .post("/products", &json!({"name": "BenchDownload"}))
        .await?;
    let pk = text(&product, "product_key")?;
    let payload = package((args.package_mb * 1_000_000) as usize);
    let firmware = crate::bench::add_package(&api, &pk, "2.0.0", payload.to_vec(), json!({}))
        .await
        .context("adding the package")?;
    let detail = api
        .get(&format!("/firmwares/{}", text(&firmware, "firmware_id")?))
        .await?;
    let url = detail["download_urls"][0]
        .as_str()
        .context("the package has no download URL")?
        .to_owned();
    eprintln!(
        "server up ({}); {} clients downloading {} MB in {} KiB ranges",
        args.own.store_name(),
        args.clients,
        args.package_mb,
        args.range_kib
    );

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .timeout(Duration::from_secs(120))
        .build()?;
    let tally = Arc::new(Tally::default());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let range = args.range_kib * 1024;
    let size = payload.len() as u64;
    let rss_before = server.rss_kib().unwrap_or(0);
    let mut clients = Vec::with_capacity(args.clients);
    for index in 0..args.clients {
        // Spread over the file, as devices that started at different times are.
        let start = (size / args.clients as u64 * index as u64) / range * range;
        clients.push(tokio::spawn(client(
            http.clone(),
            url.clone(),
            payload.clone(),
            start,
            range,
            tally.clone(),
            latencies.clone(),
        )));
    }

    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    let cpu_before = server.cpu_seconds().unwrap_or(0.0);
    let own_cpu_before = crate::launch::cpu_seconds_of(std::process::id()).unwrap_or(0.0);
    let bytes_before = tally.bytes.load(Ordering::Relaxed);
    let requests_before = tally.requests.load(Ordering::Relaxed);
    latencies.lock().expect("latencies").clear();
    let measured = Instant::now();
    let (mut peak_rss, mut peak_anon) = (0u64, 0u64);
    let mut per_second = Vec::new();
    let mut last = bytes_before;
    while measured.elapsed() < Duration::from_secs(args.seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        peak_rss = peak_rss.max(server.rss_kib().unwrap_or(0));
        peak_anon = peak_anon.max(server.rss_anon_kib().unwrap_or(0));
        let now = tally.bytes.load(Ordering::Relaxed);
        per_second.push((now - last) as f64 / 1e9);
        last = now;
    }
    let elapsed = measured.elapsed().as_secs_f64();
    let bytes = tally.bytes.load(Ordering::Relaxed) - bytes_before;
    let requests = tally.requests.load(Ordering::Relaxed) - requests_before;
    let server_cpu = server.cpu_seconds().unwrap_or(0.0) - cpu_before;
    let client_cpu =
        crate::launch::cpu_seconds_of(std::process::id()).unwrap_or(0.0) - own_cpu_before;
    for client in &clients {
        client.abort();
    }
    let mut times = std::mem::take(&mut *latencies.lock().expect("latencies"));
    let errors = tally.errors.load(Ordering::Relaxed);
    server.stop().await?;

    let result = json!({
        "store": args.own.store_name(),
        "clients": args.clients,
        "package_bytes": size,
        "range_bytes": range,
        "measured_seconds": elapsed,
        "bytes": bytes,
        "requests": requests,
        "errors": errors,
        "gb_per_second": bytes as f64 / elapsed / 1e9,
        "gb_per_second_min_max_of_seconds": [
            per_second.iter().cloned().fold(f64::INFINITY, f64::min),
            per_second.iter().cloned().fold(0.0, f64::max),
        ],
        "request_ms_p50": crate::report_probe::percentile_ms(&mut times, 50.0),
        "request_ms_p95": crate::report_probe::percentile_ms(&mut times, 95.0),
        "server_cpu_seconds": server_cpu,
        "client_cpu_seconds": client_cpu,
        "server_rss_before_kib": rss_before,
        "server_rss_peak_kib": peak_rss,
        "server_rss_anon_peak_kib": peak_anon,
    });
    Ok(result)
}

/// One device: reads the package range by range from `start`, wrapping at the end, until
/// aborted; compares every byte with the package.
async fn client(
    http: reqwest::Client,
    url: String,
    payload: Arc<Vec<u8>>,
    mut start: u64,
    range: u64,
    tally: Arc<Tally>,
    latencies: Arc<std::sync::Mutex<Vec<Duration>>>,
) {
    let size = payload.len() as u64;
    loop {
        let end = (start + range).min(size);
        let began = Instant::now();
        match fetch_range(&http, &url, &payload, start, end, &tally).await {
            Ok(()) => {
                tally.requests.fetch_add(1, Ordering::Relaxed);
                latencies.lock().expect("latencies").push(began.elapsed());
            }
            Err(err) => {
                if tally.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("download failed: {err:#}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        start = if end >= size { 0 } else { end };
    }
}

/// `GET` bytes `start..end` with `Range`; checks the 206 answer, its length and its bytes.
async fn fetch_range(
    http: &reqwest::Client,
    url: &str,
    payload: &[u8],
    start: u64,
    end: u64,
    tally: &Tally,
) -> anyhow::Result<()> {
    let mut response = http
        .get(url)
        .header("range", format!("bytes={start}-{}", end - 1))
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::PARTIAL_CONTENT {
        bail!("status {} for a Range request", response.status());
    }
    let mut at = start as usize;
    while let Some(chunk) = response.chunk().await? {
        let expected = payload
            .get(at..at + chunk.len())
            .context("more bytes than the range asked for")?;
        if chunk.as_ref() != expected {
            bail!("wrong bytes at offset {at}");
        }
        at += chunk.len();
        tally.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    }
    if at as u64 != end {
        bail!("range {start}-{end} ended at {at}");
    }
    Ok(())
}
