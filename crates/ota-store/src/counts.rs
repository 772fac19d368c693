//! Aggregates over tasks for batch and package statistics. The store only counts; what the
//! numbers mean for a rollout is decided in the domain.

use crate::rows::{parse_opt_or_corrupt, parse_or_corrupt};
use crate::{Result, Store};
use ota_domain::task::{CancelReason, FailureReason, QueuedReason, TaskStatus};
use ota_domain::{FirmwareId, JobId};
use sqlx::Row;
use std::collections::HashMap;

/// Why QUEUED tasks wait, as the console shows it. Offline versus rate-limited is read from
/// the device's current presence, so holding a task back costs no write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueuedCounts {
    /// Eligible and online: waiting for the batch's push rate.
    pub rate_limited: i64,
    /// Eligible but the device is offline.
    pub offline: i64,
    /// The batch has not started.
    pub scheduled: i64,
    /// Waiting for a retry interval.
    pub retry_scheduled: i64,
    /// The batch does not push; the device must ask.
    pub awaiting_pull: i64,
}

/// Task counts of one batch. Statuses with no task are absent from the maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub total: i64,
    pub by_status: HashMap<TaskStatus, i64>,
    /// FAILED tasks by reason.
    pub failures: HashMap<FailureReason, i64>,
    /// CANCELED tasks by reason.
    pub cancels: HashMap<CancelReason, i64>,
    /// QUEUED tasks by what they wait for; the fields add up to `status(Queued)`.
    pub queued: QueuedCounts,
}

impl JobCounts {
    /// Tasks in `status` (0 if none).
    pub fn status(&self, status: TaskStatus) -> i64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Tasks whose device was told (NOTIFIED, IN_PROGRESS, SUCCEEDED or FAILED): what an
    /// exponential ramp counts as notified.
    pub fn notified(&self) -> u64 {
        [
            TaskStatus::Notified,
            TaskStatus::InProgress,
            TaskStatus::Succeeded,
            TaskStatus::Failed,
        ]
        .into_iter()
        .map(|s| self.status(s).max(0) as u64)
        .sum()
    }

    /// Tasks not yet SUCCEEDED, FAILED or CANCELED.
    pub fn unfinished(&self) -> i64 {
        TaskStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .map(|s| self.status(s))
            .sum()
    }
}

impl Store {
    /// Counts a batch's tasks by status, failure, cancel reason and queue reason, in one
    /// statement: the counts from the batch's range of `tasks_job_counts` alone, and the
    /// QUEUED tasks waiting for a push slot whose device is online from the online devices
    /// (few beside a fleet) rather than from a join of every task with its device.
    pub async fn job_task_counts(&self, job_id: &JobId) -> Result<JobCounts> {
        let rows = sqlx::query(
            "SELECT status, queued_reason, failure, cancel_reason, CAST(0 AS BIGINT) AS online, COUNT(*) AS n \
             FROM tasks WHERE job_id = $1 \
             GROUP BY status, queued_reason, failure, cancel_reason \
             UNION ALL \
             SELECT 'QUEUED', NULL, NULL, NULL, CAST(1 AS BIGINT), COUNT(*) \
             FROM devices d CROSS JOIN tasks t \
             WHERE d.online = 1 AND t.job_id = $1 AND t.device_id = d.id \
             AND t.status = 'QUEUED' AND (t.queued_reason IS NULL \
             OR t.queued_reason IN ('READY', 'OFFLINE', 'RATE_LIMITED'))",
        )
        .bind(job_id.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut c = JobCounts::default();
        let mut waiting_online = 0;
        for r in &rows {
            let n: i64 = r.try_get("n")?;
            if r.try_get::<i64, _>("online")? != 0 {
                waiting_online = n;
                continue;
            }
            let status = parse_or_corrupt(r, "status", TaskStatus::parse)?;
            c.total += n;
            *c.by_status.entry(status).or_default() += n;
            match status {
                TaskStatus::Failed => {
                    if let Some(f) = parse_opt_or_corrupt(r, "failure", FailureReason::parse)? {
                        *c.failures.entry(f).or_default() += n;
                    }
                }
                TaskStatus::Canceled => {
                    if let Some(f) = parse_opt_or_corrupt(r, "cancel_reason", CancelReason::parse)?
                    {
                        *c.cancels.entry(f).or_default() += n;
                    }
                }
                TaskStatus::Queued => {
                    let reason = parse_opt_or_corrupt(r, "queued_reason", QueuedReason::parse)?;
                    let q = &mut c.queued;
                    let slot = match reason {
                        Some(QueuedReason::Scheduled) => &mut q.scheduled,
                        Some(QueuedReason::RetryScheduled) => &mut q.retry_scheduled,
                        Some(QueuedReason::AwaitingPull) => &mut q.awaiting_pull,
                        Some(
                            QueuedReason::Ready | QueuedReason::Offline | QueuedReason::RateLimited,
                        )
                        | None => &mut q.offline,
                    };
                    *slot += n;
                }
                _ => {}
            }
        }
        // Of the tasks waiting for a push slot, those whose device is online wait for the rate.
        let q = &mut c.queued;
        q.rate_limited = waiting_online.min(q.offline);
        q.offline -= q.rate_limited;
        Ok(c)
    }

    /// A package's tasks by batch and state, counted per batch from the `(job_id, status,
    /// …)` index alone. Batches without tasks are absent.
    pub async fn firmware_status_counts(
        &self,
        firmware_id: &FirmwareId,
    ) -> Result<HashMap<JobId, HashMap<TaskStatus, i64>>> {
        let rows = sqlx::query(
            // Batch ids as an IN list, so each batch's range of the index is read in its
            // order and grouped as it streams (a join grouped through a temporary sort of
            // every task, five times slower at a million).
            "SELECT t.job_id AS job_id, t.status AS status, COUNT(*) AS n FROM tasks t \
             WHERE t.job_id IN (SELECT j.job_id FROM jobs j WHERE j.firmware_id = $1) \
             GROUP BY t.job_id, t.status",
        )
        .bind(firmware_id.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut out: HashMap<JobId, HashMap<TaskStatus, i64>> = HashMap::new();
        for r in &rows {
            let status = parse_or_corrupt(r, "status", TaskStatus::parse)?;
            let job = JobId(r.try_get("job_id")?);
            out.entry(job).or_default().insert(status, r.try_get("n")?);
        }
        Ok(out)
    }
}
