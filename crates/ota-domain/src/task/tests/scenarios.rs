//! Multi-step stories the table cannot show: the retry loop, the timeout clock, re-upgrade
//! and task creation.

use super::*;
use crate::task::{Effect, ProgressStep, Rejection, TaskEvent};

fn step(task: &Task, event: TaskEvent, rules: &TaskRules, now: Millis) -> Task {
    let tr = task
        .apply(event.clone(), rules, now)
        .unwrap_or_else(|r| panic!("{event:?} at {now} rejected: {r:?}"));
    assert_consistent(&tr.task);
    tr.task
}

fn version(v: &str) -> TaskEvent {
    TaskEvent::VersionReported {
        version: v.to_owned(),
    }
}

fn progress(step: i64) -> TaskEvent {
    TaskEvent::Progress {
        step: ProgressStep::from_code(step),
        desc: None,
    }
}

#[test]
fn create_picks_the_first_state() {
    let cases = [
        (true, true, None, TaskStatus::Confirm, None),
        (true, false, Some(NOW), TaskStatus::Confirm, None),
        (
            false,
            true,
            None,
            TaskStatus::Queued,
            Some(QueuedReason::Ready),
        ),
        (
            false,
            false,
            None,
            TaskStatus::Queued,
            Some(QueuedReason::AwaitingPull),
        ),
        (
            false,
            true,
            Some(NOW),
            TaskStatus::Queued,
            Some(QueuedReason::Scheduled),
        ),
        (
            false,
            false,
            Some(NOW),
            TaskStatus::Queued,
            Some(QueuedReason::Scheduled),
        ),
    ];
    for (need_confirm, need_push, scheduled_at, status, reason) in cases {
        let start = TaskStart {
            need_confirm,
            need_push,
            scheduled_at,
        };
        let t = Task::create(new_task(), start, T0);
        assert_eq!((t.status, t.queued_reason), (status, reason), "{start:?}");
        assert_consistent(&t);
    }
}

/// RetryInterval 10, RetryCount 2: two failures are retried after 10 minutes each, the
/// third is final. Each attempt is delivered anew and clears the previous failure.
#[test]
fn negative_steps_are_retried_up_to_retry_count() {
    let rules = retry(10, 2);
    let mut t = notified();
    let mut now = NOW;
    for attempt in 1..=2 {
        t = step(&t, progress(20), &rules, now);
        let tr = t.apply(progress(-2), &rules, now).unwrap();
        assert_eq!(tr.effects, vec![Effect::RetryScheduled(now + 10 * MINUTE)]);
        t = tr.task;
        assert_eq!(t.retries_used, attempt);
        assert_eq!(t.failure, Some(FailureReason::DownloadFailed));
        assert!(matches!(
            t.apply(TaskEvent::RetryDue, &rules, now + 10 * MINUTE - 1),
            Err(Rejection::Stale(_))
        ));
        now += 10 * MINUTE;
        t = step(&t, TaskEvent::RetryDue, &rules, now);
        assert_eq!(t.queued_reason, Some(QueuedReason::Ready));
        t = step(&t, TaskEvent::Delivered, &rules, now);
        assert_eq!(
            (t.status, t.failure, t.started_at),
            (TaskStatus::Notified, None, None)
        );
    }
    let tr = t.apply(progress(-2), &rules, now).unwrap();
    assert_eq!(tr.task.status, TaskStatus::Failed);
    assert_eq!(tr.effects, vec![Effect::Finished(TaskStatus::Failed)]);
}

/// RetryInterval 0 re-queues at once: the retry is due at the failure's own instant.
#[test]
fn interval_zero_retries_immediately() {
    let rules = retry(0, 1);
    let t = step(&in_progress(30, None), progress(-1), &rules, NOW);
    assert_eq!(t.retry_at, Some(NOW));
    let t = step(&t, TaskEvent::RetryDue, &rules, NOW);
    let t = step(&t, TaskEvent::Delivered, &rules, NOW);
    let t = step(&t, progress(-1), &rules, NOW);
    assert_eq!(
        t.status,
        TaskStatus::Failed,
        "RetryCount 1 allows one retry"
    );
}

/// The clock starts at the first progress report, not at the push; a re-push after a
/// reconnect and later progress leave it alone; the deadline fails the task for good.
#[test]
fn timeout_runs_from_first_progress() {
    let rules = TaskRules {
        timeout_minutes: Some(30),
        ..retry(10, 5)
    };
    let pushed_at = NOW;
    let t = step(
        &queued(QueuedReason::Ready),
        TaskEvent::Delivered,
        &rules,
        pushed_at,
    );
    assert_eq!(t.timeout_at, None, "no clock before progress");
    let first = pushed_at + 7 * MINUTE;
    let t = step(&t, progress(1), &rules, first);
    assert_eq!(
        (t.started_at, t.timeout_at),
        (Some(first), Some(first + 30 * MINUTE))
    );
    let t = step(&t, progress(60), &rules, first + 10 * MINUTE);
    assert!(
        t.apply(TaskEvent::Delivered, &rules, first + 11 * MINUTE)
            .is_err(),
        "re-push is stale"
    );
    assert_eq!(t.timeout_at, Some(first + 30 * MINUTE), "clock unchanged");
    assert!(
        t.apply(TaskEvent::TimeoutElapsed, &rules, first + 30 * MINUTE - 1)
            .is_err()
    );
    let t = step(&t, TaskEvent::TimeoutElapsed, &rules, first + 30 * MINUTE);
    assert_eq!(
        (t.status, t.failure),
        (TaskStatus::Failed, Some(FailureReason::Timeout))
    );
    assert_eq!(t.retries_used, 0, "a timeout uses no retry");
}

