//! The task transition function. One `match` over (status, event); each arm says why.
//!
//! Device events that arrive late or twice are *stale*: they are rejected without changing
//! anything, so a duplicated or reordered MQTT message never moves a task backwards.
//! Operator commands that do not fit the state are *invalid* and surface as API errors.

use super::{CancelReason, FailureReason, ProgressStep, QueuedReason, Task, TaskStatus};
use crate::job::RetryPolicy;
use crate::time::{MINUTE, Millis};

/// The batch rules a transition needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskRules {
    pub retry: Option<RetryPolicy>,
    pub timeout_minutes: Option<u32>,
    pub need_push: bool,
    /// How long a told task (NOTIFIED, IN_PROGRESS) may go without a word from its device
    /// before its push is sent again; the wait doubles with each silent stretch, up to
    /// [`NUDGE_MAX`]. `None`: never (the platform's setting).
    pub nudge_after: Option<Millis>,
}

/// The longest wait between two pushes of a silent told task.
pub const NUDGE_MAX: Millis = 60 * MINUTE;

/// Something that happened to a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEvent {
    /// The app confirmed a task waiting in CONFIRM (ConfirmOTATask).
    Confirm,
    /// The batch reached its start time.
    JobStarted,
    /// The upgrade message reached the device (pushed, or answered to its pull).
    Delivered,
    /// The dispatcher held a QUEUED task back, and why.
    Held(QueuedReason),
    /// A progress report: a percentage or a failure (see [`ProgressStep`] for the rule).
    Progress {
        step: ProgressStep,
        desc: Option<String>,
    },
    /// The device reported its current version of the task's module.
    VersionReported { version: String },
    /// A scheduled retry is due.
    RetryDue,
    /// The timeout deadline passed.
    TimeoutElapsed,
    /// A told task heard nothing from its device since its nudge time.
    NudgeDue,
    /// The batch's ScheduleFinishTime passed.
    ScheduleFinished,
    /// Cancelled by an operator, by cancelling the batch, or by an overwriting batch.
    Cancel(CancelReason),
    /// An operator re-runs a FAILED or CANCELED task (ReupgradeOTATask).
    Reupgrade,
}

/// What the engine must do besides storing the new task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The task may be pushed now (subject to the batch rate and the device being online).
    ReadyToPush,
    /// A retry was scheduled for this time.
    RetryScheduled(Millis),
    /// The task reached a terminal state: batch counters and completion need a look.
    Finished(TaskStatus),
    /// Send the task's push again, as it was: the first, or the device's answer, may have
    /// been lost (the task itself did not change).
    Repush,
}

/// The result of a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub task: Task,
    pub effects: Vec<Effect>,
}

