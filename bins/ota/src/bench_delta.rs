//! `ota bench delta`: server-side delta generation for one image pair, measured on a real
//! server process: the time from the new package's creation to its delta being ready, the
//! server's CPU and its memory while it diffs, and the patch size. With `--zstd`, the same
//! pair through `zstd --ultra -19 --long=31 --patch-from` beside it, the reference the
//! platform's diff time and size are held to.
//!
//! The patch the server stored is applied to the old image and the result compared with
//! the new image, so a fast wrong patch fails the benchmark instead of counting.

use crate::bench::package_body;
use crate::client::{ApiClient, text};
use crate::launch::{OwnServer, cpu_seconds_of, status_kib_of};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct DeltaArgs {
    /// The old image (the version devices run).
    #[arg(long)]
    pub old: PathBuf,
    /// The new image.
    #[arg(long)]
    pub new: PathBuf,
    /// Also diff the pair with `zstd --ultra -19 --long=31 --patch-from` and report it.
    #[arg(long)]
    pub zstd: bool,
    #[command(flatten)]
    pub own: OwnServer,
}

/// Peak memory and CPU of a process, sampled while it runs.
#[derive(Default)]
struct Usage {
    peak_rss_kib: u64,
    peak_anon_kib: u64,
}

impl Usage {
    fn sample(&mut self, pid: u32) {
        self.peak_rss_kib = self
            .peak_rss_kib
            .max(status_kib_of(pid, "VmRSS").unwrap_or(0));
        self.peak_anon_kib = self
            .peak_anon_kib
            .max(status_kib_of(pid, "RssAnon").unwrap_or(0));
    }
}

/// How often memory is sampled while a diff runs.
const SAMPLE: Duration = Duration::from_millis(100);

/// Runs the benchmark and returns its report.
pub async fn delta(args: DeltaArgs) -> anyhow::Result<serde_json::Value> {
    let old_len = std::fs::metadata(&args.old)
        .with_context(|| format!("reading {}", args.old.display()))?
        .len();
    let new_len = std::fs::metadata(&args.new)
        .with_context(|| format!("reading {}", args.new.display()))?
        .len();
    let (dir, server, api) = args.own.start().await?;
    let pid = server.pid().context("the server has exited")?;
    let product = api
        .post("/products", &json!({"name": "BenchDelta"}))
        .await?;
    let pk = text(&product, "product_key")?;
    add_package(&api, &pk, "1.0.0", &args.old, json!({})).await?;
    let upload = api.upload(&args.new, |_| {}).await?;
    eprintln!(
        "server up ({}); packages of {old_len} and {new_len} bytes uploaded; diffing",
        args.own.store_name()
    );

    let rss_before = status_kib_of(pid, "VmRSS").unwrap_or(0);
    let cpu_before = cpu_seconds_of(pid).unwrap_or(0.0);
    let started = Instant::now();
    let firmware = api
        .post(
            "/firmwares",
            &package_body(
                &pk,
                "2.0.0",
                &upload,
                json!({"delta_from_versions": ["1.0.0"]}),
            )?,
        )
        .await?;
    let firmware_id = text(&firmware, "firmware_id")?;
    let mut usage = Usage::default();
    let delta = loop {
        usage.sample(pid);
        let deltas = api.get(&format!("/firmwares/{firmware_id}/deltas")).await?;
        let d = deltas["items"][0].clone();
        if !matches!(d["status"].as_str(), Some("PENDING" | "RUNNING")) {
            break d;
        }
        tokio::time::sleep(SAMPLE).await;
    };
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds_of(pid).unwrap_or(0.0) - cpu_before;
    if delta["status"] != "READY" {
        bail!("the delta did not become READY: {delta}");
    }
    let patch_bytes = delta["size"].as_u64().unwrap_or(0);
    server.stop().await?;

    let patch = stored_delta(dir.path())?;
    let verified = verify(&args.old, &patch, &args.new)?;
    let mut report = json!({
        "store": args.own.store_name(),
        "old_bytes": old_len,
        "new_bytes": new_len,
        "patch_bytes": patch_bytes,
        "patch_percent_of_new": patch_bytes as f64 * 100.0 / new_len.max(1) as f64,
        "format": delta["format"],
        "apply_memory": delta["apply_memory"],
        "generation_seconds": seconds,
        "server_cpu_seconds": cpu,
        "server_rss_before_kib": rss_before,
        "server_rss_peak_kib": usage.peak_rss_kib,
        "server_rss_anon_peak_kib": usage.peak_anon_kib,
        "verified": verified,
    });
    if args.zstd {
        report["zstd"] = zstd(&args.old, &args.new, dir.path()).await?;
    }
    Ok(report)
}

async fn add_package(
    api: &ApiClient,
    pk: &str,
    version: &str,
    path: &Path,
    extra: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let upload = api.upload(path, |_| {}).await?;
    api.post("/firmwares", &package_body(pk, version, &upload, extra)?)
        .await
}

/// The one delta file in the server's package directory.
fn stored_delta(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let packages = data_dir.join("packages");
    std::fs::read_dir(&packages)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("delta-"))
        })
        .with_context(|| format!("no delta file in {}", packages.display()))
}

/// Applies `patch` to `old` and compares the result with `new` byte for byte.
fn verify(old: &Path, patch: &Path, new: &Path) -> anyhow::Result<bool> {
    let rebuilt = tempfile::NamedTempFile::new()?;
    ota_delta::cli::run_apply(old, patch, rebuilt.path()).context("applying the delta")?;
    Ok(same_bytes(rebuilt.path(), new)?)
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let (mut a, mut b) = (
        std::io::BufReader::new(std::fs::File::open(a)?),
        std::io::BufReader::new(std::fs::File::open(b)?),
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(b.read(&mut y[..1])? == 0);
        }
        if b.read_exact(&mut y[..n]).is_err() || x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// `zstd --ultra -19 --long=31 --patch-from` on the pair: time, CPU, memory and size.
async fn zstd(old: &Path, new: &Path, scratch: &Path) -> anyhow::Result<serde_json::Value> {
    let out = scratch.join("zstd.patch");
    let started = Instant::now();
    let mut child = tokio::process::Command::new("zstd")
        .args(["-q", "-f", "--ultra", "-19", "--long=31"])
        .arg(format!("--patch-from={}", old.display()))
        .arg(new)
        .arg("-o")
        .arg(&out)
        .spawn()
        .context("running zstd (is it installed?)")?;
    let pid = child.id().context("zstd exited at once")?;
    let (mut usage, mut cpu) = (Usage::default(), 0.0);
    let status = loop {
        usage.sample(pid);
        cpu = cpu_seconds_of(pid).unwrap_or(cpu);
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(SAMPLE).await;
    };
    if !status.success() {
        bail!("zstd failed: {status}");
    }
    Ok(json!({
        "patch_bytes": std::fs::metadata(&out)?.len(),
        "seconds": started.elapsed().as_secs_f64(),
        "cpu_seconds": cpu,
        "rss_peak_kib": usage.peak_rss_kib,
        "rss_anon_peak_kib": usage.peak_anon_kib,
    }))
}
