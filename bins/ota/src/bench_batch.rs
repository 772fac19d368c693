//! `ota bench batch`: creating and cancelling batches over a large fleet. It starts a real
//! server process, registers the devices through the native API and times, for each kind
//! of target (ALL, GRAY 50 %, a static group of every device, the largest device-list file,
//! a dynamic batch over a dynamic group of every device), the creation request, the creation of every
//! task (the batch shows its own progress until then) and the cancel that follows. Beside
//! it a device of another product reports its version every 20 ms, and the time each report
//! takes to be stored while a batch is created is reported as live traffic's wait.

use crate::client::{ApiClient, text};
use crate::launch::OwnServer;
use crate::report_probe::{ReportProbe, percentile_ms};
use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// Registered devices, all of one product.
    #[arg(long, default_value_t = 1_000_000)]
    pub devices: usize,
    #[command(flatten)]
    pub own: OwnServer,
    /// Give up on one batch after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// Names per device-list file: the most one file may hold.
const LIST_NAMES: usize = ota_domain::validate::MAX_DEVICE_LIST_NAMES;
/// How often the probe device reports.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// Names per request adding group members.
const MEMBERS_PER_CALL: usize = 10_000;

/// Runs the benchmark; returns its report (printed as JSON by `ota bench batch`).
pub async fn batch(args: BatchArgs) -> anyhow::Result<Value> {
    let (_dir, server, api) = args.own.start().await?;
    let store_kind = args.own.store_name();
    eprintln!("server up ({store_kind}) at {}", server.http);

    let (pk, names) = register_fleet(&api, "BenchBatch", args.devices).await?;
    let group = api
        .post("/groups", &json!({"name": "everyone", "product_key": pk}))
        .await?;
    let group_id = text(&group, "group_id")?;
    for chunk in names.chunks(MEMBERS_PER_CALL) {
        api.post(
            &format!("/groups/{group_id}/members"),
            &json!({"device_names": chunk}),
        )
        .await?;
    }
    let everyone = api
        .post(
            "/groups",
            &json!({"name": "everyone-dynamic", "product_key": pk,
                    "filter": {"product_key": pk, "tags": {}, "module_versions": []}}),
        )
        .await?;
    let dynamic_group_id = text(&everyone, "group_id")?;
    let list: String = names
        .iter()
        .take(LIST_NAMES)
        .map(|n| format!("{n}\n"))
        .collect();
    let list_url = text(
        &api.upload_bytes("devices.csv", list.into_bytes()).await?,
        "url",
    )?;
    let firmware_id = bench_package(&api, &pk).await?;
    let other = api
        .post("/products", &json!({"name": "BenchProbe"}))
        .await?;
    let probe_device = crate::sim::register(&api, &text(&other, "product_key")?, 1).await?;
    let probe = ReportProbe::start(&probe_device[0], server.mqtt, PROBE_EVERY).await?;

    let cases = [
        ("ALL", json!({"target_selection": "ALL"})),
        (
            "GRAY 50%",
            json!({"target_selection": "GRAY", "gray_percent": "50"}),
        ),
        (
            "GROUP",
            json!({"target_selection": "GROUP", "group_id": group_id, "group_type": "LINK_PLATFORM"}),
        ),
        (
            "DEVICE LIST",
            json!({"target_selection": "SPECIFIC", "device_list_url": list_url}),
        ),
        (
            "DYNAMIC GROUP",
            json!({"kind": "dynamic", "target_selection": "GROUP", "group_id": dynamic_group_id,
                   "group_type": "LINK_PLATFORM_DYNAMIC", "dynamic_mode": 1}),
        ),
    ];
    // Live traffic's wait with nothing else going on, to compare with.
    probe.take();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut idle = probe.take();
    let mut results = Vec::new();
    for (name, body) in cases {
        let result = run_case(&api, &probe, &firmware_id, body, args.timeout)
            .await
            .with_context(|| format!("batch {name}"))?;
        eprintln!("{name}: {result}");
        results.push(json!({"target": name, "result": result}));
    }
    probe.stop().await?;
    server.stop().await?;
    let report = json!({
        "store": store_kind,
        "devices": args.devices,
        "idle_report_ms_p50": percentile_ms(&mut idle, 50.0),
        "idle_report_ms_p99": percentile_ms(&mut idle, 99.0),
        "batches": results,
    });
    Ok(report)
}

