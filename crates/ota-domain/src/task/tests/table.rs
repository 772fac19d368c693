//! One row per transition arm of `Task::apply` (spec §3.2): start state, event, rules, and
//! the expected status, queued reason, failure and effects — or the rejection kind.

use super::*;
use crate::task::{Effect, ProgressStep, Rejection, TaskEvent};

enum Want {
    To {
        status: TaskStatus,
        queued: Option<QueuedReason>,
        failure: Option<FailureReason>,
        effects: Vec<Effect>,
    },
    Stale,
    Invalid,
}

fn to(
    status: TaskStatus,
    queued: Option<QueuedReason>,
    failure: Option<FailureReason>,
    effects: &[Effect],
) -> Want {
    Want::To {
        status,
        queued,
        failure,
        effects: effects.to_vec(),
    }
}

fn progress(step: i64) -> TaskEvent {
    TaskEvent::Progress {
        step: ProgressStep::from_code(step),
        desc: None,
    }
}

fn version(v: &str) -> TaskEvent {
    TaskEvent::VersionReported {
        version: v.to_owned(),
    }
}

#[test]
fn every_transition() {
    use Effect::*;
    use FailureReason as F;
    use QueuedReason as Q;
    use TaskStatus::*;
    let fin = |s| Finished(s);
    #[rustfmt::skip]
    let rows: Vec<(&str, Task, TaskEvent, TaskRules, Want)> = vec![
        // Confirm
        ("confirm releases (push)", confirm(), TaskEvent::Confirm, PUSH, to(Queued, Some(Q::Ready), None, &[ReadyToPush])),
        ("confirm releases (pull)", confirm(), TaskEvent::Confirm, PULL, to(Queued, Some(Q::AwaitingPull), None, &[ReadyToPush])),
        ("confirm a queued task", queued(Q::Ready), TaskEvent::Confirm, PUSH, Want::Invalid),
        ("confirm in progress", in_progress(10, None), TaskEvent::Confirm, PUSH, Want::Invalid),
        ("confirm succeeded", succeeded(), TaskEvent::Confirm, PUSH, Want::Invalid),
        // JobStarted
        ("start releases scheduled", queued(Q::Scheduled), TaskEvent::JobStarted, PUSH, to(Queued, Some(Q::Ready), None, &[ReadyToPush])),
        ("start releases scheduled (pull)", queued(Q::Scheduled), TaskEvent::JobStarted, PULL, to(Queued, Some(Q::AwaitingPull), None, &[ReadyToPush])),
        ("start on ready task", queued(Q::Ready), TaskEvent::JobStarted, PUSH, Want::Stale),
        ("start on confirm", confirm(), TaskEvent::JobStarted, PUSH, Want::Stale),
        ("start on failed", failed(F::Timeout), TaskEvent::JobStarted, PUSH, Want::Stale),
        // Delivered
        ("deliver ready", queued(Q::Ready), TaskEvent::Delivered, PUSH, to(Notified, None, None, &[])),
        ("deliver offline", queued(Q::Offline), TaskEvent::Delivered, PUSH, to(Notified, None, None, &[])),
        ("deliver rate limited", queued(Q::RateLimited), TaskEvent::Delivered, PUSH, to(Notified, None, None, &[])),
        ("pull reply", queued(Q::AwaitingPull), TaskEvent::Delivered, PULL, to(Notified, None, None, &[])),
        ("deliver retry before interval", retry_pending(NOW + 1), TaskEvent::Delivered, retry(10, 2), Want::Stale),
        ("deliver retry after interval", retry_pending(NOW), TaskEvent::Delivered, retry(10, 2), to(Notified, None, None, &[])),
        ("deliver before batch start", queued(Q::Scheduled), TaskEvent::Delivered, PUSH, Want::Stale),
        ("re-push notified", notified(), TaskEvent::Delivered, PUSH, Want::Stale),
        ("re-push in progress", in_progress(40, Some(NOW + MINUTE)), TaskEvent::Delivered, PUSH, Want::Stale),
        ("deliver confirm", confirm(), TaskEvent::Delivered, PUSH, Want::Stale),
        ("deliver failed", failed(F::UpgradeFailed), TaskEvent::Delivered, PUSH, Want::Stale),
        // Held
        ("hold offline", queued(Q::Ready), TaskEvent::Held(Q::Offline), PUSH, to(Queued, Some(Q::Offline), None, &[])),
        ("hold rate limited", queued(Q::Offline), TaskEvent::Held(Q::RateLimited), PUSH, to(Queued, Some(Q::RateLimited), None, &[])),
        ("hold until schedule", queued(Q::Ready), TaskEvent::Held(Q::Scheduled), PUSH, to(Queued, Some(Q::Scheduled), None, &[])),
        ("same hold", queued(Q::Offline), TaskEvent::Held(Q::Offline), PUSH, Want::Stale),
        ("hold over schedule", queued(Q::Scheduled), TaskEvent::Held(Q::Offline), PUSH, Want::Stale),
        ("hold over retry", retry_pending(NOW + MINUTE), TaskEvent::Held(Q::RateLimited), retry(10, 2), Want::Stale),
        ("hold as retry", queued(Q::Ready), TaskEvent::Held(Q::RetryScheduled), PUSH, Want::Invalid),
        ("hold notified", notified(), TaskEvent::Held(Q::Offline), PUSH, Want::Stale),
        ("hold confirm", confirm(), TaskEvent::Held(Q::Offline), PUSH, Want::Stale),
        // Progress
        ("first progress", notified(), progress(10), timeout(30), to(InProgress, None, None, &[])),
        ("progress 0 starts too", notified(), progress(0), PUSH, to(InProgress, None, None, &[])),
        ("progress without push", queued(Q::AwaitingPull), progress(5), PULL, to(InProgress, None, None, &[])),
        ("more progress", in_progress(40, None), progress(60), PUSH, to(InProgress, None, None, &[])),
        ("progress of retried attempt", retry_pending(NOW + MINUTE), progress(30), retry(10, 2), Want::Stale),
        ("failure of retried attempt", retry_pending(NOW + MINUTE), progress(-1), retry(10, 2), Want::Stale),
        ("-1 no retry", in_progress(40, None), progress(-1), PUSH, to(Failed, None, Some(F::UpgradeFailed), &[fin(Failed)])),
        ("-2 no retry", notified(), progress(-2), PUSH, to(Failed, None, Some(F::DownloadFailed), &[fin(Failed)])),
        ("-3 no retry", in_progress(90, None), progress(-3), PUSH, to(Failed, None, Some(F::VerifyFailed), &[fin(Failed)])),
        ("-4 no retry", in_progress(95, None), progress(-4), PUSH, to(Failed, None, Some(F::BurnFailed), &[fin(Failed)])),
        ("-1 retried after 10 min", in_progress(40, None), progress(-1), retry(10, 2), to(Queued, Some(Q::RetryScheduled), Some(F::UpgradeFailed), &[RetryScheduled(NOW + 10 * MINUTE)])),
        ("-2 retried at once", notified(), progress(-2), retry(0, 1), to(Queued, Some(Q::RetryScheduled), Some(F::DownloadFailed), &[RetryScheduled(NOW)])),
        ("-3 retried after a day", in_progress(1, None), progress(-3), retry(1440, 5), to(Queued, Some(Q::RetryScheduled), Some(F::VerifyFailed), &[RetryScheduled(NOW + 1440 * MINUTE)])),
        ("-4 retries used up", { let mut t = in_progress(50, None); t.retries_used = 2; t }, progress(-4), retry(10, 2), to(Failed, None, Some(F::BurnFailed), &[fin(Failed)])),
        ("-1 from queued (no push)", queued(Q::AwaitingPull), progress(-1), PULL, to(Failed, None, Some(F::UpgradeFailed), &[fin(Failed)])),
        ("step above 100", in_progress(40, None), progress(101), PUSH, Want::Invalid),
        ("huge step", in_progress(40, None), progress(i64::MAX), PUSH, Want::Invalid),
        ("step below -4 fails", notified(), progress(-5), PUSH, to(Failed, None, Some(F::UpgradeFailed), &[fin(Failed)])),
        ("step below -4 is retried", in_progress(40, None), progress(-17), retry(10, 2), to(Queued, Some(Q::RetryScheduled), Some(F::UpgradeFailed), &[RetryScheduled(NOW + 10 * MINUTE)])),
        ("lowest step fails", in_progress(40, None), progress(i64::MIN), PUSH, to(Failed, None, Some(F::UpgradeFailed), &[fin(Failed)])),
        ("progress on confirm", confirm(), progress(10), PUSH, Want::Stale),
        ("progress on succeeded", succeeded(), progress(10), PUSH, Want::Stale),
        ("progress on canceled", canceled(CancelReason::Operator), progress(-1), PUSH, Want::Stale),
        // NudgeDue
        ("nudge a silent notified task", notified_nudge_at(NOW), TaskEvent::NudgeDue, nudging(2), to(Notified, None, None, &[Repush])),
        ("nudge a silent running task", { let mut t = in_progress(40, None); t.nudge_at = Some(NOW - 1); t }, TaskEvent::NudgeDue, nudging(2), to(InProgress, None, None, &[Repush])),
        ("nudge not due yet", notified_nudge_at(NOW + 1), TaskEvent::NudgeDue, nudging(2), Want::Stale),
        ("nudge without a nudge time", notified(), TaskEvent::NudgeDue, nudging(2), Want::Stale),
        ("nudge with nudging turned off", notified_nudge_at(NOW), TaskEvent::NudgeDue, PUSH, to(Notified, None, None, &[])),
        ("nudge a queued task", queued(Q::Ready), TaskEvent::NudgeDue, nudging(2), Want::Stale),
        ("nudge a finished task", succeeded(), TaskEvent::NudgeDue, nudging(2), Want::Stale),
        // VersionReported
        ("dest version succeeds", in_progress(100, Some(NOW + MINUTE)), version(DEST), PUSH, to(Succeeded, None, None, &[fin(Succeeded)])),
        ("dest before push", queued(Q::Ready), version(DEST), PUSH, to(Succeeded, None, None, &[fin(Succeeded)])),
        ("dest while confirming", confirm(), version(DEST), PUSH, to(Succeeded, None, None, &[fin(Succeeded)])),
        ("dest while notified", notified(), version(DEST), PUSH, to(Succeeded, None, None, &[fin(Succeeded)])),
        ("dest while retry pending", retry_pending(NOW + MINUTE), version(DEST), retry(10, 2), to(Succeeded, None, None, &[fin(Succeeded)])),
        ("old version after install", in_progress(100, None), version(SRC), PUSH, to(Failed, None, Some(F::WrongVersion), &[fin(Failed)])),
        ("foreign version mid-update", in_progress(50, None), version("9.9"), PUSH, to(Failed, None, Some(F::WrongVersion), &[fin(Failed)])),
        ("wrong version retried", in_progress(100, None), version("9.9"), retry(30, 1), to(Queued, Some(Q::RetryScheduled), Some(F::WrongVersion), &[RetryScheduled(NOW + 30 * MINUTE)])),
        ("old version on reconnect", in_progress(50, None), version(SRC), PUSH, Want::Stale),
        ("a version mid-download, old one unknown", { let mut t = in_progress(50, None); t.src_version = None; t }, version("9.9"), PUSH, Want::Stale),
        ("a version after download, old one unknown", { let mut t = in_progress(100, None); t.src_version = None; t }, version("9.9"), PUSH, to(Failed, None, Some(F::WrongVersion), &[fin(Failed)])),
        ("old version while notified", notified(), version(SRC), PUSH, Want::Stale),
        ("other version while queued", queued(Q::Ready), version("9.9"), PUSH, Want::Stale),
        ("version after failure", failed(F::UpgradeFailed), version(DEST), PUSH, Want::Stale),
        ("version after success", succeeded(), version(DEST), PUSH, Want::Stale),
        // RetryDue
        ("retry due", retry_pending(NOW), TaskEvent::RetryDue, retry(10, 2), to(Queued, Some(Q::Ready), Some(F::UpgradeFailed), &[ReadyToPush])),
        ("retry due (pull)", retry_pending(NOW - 1), TaskEvent::RetryDue, TaskRules { need_push: false, ..retry(10, 2) }, to(Queued, Some(Q::AwaitingPull), Some(F::UpgradeFailed), &[ReadyToPush])),
        ("retry early", retry_pending(NOW + 1), TaskEvent::RetryDue, retry(10, 2), Want::Stale),
        ("retry without pending", queued(Q::Ready), TaskEvent::RetryDue, retry(10, 2), Want::Stale),
        ("retry on failed", failed(F::UpgradeFailed), TaskEvent::RetryDue, retry(10, 2), Want::Stale),
        // TimeoutElapsed
        ("timeout", in_progress(50, Some(NOW)), TaskEvent::TimeoutElapsed, timeout(30), to(Failed, None, Some(F::Timeout), &[fin(Failed)])),
        ("timeout never retried", in_progress(50, Some(NOW)), TaskEvent::TimeoutElapsed, retry(10, 5), to(Failed, None, Some(F::Timeout), &[fin(Failed)])),
        ("timeout early", in_progress(50, Some(NOW + 1)), TaskEvent::TimeoutElapsed, timeout(30), Want::Stale),
        ("no timeout set", in_progress(50, None), TaskEvent::TimeoutElapsed, PUSH, Want::Stale),
        ("timeout while notified", notified(), TaskEvent::TimeoutElapsed, timeout(30), Want::Stale),
        ("timeout after success", succeeded(), TaskEvent::TimeoutElapsed, timeout(30), Want::Stale),
        // ScheduleFinished
        ("finish confirm", confirm(), TaskEvent::ScheduleFinished, PUSH, to(Failed, None, Some(F::ScheduleFinished), &[fin(Failed)])),
        ("finish queued", queued(Q::Scheduled), TaskEvent::ScheduleFinished, PUSH, to(Failed, None, Some(F::ScheduleFinished), &[fin(Failed)])),
        ("finish retry pending", retry_pending(NOW + MINUTE), TaskEvent::ScheduleFinished, retry(10, 2), to(Failed, None, Some(F::ScheduleFinished), &[fin(Failed)])),
        ("finish notified", notified(), TaskEvent::ScheduleFinished, retry(10, 2), to(Failed, None, Some(F::ScheduleFinished), &[fin(Failed)])),
        ("finish in progress", in_progress(50, Some(NOW + MINUTE)), TaskEvent::ScheduleFinished, retry(10, 2), to(Failed, None, Some(F::ScheduleFinished), &[fin(Failed)])),
        ("finish succeeded", succeeded(), TaskEvent::ScheduleFinished, PUSH, Want::Stale),
        ("finish failed", failed(F::Timeout), TaskEvent::ScheduleFinished, PUSH, Want::Stale),
        // Cancel
        ("cancel confirm", confirm(), TaskEvent::Cancel(CancelReason::Operator), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("cancel queued", queued(Q::Offline), TaskEvent::Cancel(CancelReason::JobCanceled), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("cancel retry pending", retry_pending(NOW + MINUTE), TaskEvent::Cancel(CancelReason::JobCanceled), retry(10, 2), to(Canceled, None, None, &[fin(Canceled)])),
        ("cancel notified", notified(), TaskEvent::Cancel(CancelReason::Operator), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("cancel in progress", in_progress(50, Some(NOW + MINUTE)), TaskEvent::Cancel(CancelReason::Operator), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("overwrite confirm", confirm(), TaskEvent::Cancel(CancelReason::Overwritten), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("overwrite queued", queued(Q::Ready), TaskEvent::Cancel(CancelReason::Overwritten), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("overwrite notified", notified(), TaskEvent::Cancel(CancelReason::Overwritten), PUSH, to(Canceled, None, None, &[fin(Canceled)])),
        ("overwrite never in progress", in_progress(1, None), TaskEvent::Cancel(CancelReason::Overwritten), PUSH, Want::Invalid),
        ("cancel succeeded", succeeded(), TaskEvent::Cancel(CancelReason::Operator), PUSH, Want::Invalid),
        ("cancel failed", failed(F::UpgradeFailed), TaskEvent::Cancel(CancelReason::JobCanceled), PUSH, Want::Invalid),
        ("cancel canceled", canceled(CancelReason::Operator), TaskEvent::Cancel(CancelReason::Operator), PUSH, Want::Invalid),
        // Reupgrade
        ("reupgrade failed", failed(F::Timeout), TaskEvent::Reupgrade, retry(10, 2), to(Queued, Some(Q::Ready), None, &[ReadyToPush])),
        ("reupgrade failed (pull)", failed(F::BurnFailed), TaskEvent::Reupgrade, PULL, to(Queued, Some(Q::AwaitingPull), None, &[ReadyToPush])),
        ("reupgrade canceled", canceled(CancelReason::JobCanceled), TaskEvent::Reupgrade, PUSH, to(Queued, Some(Q::Ready), None, &[ReadyToPush])),
        ("reupgrade succeeded", succeeded(), TaskEvent::Reupgrade, PUSH, Want::Invalid),
        ("reupgrade in progress", in_progress(5, None), TaskEvent::Reupgrade, PUSH, Want::Invalid),
        ("reupgrade queued", queued(Q::Ready), TaskEvent::Reupgrade, PUSH, Want::Invalid),
        ("reupgrade confirm", confirm(), TaskEvent::Reupgrade, PUSH, Want::Invalid),
    ];
    for (name, task, event, rules, want) in rows {
        let (event_is_nudge, task_modified_at) = (event == TaskEvent::NudgeDue, task.modified_at);
        let got = task.apply(event, &rules, NOW);
        match (want, got) {
            (Want::Stale, Err(Rejection::Stale(_)))
            | (Want::Invalid, Err(Rejection::Invalid(_))) => {}
            (
                Want::To {
                    status,
                    queued,
                    failure,
                    effects,
                },
                Ok(tr),
            ) => {
                assert_eq!(tr.task.status, status, "{name}: status");
                assert_eq!(tr.task.queued_reason, queued, "{name}: queued reason");
                assert_eq!(tr.task.failure, failure, "{name}: failure");
                assert_eq!(tr.effects, effects, "{name}: effects");
                // A nudge is no change of the task; everything else is one.
                let changed_at = if event_is_nudge {
                    task_modified_at
                } else {
                    NOW
                };
                assert_eq!(tr.task.modified_at, changed_at, "{name}: modified_at");
                assert_consistent(&tr.task);
            }
            (_, got) => panic!("{name}: unexpected {got:?}"),
        }
    }
}

/// Every (status, event) pair has an answer, and from a terminal status only Reupgrade
/// (from FAILED/CANCELED) is accepted.
#[test]
fn terminal_states_reject_everything_but_reupgrade() {
    let terminals = [
        succeeded(),
        failed(FailureReason::UpgradeFailed),
        canceled(CancelReason::Operator),
    ];
    let events = || {
        let mut events = vec![
            TaskEvent::Confirm,
            TaskEvent::JobStarted,
            TaskEvent::Delivered,
            TaskEvent::RetryDue,
            TaskEvent::TimeoutElapsed,
            TaskEvent::NudgeDue,
            TaskEvent::ScheduleFinished,
            version(DEST),
            version(SRC),
        ];
        events.extend(QueuedReason::ALL.map(TaskEvent::Held));
        events.extend(CancelReason::ALL.map(TaskEvent::Cancel));
        events.extend((-5..=101).map(progress));
        events
    };
    for task in terminals {
        for event in events() {
            let got = task.apply(event.clone(), &retry(0, 5), NOW);
            assert!(got.is_err(), "{:?} accepted {event:?}", task.status);
        }
        let reupgrade = task.apply(TaskEvent::Reupgrade, &PUSH, NOW);
        assert_eq!(reupgrade.is_ok(), task.status != TaskStatus::Succeeded);
    }
}
