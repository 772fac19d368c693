//! `ota chaos pg-restart`: one `ota serve` node on the harness's PostgreSQL; at a random
//! moment of the rollout PostgreSQL is stopped the hard way (SIGQUIT, immediate shutdown:
//! every connection cut, crash recovery on start), kept down for `--down` seconds and
//! started again on the same data and port. The server stays up throughout; "ready again"
//! is the time from starting PostgreSQL to the server's `/healthz` answering 200 (its store
//! answers).

use super::{pause, plan, rate_for, settle_and_verify};
use crate::chaos::node::Node;
use crate::chaos::postgres::Postgres;
use crate::chaos::rollout::{Batches, Rollout};
use crate::chaos::run::Run;
use crate::chaos::{OutageArgs, Summary};
use rand::Rng;
use std::time::{Duration, Instant};

pub async fn run(args: OutageArgs) -> anyhow::Result<Summary> {
    let mut run = Run::new("pg-restart", &args.common)?;
    let mut pg = Postgres::start(&run.path).await?;
    let mut launch = run.launch("node");
    launch.database_url = Some(pg.url());
    let (node, _) = Node::start("ota serve", launch).await?;
    let api = node.api();

    let push_secs = (4.0 * args.down).max(30.0);
    let rate = args
        .common
        .rate
        .unwrap_or_else(|| rate_for(args.common.devices, push_secs));
    let (plan, behaviour) = plan(
        &args.common,
        "mix:95=slow:3,5=fail:-2@50",
        64,
        Batches::All { per_minute: rate },
        &run,
    )?;
    let mut rollout = Rollout::prepare(&api, &plan, vec![node.mqtt]).await?;
    rollout.launch(&api, plan.batches).await?;
    run.note(&format!(
        "rolling out to {} devices at {rate}/min",
        plan.devices
    ));

    pause(run.rng.random_range(0.2..0.5) * push_secs).await;
    run.ledger.record(&api, &rollout.job_ids()).await;
    pg.stop_immediately().await?;
    run.note("PostgreSQL stopped (immediate shutdown)");
    pause(args.down).await;
    let pg_ready = pg.start_again().await?;
    let healthy = wait_healthy(&node).await;
    let fault = run.fault(
        format!("PostgreSQL down {} s, then started again", args.down),
        false,
        Some(pg_ready + healthy),
    );
    fault.detail = Some(serde_json::json!({"postgres_accepting_ms": pg_ready.as_millis() as u64}));

    let (settled, verdict) = settle_and_verify(&mut run, &api, &mut rollout, &[&node]).await?;
    let figures = serde_json::json!({"rate_per_minute": rate, "down_s": args.down});
    Ok(run.finish(
        "PostgreSQL",
        &rollout,
        &behaviour,
        settled,
        verdict,
        figures,
    ))
}

/// Time until the node's `/healthz` answers 200 (at most a minute).
async fn wait_healthy(node: &Node) -> Duration {
    let started = Instant::now();
    let http = reqwest::Client::new();
    while started.elapsed() < Duration::from_secs(60) {
        let ok = http
            .get(format!("http://{}/healthz", node.http))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ok {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}
