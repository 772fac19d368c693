//! The scenarios, one file each, and the steps they share: the rollout plan from the
//! command line, and the end of every run (wait for the rollout to settle, scrape the
//! counters, check the invariants).

pub mod broker_restart;
pub mod duplicates;
pub mod kill;
pub mod node_loss;
pub mod pg_restart;
pub mod s3_outage;

use super::Common;
use super::invariant::{self, Verdict};
use super::node::Node;
use super::rollout::{Batches, Rollout, RolloutPlan};
use super::run::Run;
use super::watch::{self, Settled};
use crate::client::ApiClient;
use anyhow::Context;
use ota_device_sdk::sim::Behaviour;
use std::time::Duration;

/// The plan of a scenario's rollout: the command line's settings, else the scenario's
/// defaults. Returns it with the behaviour as given (for the summary).
pub fn plan(
    common: &Common,
    default_behaviour: &str,
    default_package_kib: usize,
    batches: Batches,
    run: &Run,
) -> anyhow::Result<(RolloutPlan, String)> {
    let text = common
        .behaviour
        .clone()
        .unwrap_or_else(|| default_behaviour.to_owned());
    let behaviour: Behaviour = text
        .parse()
        .map_err(|e| anyhow::anyhow!("--behaviour: {e}"))?;
    Ok((
        RolloutPlan {
            devices: common.devices,
            package_kib: common.package_kib.unwrap_or(default_package_kib),
            behaviour,
            batches,
            download_retries: common.download_retries,
            echo: None,
            run_for: run.timeout,
        },
        text,
    ))
}

/// A push rate (per minute, within 10-10,000) that takes `secs` to push `devices`.
pub fn rate_for(devices: usize, secs: f64) -> u32 {
    ((devices as f64 * 60.0 / secs.max(1.0)).round() as u32).clamp(10, 10_000)
}

/// Waits for the rollout to settle, adds the live nodes' counters to the tally and checks
/// the invariants.
/// How long after their last task the batches must have ended: a timer tick or two.
const BATCHES_END_WITHIN: Duration = Duration::from_secs(5);

pub async fn settle_and_verify(
    run: &mut Run,
    api: &ApiClient,
    rollout: &mut Rollout,
    live_nodes: &[&Node],
) -> anyhow::Result<(Settled, Verdict)> {
    rollout.all_launched().await?;
    run.note("faults done; waiting for the rollout to settle");
    let jobs = || rollout.job_ids();
    let settled = watch::wait_settled(
        api,
        jobs,
        rollout.names.len() as u64,
        run.quiet,
        run.remaining(),
    )
    .await;
    run.note(&format!(
        "rollout {} after {:.1} s more: {:?}",
        if settled.finished {
            "finished"
        } else {
            "stopped moving"
        },
        settled.waited_s,
        settled.tally.by_status
    ));
    if settled.finished {
        let waited = watch::wait_batches_ended(api, &jobs(), BATCHES_END_WITHIN).await;
        run.note(&format!(
            "batches ended {waited:.1} s after their last task"
        ));
    }
    for node in live_nodes {
        run.transitions.add_final_scrape(node).await;
    }
    let verdict = invariant::verify(
        api,
        &rollout.job_ids(),
        &rollout.names,
        &rollout.expected,
        &run.ledger,
        &run.transitions,
    )
    .await
    .context("checking the invariants")?;
    Ok((settled, verdict))
}

/// Sleeps `secs` seconds.
pub async fn pause(secs: f64) {
    tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
}
