//! `ota chaos node-loss`: several `ota serve` nodes share the harness's PostgreSQL, its
//! Mosquitto (external-broker mode, shared subscriptions) and its S3 bucket (presigned
//! download URLs, so no download depends on a node). Batches start in waves; at a random
//! moment of the rollout one node (never the one the harness talks to) is killed with
//! SIGKILL and not restarted. The others must finish the rollout, and from the kill on no
//! unfinished task may wait longer than one lease (the 10 s a node's claim on a task keeps
//! it from the others) without anything happening to it.

use super::{pause, plan, settle_and_verify};
use crate::chaos::mosquitto::Mosquitto;
use crate::chaos::node::Node;
use crate::chaos::postgres::Postgres;
use crate::chaos::rollout::{Batches, Rollout};
use crate::chaos::run::Run;
use crate::chaos::s3::S3Bucket;
use crate::chaos::stalls::StallWatch;
use crate::chaos::watch;
use crate::chaos::{NodeLossArgs, Summary};
use anyhow::bail;
use rand::Rng;
use std::time::{Duration, Instant};

/// How long a node's claim keeps a task from the other nodes (the dispatcher's
/// `PUSH_LEASE_MS`).
const LEASE: Duration = Duration::from_secs(10);
/// Polls of the unfinished tasks are this far apart, so a wait is known to within it.
const POLL: Duration = Duration::from_secs(1);

pub async fn run(args: NodeLossArgs) -> anyhow::Result<Summary> {
    if args.nodes < 2 {
        bail!("--nodes must be at least 2: one is lost, another finishes");
    }
    let mut run = Run::new("node-loss", &args.common)?;
    let pg = Postgres::start(&run.path).await?;
    let broker = Mosquitto::start(&run.path).await?;
    let bucket = S3Bucket::start(&run.path, None).await?;
    let mut env = bucket.env();
    env.push(("OTA_MQTT_BROKER".into(), broker.address()));
    env.push(("OTA_MQTT_SHARE_GROUP".into(), "chaos".into()));
    let mut nodes = Vec::new();
    for i in 0..args.nodes {
        let mut launch = run.launch(&format!("node{i}"));
        launch.database_url = Some(pg.url());
        launch.server_key_file = Some(run.path.join("server.key"));
        launch.env = env.clone();
        let (node, ready) = Node::start(&format!("node{i}"), launch).await?;
        run.note(&format!("node{i} ready in {} ms", ready.as_millis()));
        nodes.push(node);
    }
    let api = nodes[0].api();

    let waves = args.common.devices.div_ceil(args.wave_size.max(1));
    let rollout_secs = waves as f64 * args.wave_every;
    let batches = Batches::Waves {
        size: args.wave_size,
        per_minute: args.common.rate.unwrap_or(10_000),
        every: Duration::from_secs_f64(args.wave_every),
    };
    let (plan, behaviour) = plan(
        &args.common,
        "mix:95=slow:3,5=fail:-2@50",
        64,
        batches,
        &run,
    )?;
    let device_addr = format!("127.0.0.1:{}", broker.port).parse()?;
    let mut rollout = Rollout::prepare(&api, &plan, vec![device_addr]).await?;
    run.note(&format!(
        "{} devices connected through Mosquitto; batches: {waves} of {} devices, one every {} s",
        plan.devices, args.wave_size, args.wave_every
    ));
    rollout.launch(&api, plan.batches).await?;

    let victim = run.rng.random_range(1..args.nodes);
    pause(run.rng.random_range(0.25..0.6) * rollout_secs.max(4.0)).await;
    run.ledger.record(&api, &rollout.job_ids()).await;
    // What the lost node had done: it must have had a share of the work to lose.
    let lost_node_transitions = nodes[victim].transitions().await.unwrap_or_default();
    run.transitions.add_final_scrape(&nodes[victim]).await;
    nodes[victim].kill().await?;
    run.transitions.complete = false;
    let lost = nodes[victim].name.clone();
    run.fault(format!("kill -9 {lost} (not restarted)"), true, None);

    // Watch the waits until the rollout settles.
    let mut stalls = StallWatch::default();
    let limit = LEASE + 2 * POLL;
    let started = Instant::now();
    let mut last = watch::Tally::default();
    let mut changed = Instant::now();
    loop {
        let jobs = rollout.job_ids();
        stalls.observe(&api, &jobs, limit).await;
        if let Ok(t) = watch::tally(&api, &jobs).await {
            if t.total >= plan.devices as u64 && t.unfinished() == 0 {
                break;
            }
            if t != last {
                last = t;
                changed = Instant::now();
            }
        }
        if changed.elapsed() > run.quiet || started.elapsed() > run.remaining() {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let stalls = stalls.figures(limit);
    if stalls.tasks_over_limit > 0 {
        run.violations.push(format!(
            "{} tasks waited longer than one lease ({} s) after {lost} was lost (longest {:.0} s)",
            stalls.tasks_over_limit,
            LEASE.as_secs(),
            stalls.longest_wait_s
        ));
    }

    let live: Vec<&Node> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != victim)
        .map(|(_, n)| n)
        .collect();
    let (settled, verdict) = settle_and_verify(&mut run, &api, &mut rollout, &live).await?;
    let figures = serde_json::json!({
        "nodes": args.nodes,
        "lost": lost,
        "lost_node_transitions_before_kill": lost_node_transitions,
        "waves": waves,
        "stalls_after_loss": stalls,
    });
    Ok(run.finish(
        "PostgreSQL, Mosquitto, S3",
        &rollout,
        &behaviour,
        settled,
        verdict,
        figures,
    ))
}
