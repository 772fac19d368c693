//! The timer worker: everything that happens because time passed. Deadlines are columns in
//! the store (`retry_at`, `timeout_at`, a batch's schedule), read back each tick, so none is
//! lost across a restart.

use super::apply::Outcome;
use crate::{Core, CoreResult};
use ota_domain::task::TaskEvent;

/// How many due tasks one tick handles per kind; the rest wait for the next tick.
const CHUNK: i64 = 2_000;

/// One pass over due retries, timeouts and batch schedules.
pub async fn tick(core: &Core) -> CoreResult<()> {
    let now = core.now();
    let store = &core.inner.store;

    let mut outcome = Outcome::default();
    for task in store.due_retries(now, CHUNK).await? {
        outcome.apply(core, &task, TaskEvent::RetryDue, now).await?;
    }
    for task in store.due_timeouts(now, CHUNK).await? {
        outcome
            .apply(core, &task, TaskEvent::TimeoutElapsed, now)
            .await?;
    }
    outcome.commit(core).await?;

    for job in store.due_planned_jobs(now).await? {
        core.start_job(&job.job_id).await?;
    }
    for job in store.due_finishing_jobs(now).await? {
        core.finish_job_by_schedule(&job.job_id).await?;
    }
    Ok(())
}
