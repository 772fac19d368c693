//! Cancelling a batch's tasks with set-based SQL: a million tasks are a few hundred short
//! `UPDATE`s over ranges of device ids, each its own transaction, not a million conditional
//! saves. What it writes is what the task machine writes for a cancel, whatever else a task
//! holds (`ota_domain::job::cancel_selection` and its test), and only rows still in a
//! selected state are touched, so a report or a push racing it either lands first (and the
//! row is no longer selected, or still is) or finds the row changed and reads it again.

use crate::q::Q;
use crate::rows::{self, task_cols};
use crate::{Dialect, NewEvent, Result, Store};
use ota_domain::task::{CancelReason, QueuedReason, Task, TaskStatus};
use ota_domain::{JobId, Millis};
use sqlx::Row;

/// Device ids per statement (a batch's devices are mostly consecutive ids).
const CANCEL_CHUNK: i64 = 5_000;

/// The webhook event of one cancelled task: the task as cancelled, and its status before.
pub type CancelEvent<'a> = &'a (dyn Fn(&Task, TaskStatus) -> NewEvent + Send + Sync);

impl Store {
    /// Cancels every task of `job` in one of the `selected` (status, queued reason) pairs,
    /// chunk after chunk. Returns how many tasks it cancelled.
    pub async fn cancel_job_tasks(
        &self,
        job: &JobId,
        selected: &[(TaskStatus, Option<QueuedReason>)],
        reason: CancelReason,
        now: Millis,
    ) -> Result<u64> {
        self.cancel_job_tasks_with_events(job, selected, reason, now, None)
            .await
    }

    /// [`Store::cancel_job_tasks`] that, with `event`, also appends a webhook event per
    /// cancelled task to the outbox in each chunk's transaction (the chunk's tasks are read
    /// first, in the same transaction, for the event's data).
    pub async fn cancel_job_tasks_with_events(
        &self,
        job: &JobId,
        selected: &[(TaskStatus, Option<QueuedReason>)],
        reason: CancelReason,
        now: Millis,
        event: Option<CancelEvent<'_>>,
    ) -> Result<u64> {
        if selected.is_empty() {
            return Ok(0);
        }
        let states: Vec<String> = selected
            .iter()
            .map(|(s, r)| format!("{}/{}", s.as_str(), r.map_or("", QueuedReason::as_str)))
            .collect();
        let mut statuses: Vec<&str> = selected.iter().map(|(s, _)| s.as_str()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let mut cancelled = 0;
        let mut lo = i64::MIN;
        loop {
            // Where the next chunk starts: one probe of `tasks_job_status (job_id, status,
            // device_id)` per selected state (not a sort of the ids left, which a planner
            // with stale statistics may choose).
            let mut bound = Q::with(self.dialect(), "SELECT MIN(m) AS next FROM (");
            for (i, status) in statuses.iter().enumerate() {
                if i > 0 {
                    bound.push(" UNION ALL ");
                }
                bound
                    .push("SELECT MIN(device_id) AS m FROM tasks WHERE job_id = ")
                    .bind(job.as_str())
                    .push(" AND status = ")
                    .bind(*status)
                    .push(" AND device_id > ")
                    .bind(lo);
            }
            bound.push(") s");
            let Some(next) = bound
                .fetch_one(self.pool())
                .await?
                .try_get::<Option<i64>, _>("next")?
            else {
                return Ok(cancelled);
            };
            let hi = next.saturating_add(CANCEL_CHUNK - 1);
            let chunk = |q: &mut Q| {
                q.push(" WHERE job_id = ")
                    .bind(job.as_str())
                    .push(" AND device_id > ")
                    .bind(lo)
                    .push(" AND device_id <= ")
                    .bind(hi)
                    .push(" AND status IN (")
                    .bind_list(statuses.iter().copied())
                    .push(") AND (status || '/' || COALESCE(queued_reason, '')) IN (")
                    .bind_list(states.iter().map(String::as_str))
                    .push(")");
            };
            let mut q = Q::with(
                self.dialect(),
                "UPDATE tasks SET status = 'CANCELED', cancel_reason = ",
            );
            q.bind(reason.as_str())
                .push(
                    ", failure = NULL, queued_reason = NULL, retry_at = NULL, \
                     timeout_at = NULL, nudge_at = NULL, lease_until = NULL, modified_at = ",
                )
                .bind(now);
            chunk(&mut q);
            let Some(event) = event else {
                cancelled += q.execute(self.writer()).await?;
                lo = hi;
                continue;
            };
            let mut tx = self.begin_write().await?;
            let mut read = Q::with(
                self.dialect(),
                concat!("SELECT ", task_cols!(), " FROM tasks t"),
            );
            chunk(&mut read);
            if self.dialect() == Dialect::Postgres {
                read.push(" FOR UPDATE OF t");
            }
            let before = rows::all(&read.fetch_all(&mut *tx).await?, rows::task)?;
            cancelled += q.execute(&mut *tx).await?;
            let events: Vec<NewEvent> = before
                .iter()
                .map(|t| {
                    let mut after = t.clone();
                    after.status = TaskStatus::Canceled;
                    after.cancel_reason = Some(reason);
                    after.failure = None;
                    after.queued_reason = None;
                    after.modified_at = now;
                    event(&after, t.status)
                })
                .collect();
            self.enqueue_in(&mut tx, &events).await?;
            tx.commit().await?;
            lo = hi;
        }
    }
}