/// Why an event did not change the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A late or duplicate device event: ignore it.
    Stale(&'static str),
    /// A command that the current state does not allow: report it.
    Invalid(&'static str),
}

impl Task {
    /// Applies `event` at `now` under `rules`.
    pub fn apply(
        &self,
        event: TaskEvent,
        rules: &TaskRules,
        now: Millis,
    ) -> Result<Transition, Rejection> {
        use TaskStatus::*;
        let mut next = self.clone();
        next.modified_at = now;
        let mut effects = Vec::new();
        match (self.status, event) {
            // Confirmation releases the task exactly as if it had been created unconfirmed.
            // The rules do not say whether the batch has started: for a PLANNED batch the
            // engine follows up with `Held(Scheduled)` so that JobStarted releases it.
            (Confirm, TaskEvent::Confirm) => {
                next.status = Queued;
                next.queued_reason = Some(ready_reason(rules));
                effects.push(Effect::ReadyToPush);
            }
            (_, TaskEvent::Confirm) => {
                return Err(Rejection::Invalid(
                    "only a task in CONFIRM can be confirmed",
                ));
            }

            // A planned batch starting turns its scheduled tasks into pushable ones.
            (Queued, TaskEvent::JobStarted)
                if self.queued_reason == Some(QueuedReason::Scheduled) =>
            {
                next.queued_reason = Some(ready_reason(rules));
                effects.push(Effect::ReadyToPush);
            }
            (_, TaskEvent::JobStarted) => {
                return Err(Rejection::Stale("task is not waiting for the schedule"));
            }

            // The push (or a pull reply) reached the device. Re-pushes after a reconnect
            // leave NOTIFIED and IN_PROGRESS as they are, so the timeout clock keeps running.
            // A task still waiting for its batch's start time must not reach the device early
            // (e.g. through a pull); the new attempt clears the previous attempt's failure.
            (Queued, TaskEvent::Delivered) => {
                if self.queued_reason == Some(QueuedReason::RetryScheduled)
                    && self.retry_at.is_some_and(|at| at > now)
                {
                    return Err(Rejection::Stale("retry interval has not elapsed"));
                }
                if self.queued_reason == Some(QueuedReason::Scheduled) {
                    return Err(Rejection::Stale("batch has not started"));
                }
                next.status = Notified;
                next.queued_reason = None;
                next.retry_at = None;
                next.failure = None;
                next.nudge_at = nudge(rules, now);
            }
            (Notified | InProgress, TaskEvent::Delivered) => {
                return Err(Rejection::Stale("already delivered"));
            }
            (_, TaskEvent::Delivered) => return Err(Rejection::Stale("task is not deliverable")),

            // Hold reasons only describe a QUEUED task; they never change its status. The
            // schedule and a pending retry are timers, released only by JobStarted / RetryDue:
            // overwriting them would lose the wait and let the task out early.
            (Queued, TaskEvent::Held(QueuedReason::RetryScheduled)) => {
                return Err(Rejection::Invalid("only a failure schedules a retry"));
            }
            (Queued, TaskEvent::Held(reason)) => {
                if self.queued_reason == Some(reason) {
                    return Err(Rejection::Stale("same hold reason"));
                }
                if matches!(
                    self.queued_reason,
                    Some(QueuedReason::Scheduled | QueuedReason::RetryScheduled)
                ) {
                    return Err(Rejection::Stale("task is waiting for a timer"));
                }
                next.queued_reason = Some(reason);
            }
            (_, TaskEvent::Held(_)) => return Err(Rejection::Stale("only QUEUED tasks are held")),

            // Progress: a percentage moves the task to IN_PROGRESS and starts the timeout
            // clock on the first report; a negative step is a device-reported failure.
            (Queued | Notified | InProgress, TaskEvent::Progress { step, desc }) => {
                let retry_pending = self.status == Queued
                    && self.queued_reason == Some(QueuedReason::RetryScheduled);
                if let Some(reason) = step.failure() {
                    // A repeated failure report of the attempt that already failed must not
                    // burn another retry.
                    if retry_pending {
                        return Err(Rejection::Stale("failure of an attempt already retried"));
                    }
                    next.desc = step.describe(desc);
                    fail_or_retry(&mut next, &mut effects, reason, rules, now);
                } else if let Some(percent) = step.percent() {
                    if retry_pending {
                        return Err(Rejection::Stale(
                            "progress from an attempt that already failed",
                        ));
                    }
                    next.status = InProgress;
                    next.queued_reason = None;
                    next.failure = None;
                    next.progress = i32::from(percent).max(if self.status == InProgress {
                        self.progress
                    } else {
                        0
                    });
                    next.desc = desc;
                    next.nudge_at = nudge(rules, now);
                    if self.started_at.is_none() {
                        next.started_at = Some(now);
                        next.timeout_at =
                            rules.timeout_minutes.map(|m| now + i64::from(m) * MINUTE);
                    }
                } else {
                    return Err(Rejection::Invalid(
                        "a progress step above 100 is not a percentage",
                    ));
                }
            }
            (_, TaskEvent::Progress { .. }) => return Err(Rejection::Stale("task is not running")),

            // Reporting the destination version is success, whatever the task was doing:
            // the device got there. Another version after a completed download is a failure
            // (the install did not take), and so is a third version mid-download; the old
            // version re-reported on a reconnect mid-download is not — nor, before the
            // download completed, a version when the old one was never reported.
            (Confirm | Queued | Notified | InProgress, TaskEvent::VersionReported { version }) => {
                if version == self.dest_version {
                    next.status = Succeeded;
                    next.progress = 100;
                    next.failure = None;
                    next.queued_reason = None;
                    next.retry_at = None;
                    next.timeout_at = None;
                    next.nudge_at = None;
                    effects.push(Effect::Finished(Succeeded));
                } else if self.status == InProgress
                    && (self.progress >= 100
                        || self.src_version.as_ref().is_some_and(|src| *src != version))
                {
                    fail_or_retry(
                        &mut next,
                        &mut effects,
                        FailureReason::WrongVersion,
                        rules,
                        now,
                    );
                } else {
                    return Err(Rejection::Stale(
                        "version report does not conclude the task",
                    ));
                }
            }
            (_, TaskEvent::VersionReported { .. }) => {
                return Err(Rejection::Stale("task is finished"));
            }

            (Queued, TaskEvent::RetryDue)
                if self.queued_reason == Some(QueuedReason::RetryScheduled) =>
            {
                if self.retry_at.is_some_and(|at| at > now) {
                    return Err(Rejection::Stale("retry is not due yet"));
                }
                next.queued_reason = Some(ready_reason(rules));
                next.retry_at = None;
                effects.push(Effect::ReadyToPush);
            }
            (_, TaskEvent::RetryDue) => return Err(Rejection::Stale("no retry pending")),

            // A timeout is final: the device had its chance, retrying would only repeat it.
            (InProgress, TaskEvent::TimeoutElapsed) => {
                if self.timeout_at.is_none_or(|at| at > now) {
                    return Err(Rejection::Stale("timeout not reached"));
                }
                fail(&mut next, &mut effects, FailureReason::Timeout);
            }
            (_, TaskEvent::TimeoutElapsed) => {
                return Err(Rejection::Stale("task is not in progress"));
            }

            // A told device that has said nothing for a while may never have got its push,
            // or its answer may have been lost: push again. A nudge is no change of the
            // task: its modification time stays, and the next nudge waits as long as the
            // task has been silent, so the pushes thin out (doubling, up to NUDGE_MAX).
            (Notified | InProgress, TaskEvent::NudgeDue) => {
                if self.nudge_at.is_none_or(|at| at > now) {
                    return Err(Rejection::Stale("no nudge due"));
                }
                next.modified_at = self.modified_at;
                next.nudge_at = rules.nudge_after.map(|first| {
                    let silent = (now - self.modified_at).max(0);
                    now + silent.clamp(first, NUDGE_MAX.max(first))
                });
                if rules.nudge_after.is_some() {
                    effects.push(Effect::Repush);
                }
            }
            (_, TaskEvent::NudgeDue) => return Err(Rejection::Stale("task is not told")),

            (Confirm | Queued | Notified | InProgress, TaskEvent::ScheduleFinished) => {
                fail(&mut next, &mut effects, FailureReason::ScheduleFinished);
            }
            (_, TaskEvent::ScheduleFinished) => return Err(Rejection::Stale("task is finished")),

            // An overwriting batch may only take the place of a task the device has not
            // started; an operator or a batch cancel may stop any unfinished task.
            (InProgress, TaskEvent::Cancel(CancelReason::Overwritten)) => {
                return Err(Rejection::Invalid(
                    "an IN_PROGRESS task is never overwritten",
                ));
            }
            (Confirm | Queued | Notified | InProgress, TaskEvent::Cancel(reason)) => {
                next.status = Canceled;
                next.cancel_reason = Some(reason);
                next.failure = None;
                next.queued_reason = None;
                next.retry_at = None;
                next.timeout_at = None;
                next.nudge_at = None;
                effects.push(Effect::Finished(Canceled));
            }
            (_, TaskEvent::Cancel(_)) => {
                return Err(Rejection::Invalid("task is already finished"));
            }

            // A re-run starts a fresh attempt series: retries and the timeout clock reset.
            (Failed | Canceled, TaskEvent::Reupgrade) => {
                next.status = Queued;
                next.queued_reason = Some(ready_reason(rules));
                next.failure = None;
                next.cancel_reason = None;
                next.progress = 0;
                next.desc = None;
                next.retries_used = 0;
                next.retry_at = None;
                next.timeout_at = None;
                next.started_at = None;
                next.nudge_at = None;
                effects.push(Effect::ReadyToPush);
            }
            (_, TaskEvent::Reupgrade) => {
                return Err(Rejection::Invalid(
                    "only FAILED or CANCELED tasks can be re-upgraded",
                ));
            }
        }
        Ok(Transition {
            task: next,
            effects,
        })
    }
}

/// When a task told (or heard from) at `now` is nudged, if nothing else happens.
fn nudge(rules: &TaskRules, now: Millis) -> Option<Millis> {
    rules.nudge_after.map(|after| now + after)
}

fn ready_reason(rules: &TaskRules) -> QueuedReason {
    if rules.need_push {
        QueuedReason::Ready
    } else {
        QueuedReason::AwaitingPull
    }
}

/// Retries while the batch allows, otherwise fails for good.
fn fail_or_retry(
    next: &mut Task,
    effects: &mut Vec<Effect>,
    reason: FailureReason,
    rules: &TaskRules,
    now: Millis,
) {
    match rules.retry {
        Some(retry) if reason.is_retryable() && next.retries_used < retry.count => {
            let at = now + i64::from(retry.interval_minutes) * MINUTE;
            next.status = TaskStatus::Queued;
            next.queued_reason = Some(QueuedReason::RetryScheduled);
            next.failure = Some(reason);
            next.retries_used += 1;
            next.retry_at = Some(at);
            next.progress = 0;
            next.started_at = None;
            next.timeout_at = None;
            next.nudge_at = None;
            effects.push(Effect::RetryScheduled(at));
        }
        _ => fail(next, effects, reason),
    }
}

fn fail(next: &mut Task, effects: &mut Vec<Effect>, reason: FailureReason) {
    next.status = TaskStatus::Failed;
    next.failure = Some(reason);
    next.queued_reason = None;
    next.retry_at = None;
    next.timeout_at = None;
    next.nudge_at = None;
    effects.push(Effect::Finished(TaskStatus::Failed));
}
