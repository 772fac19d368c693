//! Task machine tests: a transition table covering every arm, scenario tests for retries,
//! timeouts and re-upgrades, and property tests of the status invariants.

mod props;
mod scenarios;
mod table;

use super::{
    CancelReason, FailureReason, NewTask, QueuedReason, Task, TaskRules, TaskStart, TaskStatus,
};
use crate::job::RetryPolicy;
use crate::time::{MINUTE, Millis};

pub(super) const T0: Millis = 1_700_000_000_000;
pub(super) const NOW: Millis = T0 + 10 * MINUTE;
pub(super) const SRC: &str = "1.0.0";
pub(super) const DEST: &str = "2.0.0";

pub(super) fn new_task() -> NewTask {
    NewTask {
        task_id: "t1".into(),
        job_id: "j1".into(),
        firmware_id: "f1".into(),
        product_key: "pk".into(),
        device_name: "dev1".into(),
        module_name: "default".into(),
        src_version: Some(SRC.to_owned()),
        dest_version: DEST.to_owned(),
    }
}

fn created(need_confirm: bool) -> Task {
    let start = TaskStart {
        need_confirm,
        need_push: true,
        scheduled_at: None,
    };
    Task::create(new_task(), start, T0)
}

pub(super) fn confirm() -> Task {
    created(true)
}

pub(super) fn queued(reason: QueuedReason) -> Task {
    let mut t = created(false);
    t.queued_reason = Some(reason);
    t
}

/// QUEUED after a failed attempt, retry due at `at`.
pub(super) fn retry_pending(at: Millis) -> Task {
    let mut t = queued(QueuedReason::RetryScheduled);
    t.failure = Some(FailureReason::UpgradeFailed);
    t.retries_used = 1;
    t.retry_at = Some(at);
    t
}

pub(super) fn notified() -> Task {
    let mut t = created(false);
    t.status = TaskStatus::Notified;
    t.queued_reason = None;
    t
}

pub(super) fn in_progress(progress: i32, timeout_at: Option<Millis>) -> Task {
    let mut t = notified();
    t.status = TaskStatus::InProgress;
    t.progress = progress;
    t.started_at = Some(T0);
    t.timeout_at = timeout_at;
    t
}

pub(super) fn succeeded() -> Task {
    let mut t = notified();
    t.status = TaskStatus::Succeeded;
    t.progress = 100;
    t
}

pub(super) fn failed(reason: FailureReason) -> Task {
    let mut t = notified();
    t.status = TaskStatus::Failed;
    t.failure = Some(reason);
    t.retries_used = 2;
    t
}

pub(super) fn canceled(reason: CancelReason) -> Task {
    let mut t = notified();
    t.status = TaskStatus::Canceled;
    t.cancel_reason = Some(reason);
    t
}

pub(super) const PUSH: TaskRules = TaskRules {
    retry: None,
    timeout_minutes: None,
    need_push: true,
    nudge_after: None,
};

pub(super) const PULL: TaskRules = TaskRules {
    retry: None,
    timeout_minutes: None,
    need_push: false,
    nudge_after: None,
};

pub(super) const fn retry(interval_minutes: u32, count: u32) -> TaskRules {
    TaskRules {
        retry: Some(RetryPolicy {
            interval_minutes,
            count,
        }),
        timeout_minutes: None,
        need_push: true,
        nudge_after: None,
    }
}

pub(super) const fn timeout(minutes: u32) -> TaskRules {
    TaskRules {
        retry: None,
        timeout_minutes: Some(minutes),
        need_push: true,
        nudge_after: None,
    }
}

/// Pushing, with silent told tasks pushed again after `minutes`.
pub(super) const fn nudging(minutes: i64) -> TaskRules {
    TaskRules {
        retry: None,
        timeout_minutes: None,
        need_push: true,
        nudge_after: Some(minutes * MINUTE),
    }
}

/// NOTIFIED, to be nudged at `at`.
pub(super) fn notified_nudge_at(at: Millis) -> Task {
    let mut t = notified();
    t.nudge_at = Some(at);
    t
}

/// The status invariants every task satisfies after any accepted event.
pub(super) fn assert_consistent(t: &Task) {
    use TaskStatus::*;
    assert_eq!(
        t.queued_reason.is_some(),
        t.status == Queued,
        "queued_reason iff QUEUED: {t:?}"
    );
    assert_eq!(
        t.cancel_reason.is_some(),
        t.status == Canceled,
        "cancel_reason iff CANCELED: {t:?}"
    );
    let retry_pending = t.status == Queued && t.retries_used > 0;
    assert!(
        t.status != Failed || t.failure.is_some(),
        "FAILED has a reason: {t:?}"
    );
    assert!(
        t.failure.is_none() || t.status == Failed || retry_pending,
        "failure only when FAILED or a retry is pending: {t:?}"
    );
    assert!(
        t.timeout_at.is_none() || t.status == InProgress,
        "timeout_at only IN_PROGRESS: {t:?}"
    );
    assert!(
        t.retry_at.is_none() || t.queued_reason == Some(QueuedReason::RetryScheduled),
        "retry_at only while a retry is scheduled: {t:?}"
    );
    assert!(
        t.queued_reason != Some(QueuedReason::RetryScheduled) || t.failure.is_some(),
        "a scheduled retry remembers its failure: {t:?}"
    );
    assert!(
        t.nudge_at.is_none() || matches!(t.status, Notified | InProgress),
        "nudge_at only while told: {t:?}"
    );
    assert!((0..=100).contains(&t.progress), "progress 0..=100: {t:?}");
    assert!(
        t.status != Succeeded || t.progress == 100,
        "SUCCEEDED is 100%: {t:?}"
    );
}
