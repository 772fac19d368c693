//! `ota chaos broker-restart`: one `ota serve` node on SQLite behind the harness's
//! Mosquitto (external-broker mode); at a random moment of the rollout Mosquitto is killed
//! with SIGKILL (it keeps nothing on disk: every session and message in flight is gone),
//! kept down for `--down` seconds and started again on the same port. The node and the
//! devices reconnect by themselves. Besides the broker's own start, the run measures how
//! long the rollout took to move again.

use super::{pause, plan, rate_for, settle_and_verify};
use crate::chaos::mosquitto::Mosquitto;
use crate::chaos::node::Node;
use crate::chaos::rollout::{Batches, Rollout};
use crate::chaos::run::Run;
use crate::chaos::watch;
use crate::chaos::{OutageArgs, Summary};
use crate::client::ApiClient;
use rand::Rng;
use std::time::{Duration, Instant};

pub async fn run(args: OutageArgs) -> anyhow::Result<Summary> {
    let mut run = Run::new("broker-restart", &args.common)?;
    let mut broker = Mosquitto::start(&run.path).await?;
    let mut launch = run.launch("node");
    launch.env = vec![
        ("OTA_MQTT_BROKER".into(), broker.address()),
        ("OTA_MQTT_SHARE_GROUP".into(), "chaos".into()),
    ];
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
    let device_addr = format!("127.0.0.1:{}", broker.port).parse()?;
    let mut rollout = Rollout::prepare(&api, &plan, vec![device_addr]).await?;
    rollout.launch(&api, plan.batches).await?;
    run.note(&format!(
        "rolling out to {} devices through Mosquitto at {rate}/min",
        plan.devices
    ));

    pause(run.rng.random_range(0.2..0.5) * push_secs).await;
    let jobs = rollout.job_ids();
    run.ledger.record(&api, &jobs).await;
    broker.kill().await?;
    run.note("Mosquitto killed");
    pause(args.down).await;
    let before = watch::tally(&api, &jobs).await.ok();
    let listening = broker.start_again().await?;
    let moving = wait_moving(&api, &jobs, before, run.quiet).await;
    let fault = run.fault(
        format!("Mosquitto killed, down {} s, started again", args.down),
        true,
        Some(listening),
    );
    fault.detail = Some(serde_json::json!({
        "rollout_moving_again_after_ms": moving.map(|d| d.as_millis() as u64),
    }));

    let (settled, verdict) = settle_and_verify(&mut run, &api, &mut rollout, &[&node]).await?;
    let figures = serde_json::json!({"rate_per_minute": rate, "down_s": args.down});
    Ok(run.finish(
        "SQLite, Mosquitto",
        &rollout,
        &behaviour,
        settled,
        verdict,
        figures,
    ))
}

/// Time until the task counts differ from `before` (the rollout moves again); `None` if
/// they do not within `limit`.
async fn wait_moving(
    api: &ApiClient,
    jobs: &[String],
    before: Option<watch::Tally>,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Ok(now) = watch::tally(api, jobs).await
            && Some(&now) != before.as_ref()
        {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