/// A retried attempt gets a fresh clock from its own first progress.
#[test]
fn each_attempt_has_its_own_timeout() {
    let rules = TaskRules {
        timeout_minutes: Some(60),
        ..retry(30, 1)
    };
    let t = step(&notified(), progress(10), &rules, NOW);
    let t = step(&t, progress(-4), &rules, NOW + MINUTE);
    assert_eq!((t.started_at, t.timeout_at), (None, None));
    let later = NOW + 31 * MINUTE;
    let t = step(&t, TaskEvent::RetryDue, &rules, later);
    let t = step(&t, TaskEvent::Delivered, &rules, later);
    let t = step(&t, progress(5), &rules, later + MINUTE);
    assert_eq!(t.timeout_at, Some(later + 61 * MINUTE));
}

#[test]
fn confirm_then_follow_need_push() {
    let t = step(&confirm(), TaskEvent::Confirm, &PULL, NOW);
    assert_eq!(t.queued_reason, Some(QueuedReason::AwaitingPull));
    let t = step(&t, TaskEvent::Delivered, &PULL, NOW);
    let t = step(&t, progress(100), &PULL, NOW);
    let t = step(
        &t,
        TaskEvent::VersionReported {
            version: DEST.into(),
        },
        &PULL,
        NOW,
    );
    assert_eq!(t.status, TaskStatus::Succeeded);
}

/// For a PLANNED batch the engine re-holds a confirmed task until the start.
#[test]
fn confirmed_task_of_a_planned_batch_waits_for_start() {
    let t = step(&confirm(), TaskEvent::Confirm, &PUSH, NOW);
    let t = step(&t, TaskEvent::Held(QueuedReason::Scheduled), &PUSH, NOW);
    assert!(t.apply(TaskEvent::Delivered, &PUSH, NOW).is_err());
    let t = step(&t, TaskEvent::JobStarted, &PUSH, NOW);
    assert_eq!(t.queued_reason, Some(QueuedReason::Ready));
}

#[test]
fn reupgrade_starts_a_fresh_series() {
    let rules = retry(10, 1);
    let mut t = in_progress(80, Some(NOW));
    t.retries_used = 1;
    t.desc = Some("flash error".into());
    let t = step(&t, progress(-4), &rules, NOW);
    assert_eq!(t.status, TaskStatus::Failed);
    let t = step(&t, TaskEvent::Reupgrade, &rules, NOW + MINUTE);
    assert_eq!(
        (t.retries_used, t.progress, t.failure, t.desc.as_deref()),
        (0, 0, None, None)
    );
    assert_eq!((t.started_at, t.timeout_at, t.retry_at), (None, None, None));
    let t = step(
        &t,
        TaskEvent::Cancel(CancelReason::Operator),
        &rules,
        NOW + MINUTE,
    );
    assert_eq!(t.cancel_reason, Some(CancelReason::Operator));
    let t = step(&t, TaskEvent::Reupgrade, &rules, NOW + 2 * MINUTE);
    assert_eq!((t.status, t.cancel_reason), (TaskStatus::Queued, None));
}

#[test]
fn cancel_records_its_reason() {
    for reason in CancelReason::ALL {
        let t = step(
            &queued(QueuedReason::Ready),
            TaskEvent::Cancel(reason),
            &PUSH,
            NOW,
        );
        assert_eq!(t.cancel_reason, Some(reason));
    }
}

#[test]
fn progress_never_goes_backwards_and_keeps_desc() {
    let t = step(
        &notified(),
        TaskEvent::Progress {
            step: ProgressStep::Percent(70),
            desc: Some("dl".into()),
        },
        &PUSH,
        NOW,
    );
    let t = step(
        &t,
        TaskEvent::Progress {
            step: ProgressStep::Percent(20),
            desc: Some("late".into()),
        },
        &PUSH,
        NOW,
    );
    assert_eq!((t.progress, t.desc.as_deref()), (70, Some("late")));
}

#[test]
fn a_silent_told_task_is_pushed_again_less_and_less_often_until_its_device_speaks() {
    let rules = nudging(2);
    let t = step(
        &queued(QueuedReason::Ready),
        TaskEvent::Delivered,
        &rules,
        NOW,
    );
    assert_eq!(t.nudge_at, Some(NOW + 2 * MINUTE));
    // Each silent stretch doubles the wait, up to an hour; the task's own time stays.
    let mut at = NOW + 2 * MINUTE;
    let mut waits = Vec::new();
    let mut t = t;
    for _ in 0..8 {
        let tr = t.apply(TaskEvent::NudgeDue, &rules, at).unwrap();
        assert_eq!(tr.effects, vec![Effect::Repush]);
        assert_eq!(tr.task.modified_at, NOW, "a nudge is no change of the task");
        assert_consistent(&tr.task);
        let next = tr.task.nudge_at.unwrap();
        waits.push((next - at) / MINUTE);
        at = next;
        t = tr.task;
    }
    assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
    // A progress report is a word from the device: the wait starts over.
    let t = step(&t, progress(10), &rules, at + MINUTE);
    assert_eq!(t.nudge_at, Some(at + 3 * MINUTE));
    // A finished task is nudged no more.
    let t = step(&t, version(DEST), &rules, at + 2 * MINUTE);
    assert_eq!(t.nudge_at, None);
}
