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
    /// grouped query.
    pub async fn job_task_counts(&self, job_id: &JobId) -> Result<JobCounts> {
        let rows = sqlx::query(
            "SELECT t.status AS status, t.queued_reason AS queued_reason, t.failure AS failure, \
             t.cancel_reason AS cancel_reason, COALESCE(d.online, 0) AS online, COUNT(*) AS n \
             FROM tasks t LEFT JOIN devices d ON d.id = t.device_id \
             WHERE t.job_id = $1 \
             GROUP BY t.status, t.queued_reason, t.failure, t.cancel_reason, COALESCE(d.online, 0)",
        )
        .bind(job_id.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut c = JobCounts::default();
        for r in &rows {
            let n: i64 = r.try_get("n")?;
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
                    let online = r.try_get::<i64, _>("online")? != 0;
                    let reason = parse_opt_or_corrupt(r, "queued_reason", QueuedReason::parse)?;
                    let q = &mut c.queued;
                    let slot = match reason {
                        Some(QueuedReason::Scheduled) => &mut q.scheduled,
                        Some(QueuedReason::RetryScheduled) => &mut q.retry_scheduled,
                        Some(QueuedReason::AwaitingPull) => &mut q.awaiting_pull,
                        Some(
                            QueuedReason::Ready | QueuedReason::Offline | QueuedReason::RateLimited,
                        )
                        | None => {
                            if online {
                                &mut q.rate_limited
                            } else {
                                &mut q.offline
                            }
                        }
                    };
                    *slot += n;
                }
                _ => {}
            }
        }
        Ok(c)
    }

    /// A package's tasks across all its batches: (succeeded, failed, total).
    pub async fn firmware_task_counts(&self, firmware_id: &FirmwareId) -> Result<(i64, i64, i64)> {
        let row = sqlx::query(
            "SELECT \
             CAST(COALESCE(SUM(CASE WHEN status = 'SUCCEEDED' THEN 1 ELSE 0 END), 0) AS BIGINT) \
               AS succeeded, \
             CAST(COALESCE(SUM(CASE WHEN status = 'FAILED' THEN 1 ELSE 0 END), 0) AS BIGINT) \
               AS failed, \
             COUNT(*) AS total FROM tasks WHERE firmware_id = $1",
        )
        .bind(firmware_id.as_str())
        .fetch_one(self.pool())
        .await?;
        Ok((
            row.try_get("succeeded")?,
            row.try_get("failed")?,
            row.try_get("total")?,
        ))
    }
}
