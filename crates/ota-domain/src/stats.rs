//! Batch statistics: task counts by status and by reason.
//!
//! The store only counts; the arithmetic (rates, "is everything finished", verification
//! outcome) lives here so every face and every backend computes it the same way. A
//! [`JobStats`] can only be built with counts that add up, so a report can never show more
//! failure reasons than failed tasks.

use crate::task::{CancelReason, FailureReason, QueuedReason, Task, TaskStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// Number of tasks in each status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TaskCounts {
    pub confirm: u64,
    pub queued: u64,
    pub notified: u64,
    pub in_progress: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub canceled: u64,
}

impl TaskCounts {
    /// Counts the statuses of `statuses`.
    pub fn from_statuses(statuses: impl IntoIterator<Item = TaskStatus>) -> Self {
        let mut counts = TaskCounts::default();
        for status in statuses {
            counts.add(status, 1);
        }
        counts
    }

    /// The count of one status.
    pub fn get(&self, status: TaskStatus) -> u64 {
        match status {
            TaskStatus::Confirm => self.confirm,
            TaskStatus::Queued => self.queued,
            TaskStatus::Notified => self.notified,
            TaskStatus::InProgress => self.in_progress,
            TaskStatus::Succeeded => self.succeeded,
            TaskStatus::Failed => self.failed,
            TaskStatus::Canceled => self.canceled,
        }
    }

    /// Adds `n` tasks in `status`.
    pub fn add(&mut self, status: TaskStatus, n: u64) {
        let slot = match status {
            TaskStatus::Confirm => &mut self.confirm,
            TaskStatus::Queued => &mut self.queued,
            TaskStatus::Notified => &mut self.notified,
            TaskStatus::InProgress => &mut self.in_progress,
            TaskStatus::Succeeded => &mut self.succeeded,
            TaskStatus::Failed => &mut self.failed,
            TaskStatus::Canceled => &mut self.canceled,
        };
        *slot += n;
    }

    /// All tasks.
    pub fn total(&self) -> u64 {
        TaskStatus::ALL.into_iter().map(|s| self.get(s)).sum()
    }

    /// Tasks in CONFIRM, QUEUED, NOTIFIED or IN_PROGRESS.
    pub fn unfinished(&self) -> u64 {
        self.confirm + self.queued + self.notified + self.in_progress
    }

    /// Tasks in SUCCEEDED, FAILED or CANCELED.
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed + self.canceled
    }
}

/// Counts that do not add up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: reasons add up to {reasons}, but {tasks} tasks are in that status")]
pub struct StatsMismatch {
    /// Which breakdown is off (`queued`, `failed`, `canceled`).
    pub what: &'static str,
    pub tasks: u64,
    pub reasons: u64,
}

/// A batch's task counts with their breakdowns. The reasons of each status add up to that
/// status's count: QUEUED by [`QueuedReason`], FAILED by [`FailureReason`], CANCELED by
/// [`CancelReason`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JobStats {
    by_status: TaskCounts,
    by_queued: BTreeMap<QueuedReason, u64>,
    by_failure: BTreeMap<FailureReason, u64>,
    by_cancel: BTreeMap<CancelReason, u64>,
}

impl JobStats {
    /// Builds stats from counts a store aggregated, checking that the breakdowns add up.
    pub fn from_counts(
        by_status: TaskCounts,
        by_queued: BTreeMap<QueuedReason, u64>,
        by_failure: BTreeMap<FailureReason, u64>,
        by_cancel: BTreeMap<CancelReason, u64>,
    ) -> Result<Self, StatsMismatch> {
        check("queued", by_status.queued, &by_queued)?;
        check("failed", by_status.failed, &by_failure)?;
        check("canceled", by_status.canceled, &by_cancel)?;
        Ok(Self {
            by_status,
            by_queued,
            by_failure,
            by_cancel,
        })
    }

    /// Counts a batch's tasks. A QUEUED task without a reason counts as `Ready`, a FAILED
    /// one without a reason as `UpgradeFailed`, a CANCELED one as `Operator`, so the
    /// breakdowns always add up.
    pub fn from_tasks<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Self {
        let mut stats = JobStats::default();
        for task in tasks {
            stats.by_status.add(task.status, 1);
            match task.status {
                TaskStatus::Queued => {
                    let reason = task.queued_reason.unwrap_or(QueuedReason::Ready);
                    *stats.by_queued.entry(reason).or_default() += 1;
                }
                TaskStatus::Failed => {
                    let reason = task.failure.unwrap_or(FailureReason::UpgradeFailed);
                    *stats.by_failure.entry(reason).or_default() += 1;
                }
                TaskStatus::Canceled => {
                    let reason = task.cancel_reason.unwrap_or(CancelReason::Operator);
                    *stats.by_cancel.entry(reason).or_default() += 1;
                }
                _ => {}
            }
        }
        stats
    }

    pub fn by_status(&self) -> &TaskCounts {
        &self.by_status
    }

    pub fn by_queued_reason(&self) -> &BTreeMap<QueuedReason, u64> {
        &self.by_queued
    }

    pub fn by_failure(&self) -> &BTreeMap<FailureReason, u64> {
        &self.by_failure
    }

    pub fn by_cancel_reason(&self) -> &BTreeMap<CancelReason, u64> {
        &self.by_cancel
    }

    pub fn total(&self) -> u64 {
        self.by_status.total()
    }