/// A new product named `name` with `devices` registered devices; returns its key and the
/// devices' names in registration order.
pub(crate) async fn register_fleet(
    api: &ApiClient,
    name: &str,
    devices: usize,
) -> anyhow::Result<(String, Vec<String>)> {
    let product = api.post("/products", &json!({"name": name})).await?;
    let pk = text(&product, "product_key")?;
    let started = Instant::now();
    let names: Vec<String> = crate::sim::register(api, &pk, devices)
        .await?
        .into_iter()
        .map(|d| d.device_name)
        .collect();
    eprintln!(
        "{} devices registered in {:.1} s",
        names.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((pk, names))
}

/// A 16 KiB package of product `pk` that needs no verification; returns its id.
pub(crate) async fn bench_package(api: &ApiClient, pk: &str) -> anyhow::Result<String> {
    let upload = api.upload_bytes("bench.bin", vec![7u8; 16 * 1024]).await?;
    let firmware = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "bench", "dest_version": "2.0.0",
                    "url": text(&upload, "url")?, "need_to_verify": false}),
        )
        .await?;
    text(&firmware, "firmware_id")
}

/// Waits until the batch `created` (the answer to its creation, the newest batch of
/// `firmware_id`) has all its tasks; returns it as the package's batch list then shows it.
pub(crate) async fn wait_created(
    api: &ApiClient,
    firmware_id: &str,
    created: Value,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    let job_id = text(&created, "job_id")?;
    let mut job = created;
    // Polled through the package's batch list, which does not count tasks: counting a
    // growing million-task batch twenty times a second would load the server it measures.
    while job["creation"]["creating"].as_bool() == Some(true) {
        if Instant::now() > deadline {
            bail!(
                "tasks still being created after {} s: {job}",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let page = api
            .get(&format!("/firmwares/{firmware_id}/jobs?page_size=1"))
            .await?;
        job = page["items"][0].clone();
        if job["job_id"] != job_id.as_str() {
            bail!("the newest batch is not the one created: {page}");
        }
    }
    Ok(job)
}

/// Creates one batch, waits until its tasks are all created, then cancels it.
async fn run_case(
    api: &ApiClient,
    probe: &ReportProbe,
    firmware_id: &str,
    mut body: Value,
    timeout: u64,
) -> anyhow::Result<Value> {
    body["maximum_per_minute"] = json!(10_000);
    body["overwrite_mode"] = json!(2);
    probe.take();
    let start = Instant::now();
    let created = api
        .post(&format!("/firmwares/{firmware_id}/jobs"), &body)
        .await?;
    let request_secs = start.elapsed().as_secs_f64();
    let job_id = text(&created, "job_id")?;
    let creating_at_answer = created["creation"]["creating"].as_bool() == Some(true);
    let job = wait_created(api, firmware_id, created, Duration::from_secs(timeout)).await?;
    let creation_secs = start.elapsed().as_secs_f64();
    let mut reports = probe.take();
    let tasks = job["creation"]["tasks_created"].as_u64().unwrap_or(0);
    let cancel_start = Instant::now();
    api.post(&format!("/jobs/{job_id}/cancel"), &json!({"all": true}))
        .await?;
    let cancel_secs = cancel_start.elapsed().as_secs_f64();
    Ok(json!({
        "job_id": job_id,
        "tasks_created": tasks,
        "request_seconds": request_secs,
        "still_creating_at_answer": creating_at_answer,
        "creation_seconds": creation_secs,
        "cancel_seconds": cancel_secs,
        "reports_stored_meanwhile": reports.len(),
        "report_ms_p50": percentile_ms(&mut reports, 50.0),
        "report_ms_p99": percentile_ms(&mut reports, 99.0),
        "report_ms_max": percentile_ms(&mut reports, 100.0),
    }))
}
