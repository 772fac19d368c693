//! The timer worker: everything that happens because time passed. Deadlines are columns in
//! the store (`retry_at`, `timeout_at`, `nudge_at`, a batch's schedule), read back each
//! tick, so none is lost across a restart.

use super::apply::TaskChanges;
use crate::{Core, CoreResult};
use ota_domain::task::TaskEvent;

/// How many due tasks one tick handles per kind; the rest wait for the next tick.
const CHUNK: i64 = 2_000;
/// How long claimed due tasks are kept from other nodes; they are saved well before.
const TIMER_LEASE_MS: i64 = 30_000;

/// One pass over due retries, timeouts, nudges and batch schedules.
pub async fn tick(core: &Core) -> CoreResult<()> {
    let now = core.now();
    let store = &core.inner.store;

    // On a store several nodes share, due tasks are claimed so one node handles each.
    let (retries, timeouts, nudges) = if store.is_shared() {
        (
            store.claim_due_retries(now, TIMER_LEASE_MS, CHUNK).await?,
            store.claim_due_timeouts(now, TIMER_LEASE_MS, CHUNK).await?,
            store.claim_due_nudges(now, TIMER_LEASE_MS, CHUNK).await?,
        )
    } else {
        (
            store.due_retries(now, CHUNK).await?,
            store.due_timeouts(now, CHUNK).await?,
            store.due_nudges(now, CHUNK).await?,
        )
    };
    let mut outcome = TaskChanges::default();
    for task in retries {
        outcome.apply(core, &task, TaskEvent::RetryDue, now).await?;
    }
    for task in timeouts {
        outcome
            .apply(core, &task, TaskEvent::TimeoutElapsed, now)
            .await?;
    }
    for task in nudges {
        outcome.apply(core, &task, TaskEvent::NudgeDue, now).await?;
    }
    let repush = std::mem::take(&mut outcome.repush);
    match outcome.commit(core).await {
        // A report or a push changed a due task meanwhile; the next tick reads it again.
        Err(err) if err.is_stale() => tracing::debug!("a due task changed before it was saved"),
        result => {
            result?;
        }
    }
    // Silent told devices are pushed again once their next nudge is stored.
    super::repush::send(core, &repush, now).await?;

    for job in store.due_planned_jobs(now).await? {
        core.jobs().start(&job.job_id).await?;
    }
    for job in store.due_finishing_jobs(now).await? {
        core.jobs().finish_by_schedule(&job.job_id).await?;
    }
    // A batch is completed by the node that stores its last report; one that died just
    // then left it IN_PROGRESS with nothing left to do. Any node completes it here.
    for job in store.finished_unsettled_jobs().await? {
        core.jobs().settle(&job).await?;
    }
    Ok(())
}

/// The timer worker.
pub(crate) struct Timers;

impl super::worker::Worker for Timers {
    const NAME: &'static str = "timers";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<super::worker::Pace> {
        tick(core).await?;
        Ok(super::worker::Pace::Idle)
    }

    async fn until_next(&mut self, core: &Core) {
        tokio::time::sleep(
            core.inner
                .config
                .tick
                .max(std::time::Duration::from_millis(250)),
        )
        .await;
    }
}
