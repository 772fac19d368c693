//! `ota chaos duplicates`: the same rollout twice, each on a fresh `ota serve` (SQLite,
//! embedded broker): once with devices that say everything once and in order, once with
//! devices that send every report twice and some earlier reports after later ones
//! (`ota_device_sdk::sim::Echo`). Both must pass the invariants, and every device must end
//! in the same state in both.

use super::{plan, rate_for, settle_and_verify};
use crate::chaos::invariant::{Ledger, TransitionCount, Verdict};
use crate::chaos::node::Node;
use crate::chaos::rollout::{Batches, Rollout, RolloutPlan};
use crate::chaos::run::Run;
use crate::chaos::watch::Settled;
use crate::chaos::{DuplicatesArgs, Summary};
use ota_device_sdk::sim::Echo;

pub async fn run(args: DuplicatesArgs) -> anyhow::Result<Summary> {
    let mut run = Run::new("duplicates", &args.common)?;
    let rate = args
        .common
        .rate
        .unwrap_or_else(|| rate_for(args.common.devices, 20.0));
    let (mut plan, behaviour) = plan(
        &args.common,
        "mix:80=slow:2,10=fail:-2@50,10=fail:-4@100",
        64,
        Batches::All { per_minute: rate },
        &run,
    )?;

    run.note("baseline: every report once, in order");
    let (baseline_rollout, baseline_settled, baseline) =
        one_rollout(&mut run, "baseline", &plan).await?;
    drop(baseline_rollout);
    let baseline_transitions = std::mem::replace(&mut run.transitions, TransitionCount::new());
    run.ledger = Ledger::default();

    plan.echo = Some(Echo {
        reorder_one_in: args.reorder_one_in,
        seed: run.seed,
    });
    run.note("every report twice, some out of order");
    let (rollout, settled, verdict) = one_rollout(&mut run, "echoed", &plan).await?;

    let differing = baseline
        .statuses
        .iter()
        .zip(&verdict.statuses)
        .filter(|(a, b)| a != b)
        .count();
    if differing > 0 {
        run.violations.push(format!(
            "{differing} devices ended in another state than without duplicates"
        ));
    }
    for v in &baseline.violations {
        run.violations.push(format!("baseline: {v}"));
    }
    let s = rollout.stats.snapshot();
    let figures = serde_json::json!({
        "rate_per_minute": rate,
        "reorder_one_in": args.reorder_one_in,
        "reports_duplicated": s.reports_duplicated,
        "reports_reordered": s.reports_reordered,
        "devices_in_another_state_than_baseline": differing,
        "baseline": {
            "settled": baseline_settled,
            "by_status": baseline.by_status,
            "transitions_counted": baseline_transitions,
            "violations": baseline.violations,
        },
    });
    Ok(run.finish("SQLite", &rollout, &behaviour, settled, verdict, figures))
}

/// A fresh server, fleet and rollout of `plan`, run to the end and checked.
async fn one_rollout(
    run: &mut Run,
    name: &str,
    plan: &RolloutPlan,
) -> anyhow::Result<(Rollout, Settled, Verdict)> {
    let (node, _) = Node::start(name, run.launch(name)).await?;
    let api = node.api();
    let mut rollout = Rollout::prepare(&api, plan, vec![node.mqtt]).await?;
    rollout.launch(&api, plan.batches).await?;
    let (settled, verdict) = settle_and_verify(run, &api, &mut rollout, &[&node]).await?;
    Ok((rollout, settled, verdict))
}
