//! `ota chaos s3-outage`: one `ota serve` node on SQLite with its packages in the harness's
//! S3 bucket (`s3s-fs`); pushes carry presigned URLs, so devices download from the bucket.
//! Devices download at a device link's pace (`--link-kib`, through the proxy in front of
//! the bucket), and once a tenth of the fleet is downloading the bucket is killed with
//! SIGKILL, kept down for `--down` seconds and started again on the same port and
//! directory. The package is large (16 MiB by default): a killed server's kernel still
//! sends what its sockets hold, a few MiB on the loopback, so only a package well beyond
//! that is really cut off. Devices must resume with `Range` (counted by the proxy in front of the
//! bucket), no byte may be downloaded twice, and every digest must match (a mismatch fails
//! the task with step -3, which the final check would show).

use super::{pause, plan, rate_for, settle_and_verify};
use crate::chaos::node::Node;
use crate::chaos::proxy::ProxyCounts;
use crate::chaos::rollout::{Batches, Rollout};
use crate::chaos::run::Run;
use crate::chaos::s3::S3Bucket;
use crate::chaos::{S3OutageArgs, Summary};
use std::time::{Duration, Instant};

/// How long to wait for downloads to be in flight before cutting the bucket off anyway.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(120);

pub async fn run(args: S3OutageArgs) -> anyhow::Result<Summary> {
    let mut run = Run::new("s3-outage", &args.common)?;
    let mut bucket = S3Bucket::start(&run.path, Some(args.link_kib.max(1) * 1024)).await?;
    let mut launch = run.launch("node");
    launch.env = bucket.env();
    let (node, _) = Node::start("ota serve", launch).await?;
    let api = node.api();

    let package_kib = args.common.package_kib.unwrap_or(16 * 1024);
    // Pushes spread so the bucket serves about 32 MiB/s in all: a machine's worth.
    let push_secs = (args.common.devices as f64 * package_kib as f64 / 1024.0 / 32.0).max(20.0);
    let rate = args
        .common
        .rate
        .unwrap_or_else(|| rate_for(args.common.devices, push_secs));
    let (plan, behaviour) = plan(
        &args.common,
        "succeed",
        package_kib,
        Batches::All { per_minute: rate },
        &run,
    )?;
    let mut rollout = Rollout::prepare(&api, &plan, vec![node.mqtt]).await?;
    rollout.launch(&api, plan.batches).await?;
    run.note(&format!(
        "rolling out to {} devices at {rate}/min",
        plan.devices
    ));

    let wanted = (plan.devices as u64 / 10).max(1);
    let started = Instant::now();
    let mut in_flight = 0;
    while started.elapsed() < IN_FLIGHT_WAIT {
        in_flight = rollout.stats.snapshot().downloading;
        if in_flight >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.ledger.record(&api, &rollout.job_ids()).await;
    bucket.kill().await?;
    run.note(&format!(
        "s3s-fs killed with {in_flight} downloads in flight"
    ));
    pause(args.down).await;
    let listening = bucket.start_again().await?;
    let fault = run.fault(
        format!("s3s-fs killed, down {} s, started again", args.down),
        true,
        Some(listening),
    );
    fault.detail = Some(serde_json::json!({"downloads_in_flight_at_kill": in_flight}));

    let (settled, verdict) = settle_and_verify(&mut run, &api, &mut rollout, &[&node]).await?;
    let s = rollout.stats.snapshot();
    let counts = &bucket.proxy.counts;
    let resumed = ProxyCounts::get(&counts.resumed_gets);
    // Every update that ended (either way) downloaded each byte of the package at most
    // once: more means a transfer started over instead of resuming.
    let fetched_at_most = rollout.package_bytes * (s.succeeded + s.failed_total());
    let refetched = s.bytes.saturating_sub(fetched_at_most);
    if resumed == 0 {
        run.violations.push(
            "no download resumed with a Range past byte 0: the outage met no download in flight"
                .into(),
        );
    }
    if refetched > 0 {
        run.violations.push(format!(
            "{refetched} bytes were downloaded more than once: a transfer started over"
        ));
    }
    let figures = serde_json::json!({
        "rate_per_minute": rate,
        "down_s": args.down,
        "link_kib_per_s": args.link_kib,
        "downloads_in_flight_at_kill": in_flight,
        "bucket_requests": {
            "connections": ProxyCounts::get(&counts.connections),
            "refused_while_down": ProxyCounts::get(&counts.refused),
            "gets": ProxyCounts::get(&counts.gets),
            "ranged_gets": ProxyCounts::get(&counts.ranged_gets),
            "resumed_gets": resumed,
        },
        "bytes_downloaded": s.bytes,
        "bytes_downloaded_more_than_once": refetched,
    });
    Ok(run.finish(
        "SQLite, S3",
        &rollout,
        &behaviour,
        settled,
        verdict,
        figures,
    ))
}
