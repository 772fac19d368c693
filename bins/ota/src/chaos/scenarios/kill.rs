//! `ota chaos kill`: the server is killed with SIGKILL at random moments of a rollout and
//! started again at once on the same data and ports, as a supervisor would. Devices keep
//! running and reconnect by themselves. Before each kill the finished tasks are sampled and
//! the server's transition counters scraped (see `invariant`).
//!
//! The push rate is chosen, unless given, so the kills land while devices are still being
//! pushed: the pushes take about one and a half times the expected time of all the kills.

use super::{pause, plan, rate_for, settle_and_verify};
use crate::chaos::node::Node;
use crate::chaos::postgres::Postgres;
use crate::chaos::rollout::{Batches, Rollout};
use crate::chaos::run::Run;
use crate::chaos::watch;
use crate::chaos::{KillArgs, StoreKind, Summary};
use anyhow::bail;
use rand::Rng;

pub async fn run(args: KillArgs) -> anyhow::Result<Summary> {
    if !(args.min_gap > 0.0 && args.min_gap <= args.max_gap) {
        bail!("--min-gap must be above 0 and at most --max-gap");
    }
    let mut run = Run::new("kill", &args.common)?;
    let pg = match args.store {
        StoreKind::Postgres => Some(Postgres::start(&run.path).await?),
        StoreKind::Sqlite => None,
    };
    let mut launch = run.launch("node");
    launch.database_url = pg.as_ref().map(Postgres::url);
    let (mut node, first_ready) = Node::start("ota serve", launch).await?;
    run.note(&format!("server ready in {} ms", first_ready.as_millis()));
    let api = node.api();

    let mean_gap = (args.min_gap + args.max_gap) / 2.0;
    let rate = args.common.rate.unwrap_or_else(|| {
        rate_for(
            args.common.devices,
            1.5 * args.kills.max(1) as f64 * (mean_gap + 1.0),
        )
    });
    let (plan, behaviour) = plan(
        &args.common,
        "mix:95=slow:3,5=fail:-2@50",
        64,
        Batches::All { per_minute: rate },
        &run,
    )?;
    let mut rollout = Rollout::prepare(&api, &plan, vec![node.mqtt]).await?;
    run.note(&format!(
        "{} devices connected; rolling out at {rate}/min",
        plan.devices
    ));
    rollout.launch(&api, plan.batches).await?;
    let jobs = rollout.job_ids();

    for k in 1..=args.kills {
        pause(run.rng.random_range(args.min_gap..=args.max_gap)).await;
        if let Ok(t) = watch::tally(&api, &jobs).await
            && t.unfinished() == 0
        {
            run.violations.push(format!(
                "the rollout finished before kill {k} of {}: give a lower --rate",
                args.kills
            ));
            break;
        }
        run.ledger.record(&api, &jobs).await;
        run.transitions.add_final_scrape(&node).await;
        node.kill().await?;
        // Whatever the server counted between the scrape and the kill is lost.
        run.transitions.complete = false;
        let ready = node.restart().await?;
        run.fault(
            format!("kill -9 ota serve ({k}/{})", args.kills),
            true,
            Some(ready),
        );
    }

    let (settled, verdict) = settle_and_verify(&mut run, &api, &mut rollout, &[&node]).await?;
    let store = match args.store {
        StoreKind::Sqlite => "SQLite",
        StoreKind::Postgres => "PostgreSQL",
    };
    let figures = serde_json::json!({
        "rate_per_minute": rate,
        "kills_asked": args.kills,
        "first_start_ms": first_ready.as_millis() as u64,
    });
    Ok(run.finish(store, &rollout, &behaviour, settled, verdict, figures))
}