    /// Whether every task reached SUCCEEDED, FAILED or CANCELED (true for an empty batch).
    pub fn all_finished(&self) -> bool {
        self.by_status.unfinished() == 0
    }

    /// QUEUED tasks waiting for an automatic retry.
    pub fn retry_pending(&self) -> u64 {
        self.by_queued
            .get(&QueuedReason::RetryScheduled)
            .copied()
            .unwrap_or(0)
    }

    /// Succeeded share of the *finished* tasks, 0.0..=1.0; `None` before any task finished.
    /// Finished rather than all tasks, so a batch still rolling out is not judged by the
    /// devices it has not reached yet.
    pub fn success_rate(&self) -> Option<f64> {
        let finished = self.by_status.finished();
        (finished > 0).then(|| self.by_status.succeeded as f64 / finished as f64)
    }

    /// Finished share of all tasks, 0.0..=1.0 (1.0 for an empty batch).
    pub fn completion(&self) -> f64 {
        match self.total() {
            0 => 1.0,
            total => self.by_status.finished() as f64 / total as f64,
        }
    }
}

fn check<K>(
    what: &'static str,
    tasks: u64,
    reasons: &BTreeMap<K, u64>,
) -> Result<(), StatsMismatch> {
    let sum: u64 = reasons.values().sum();
    if sum == tasks {
        Ok(())
    } else {
        Err(StatsMismatch {
            what,
            tasks,
            reasons: sum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::verify_outcome;
    use crate::task::{NewTask, TaskStart};
    use proptest::prelude::*;

    fn task(status: TaskStatus, reason: usize) -> Task {
        let new = NewTask {
            task_id: "t".into(),
            job_id: "j".into(),
            firmware_id: "f".into(),
            product_key: "pk".into(),
            device_name: "d".into(),
            module_name: "default".into(),
            src_version: None,
            dest_version: "2".into(),
        };
        let start = TaskStart {
            need_confirm: false,
            need_push: true,
            scheduled_at: None,
        };
        let mut t = Task::create(new, start, 0);
        t.status = status;
        t.queued_reason = (status == TaskStatus::Queued).then(|| QueuedReason::ALL[reason % 6]);
        t.failure = (status == TaskStatus::Failed).then(|| FailureReason::ALL[reason % 7]);
        t.cancel_reason = (status == TaskStatus::Canceled).then(|| CancelReason::ALL[reason % 3]);
        t
    }

    #[test]
    fn rates_and_breakdowns() {
        let tasks = [
            task(TaskStatus::Succeeded, 0),
            task(TaskStatus::Succeeded, 0),
            task(TaskStatus::Succeeded, 0),
            task(TaskStatus::Failed, 4),
            task(TaskStatus::Queued, 4),
            task(TaskStatus::InProgress, 0),
        ];
        let stats = JobStats::from_tasks(&tasks);
        assert_eq!(stats.total(), 6);
        assert_eq!(stats.success_rate(), Some(0.75));
        assert!((stats.completion() - 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(stats.retry_pending(), 1);
        assert_eq!(stats.by_failure().get(&FailureReason::Timeout), Some(&1));
        assert!(!stats.all_finished());
        let empty = JobStats::default();
        assert_eq!(
            (
                empty.success_rate(),
                empty.completion(),
                empty.all_finished()
            ),
            (None, 1.0, true)
        );
    }

    #[test]
    fn counts_must_add_up() {
        let counts = TaskCounts {
            failed: 2,
            ..TaskCounts::default()
        };
        let one = BTreeMap::from([(FailureReason::Timeout, 1)]);
        let err = JobStats::from_counts(counts, BTreeMap::new(), one, BTreeMap::new()).unwrap_err();
        assert_eq!((err.what, err.tasks, err.reasons), ("failed", 2, 1));
        let two = BTreeMap::from([(FailureReason::Timeout, 1), (FailureReason::BurnFailed, 1)]);
        assert!(JobStats::from_counts(counts, BTreeMap::new(), two, BTreeMap::new()).is_ok());
        let queued = TaskCounts {
            queued: 1,
            ..TaskCounts::default()
        };
        let err = JobStats::from_counts(queued, BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        assert_eq!(err.unwrap_err().what, "queued");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn stats_add_up(spec in prop::collection::vec((0usize..7, 0usize..42), 0..200)) {
            let tasks: Vec<Task> = spec.iter().map(|&(s, r)| task(TaskStatus::ALL[s], r)).collect();
            let stats = JobStats::from_tasks(&tasks);
            let by = *stats.by_status();
            prop_assert_eq!(by.total(), tasks.len() as u64);
            prop_assert_eq!(by.unfinished() + by.finished(), by.total());
            for status in TaskStatus::ALL {
                let n = tasks.iter().filter(|t| t.status == status).count() as u64;
                prop_assert_eq!(by.get(status), n);
            }
            let rebuilt = JobStats::from_counts(
                by,
                stats.by_queued_reason().clone(),
                stats.by_failure().clone(),
                stats.by_cancel_reason().clone(),
            );
            prop_assert_eq!(rebuilt.as_ref(), Ok(&stats));
            if let Some(rate) = stats.success_rate() {
                prop_assert!((0.0..=1.0).contains(&rate));
            }
            let verified = verify_outcome(&by) == crate::firmware::FirmwareStatus::Verified;
            prop_assert_eq!(verified, by.total() > 0 && by.succeeded == by.total());
        }
    }
}
