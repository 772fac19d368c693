//! The batch transition function (spec §3.1). One `match` over (status, event); each arm
//! says why.
//!
//! A batch never touches its tasks directly: the effects tell the engine which task events
//! to apply (release the scheduled ones, fail the unfinished ones, cancel a selection), so
//! each task still moves through its own machine and the two never disagree.

use super::{
    ApprovalDecision, CancelOptions, FinishedCounts, Job, JobStatus, Pause, PauseReason, RateStep,
    SelectionType,
};
use crate::Millis;
use crate::task::{Rejection, TaskRules, TaskStart};
use std::collections::BTreeMap;

/// Pushes per minute the Aliyun API accepts.
pub const RATE_RANGE: std::ops::RangeInclusive<u32> = 10..=10_000;

/// A new push rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateUpdate {
    /// One rate from now on; any rate schedule is dropped.
    Fixed(u32),
    /// A schedule of rates; `maximum_per_minute` stays the rate before the first step.
    Steps(Vec<RateStep>),
}

/// Something that happened to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// The batch's ScheduleTime was reached.
    Start,
    /// Every task of the batch is SUCCEEDED, FAILED or CANCELED.
    AllTasksFinished,
    /// The batch's ScheduleFinishTime was reached.
    ScheduleFinished,
    /// CancelOTATaskByJob: the batch stops; the selected tasks are cancelled.
    Cancel(CancelOptions),
    /// CancelOTAStrategyByJob: a dynamic batch stops adding devices.
    StrategyCanceled,
    /// UpdateOTAJob's MaximumPerMinute (or a rate schedule).
    UpdateRate(RateUpdate),
    /// UpdateOTAJob's Tags (already validated; an empty map clears them).
    UpdateTags(BTreeMap<String, String>),
    /// UpdateOTAJob's TimeoutInMinutes: dynamic batches only, for tasks created afterwards.
    UpdateTimeout(u32),
    /// ReupgradeOTATask re-ran tasks of a completed batch: it runs again until they end.
    Reopen,
    /// Stop pushing new devices: an operator's pause, or the failure gate's.
    Pause(PauseReason),
    /// Push again; the failure gate counts from these task counts on.
    Resume(FinishedCounts),
    /// A batch awaiting approval is approved: it starts pushing.
    Approve(ApprovalDecision),
    /// A batch awaiting approval is denied: it is cancelled with every task.
    Deny(ApprovalDecision),
}

/// What the engine must do besides storing the new batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEffect {
    /// Apply `TaskEvent::JobStarted` to the batch's tasks waiting for the schedule.
    ReleaseScheduledTasks,
    /// Apply `TaskEvent::ScheduleFinished` to every unfinished task.
    FailUnfinishedTasks,
    /// Apply `TaskEvent::Cancel(JobCanceled)` to every task [`task_selected_for_cancel`]
    /// picks. Tasks not selected run to their own end.
    ///
    /// [`task_selected_for_cancel`]: super::task_selected_for_cancel
    CancelTasks(CancelOptions),
    /// Stop matching new devices for this dynamic batch.
    StopStrategy,
    /// The push rate changed: the dispatcher re-reads it.
    RateChanged,
    /// A paused batch may push again: wake the dispatcher.
    Resumed,
    /// The batch reached a terminal status.
    Finished(JobStatus),
}

/// The result of a batch transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTransition {
    pub job: Job,
    pub effects: Vec<JobEffect>,
}

impl Job {
    /// Applies `event` at `now`. Rejections have the task machine's meaning: `Stale` for a
    /// timer or report that no longer applies, `Invalid` for an operator command the
    /// current state does not allow.
    pub fn apply(&self, event: JobEvent, now: Millis) -> Result<JobTransition, Rejection> {
        use JobStatus::*;
        let mut next = self.clone();
        next.modified_at = now;
        let mut effects = Vec::new();
        if self.is_creating() {
            // Held until its last task is created (`job::creation`): a timer fires again
            // later; an operator's cancel is refused rather than racing the creation.
            match event {
                JobEvent::Start | JobEvent::AllTasksFinished | JobEvent::ScheduleFinished => {
                    return Err(Rejection::Stale(
                        "the batch's tasks are still being created",
                    ));
                }
                JobEvent::Cancel(_)
                | JobEvent::StrategyCanceled
                | JobEvent::Reopen
                | JobEvent::Deny(_) => {
                    return Err(Rejection::Invalid(
                        "the batch's tasks are still being created; try again when it is done",
                    ));
                }
                _ => {}
            }
        }
        match (self.status, event) {
            // A planned batch starts at its ScheduleTime, not before: a timer firing early
            // (clock skew between nodes) is ignored and fires again.
            (Planned, JobEvent::Start) => {
                if self.policy.schedule_time.is_some_and(|at| at > now) {
                    return Err(Rejection::Stale("schedule time not reached"));
                }
                next.status = InProgress;
                next.started_at = Some(now);
                effects.push(JobEffect::ReleaseScheduledTasks);
            }
            (_, JobEvent::Start) => return Err(Rejection::Stale("batch is not planned")),

            // A static batch is done when its fixed set of tasks is; a dynamic one keeps
            // adding devices until its policy is cancelled.
            (InProgress, JobEvent::AllTasksFinished) => {
                if self.selection_type == SelectionType::Dynamic {
                    return Err(Rejection::Stale(
                        "a dynamic batch runs until its policy stops",
                    ));
                }
                finish(&mut next, &mut effects, Completed, now);
            }
            (_, JobEvent::AllTasksFinished) => {
                return Err(Rejection::Stale("batch is not in progress"));
            }

            // The forced end: the batch is over, whatever its devices are doing. Spec §3.2
            // leaves FAILED vs CANCELED open; tasks fail with ScheduleFinished, so the end
            // shows as a failure reason the operator can filter on.
            (Planned | InProgress, JobEvent::ScheduleFinished) => {
                match self.policy.schedule_finish_time {
                    None => return Err(Rejection::Invalid("batch has no ScheduleFinishTime")),
                    Some(at) if at > now => {
                        return Err(Rejection::Stale("schedule finish time not reached"));
                    }
                    Some(_) => {}
                }
                effects.push(JobEffect::FailUnfinishedTasks);
                finish(&mut next, &mut effects, Completed, now);
            }
            (_, JobEvent::ScheduleFinished) => return Err(Rejection::Stale("batch is finished")),

            (Planned | InProgress, JobEvent::Cancel(options)) => {
                effects.push(JobEffect::CancelTasks(options));
                finish(&mut next, &mut effects, Canceled, now);
            }
            (_, JobEvent::Cancel(_)) => {
                return Err(Rejection::Invalid("batch is already finished"));
            }

            // Aliyun sets a dynamic batch to CANCELED when its policy is cancelled; tasks
            // already created are left to finish.
            (Planned | InProgress, JobEvent::StrategyCanceled) => {
                if self.selection_type != SelectionType::Dynamic {
                    return Err(Rejection::Invalid("only a dynamic batch has a policy"));
                }
                effects.push(JobEffect::StopStrategy);
                finish(&mut next, &mut effects, Canceled, now);
            }
            (_, JobEvent::StrategyCanceled) => {
                return Err(Rejection::Invalid("batch is already finished"));
            }

            // Pace and tags only matter while pushes can still happen.
            (Planned | InProgress, JobEvent::UpdateRate(update)) => {
                match update {
                    RateUpdate::Fixed(rate) => {
                        if !RATE_RANGE.contains(&rate) {
                            return Err(Rejection::Invalid("rate must be 10-10000 per minute"));
                        }
                        next.policy.maximum_per_minute = rate;
                        next.policy.rate_steps.clear();
                    }
                    RateUpdate::Steps(steps) => {
                        if !steps_are_valid(&steps) {
                            return Err(Rejection::Invalid(
                                "rate steps must be 10-10000 per minute at increasing times",
                            ));
                        }
                        next.policy.rate_steps = steps;
                    }
                }
                effects.push(JobEffect::RateChanged);
            }
            (_, JobEvent::UpdateRate(_)) => return Err(Rejection::Invalid("batch is finished")),

            (Planned | InProgress, JobEvent::UpdateTags(tags)) => next.tags = tags,
            (_, JobEvent::UpdateTags(_)) => return Err(Rejection::Invalid("batch is finished")),

            // Aliyun: effective only for dynamic batches, and only for devices added later,
            // which is what storing it in the policy gives.
            (Planned | InProgress, JobEvent::UpdateTimeout(minutes)) => {
                if self.selection_type != SelectionType::Dynamic {
                    return Err(Rejection::Invalid(
                        "only a dynamic batch's timeout can change",
                    ));
                }
                if !(1..=1440).contains(&minutes) {
                    return Err(Rejection::Invalid("timeout must be 1-1440 minutes"));
                }
                next.policy.timeout_minutes = Some(minutes);
            }
            (_, JobEvent::UpdateTimeout(_)) => return Err(Rejection::Invalid("batch is finished")),

            // A completed batch has no unfinished task; re-running some makes it run again,
            // or nothing would push them. A batch ended by its ScheduleFinishTime stays over.
            (Completed, JobEvent::Reopen) => {
                if self.policy.schedule_finish_time.is_some_and(|at| at <= now) {
                    return Err(Rejection::Invalid(
                        "the batch's ScheduleFinishTime has passed",
                    ));
                }
                next.status = InProgress;
                next.finished_at = None;
            }
            (Planned | InProgress, JobEvent::Reopen) => {
                return Err(Rejection::Stale("batch is still running"));
            }
            (Canceled, JobEvent::Reopen) => {
                return Err(Rejection::Invalid("the batch was cancelled"));
            }

            // Pausing stops new pushes only: devices already told go on. The gate may find
            // a batch already paused (or ended) by someone else: that is not an error.
            (Planned | InProgress, JobEvent::Pause(reason)) => {
                if self.control.pause.is_some() {
                    return Err(match reason {
                        PauseReason::FailureGate => Rejection::Stale("batch is already paused"),
                        _ => Rejection::Invalid("batch is already paused"),
                    });
                }
                next.control.pause = Some(Pause { reason, at: now });
            }
            (_, JobEvent::Pause(PauseReason::FailureGate)) => {
                return Err(Rejection::Stale("batch has ended"));
            }
            (_, JobEvent::Pause(_)) => {
                return Err(Rejection::Invalid("batch has ended"));
            }
            (Planned | InProgress, JobEvent::Resume(counts)) => {
                match self.control.pause.map(|p| p.reason) {
                    None => return Err(Rejection::Invalid("batch is not paused")),
                    Some(PauseReason::AwaitingApproval) => {
                        return Err(Rejection::Invalid(
                            "batch awaits approval: approve or deny it",
                        ));
                    }
                    Some(_) => {}
                }
                next.control.pause = None;
                next.control.gate_baseline = counts;
                effects.push(JobEffect::Resumed);
            }
            (_, JobEvent::Resume(_)) => return Err(Rejection::Invalid("batch has ended")),

            // Approval: only a batch still awaiting it can be approved or denied, once.
            (Planned | InProgress, JobEvent::Approve(decision)) if self.awaits_approval() => {
                next.control.approval = Some(ApprovalDecision {
                    approved: true,
                    ..decision
                });
                next.control.pause = None;
                effects.push(JobEffect::Resumed);
            }
            (Planned | InProgress, JobEvent::Deny(decision)) if self.awaits_approval() => {
                next.control.approval = Some(ApprovalDecision {
                    approved: false,
                    ..decision
                });
                next.control.pause = None;
                effects.push(JobEffect::CancelTasks(CancelOptions::everything()));
                finish(&mut next, &mut effects, Canceled, now);
            }
            (_, JobEvent::Approve(_) | JobEvent::Deny(_)) => {
                return Err(Rejection::Invalid(match &self.control.approval {
                    Some(_) => "the batch was already decided",
                    None => "the batch does not await approval",
                }));
            }
        }
        Ok(JobTransition { job: next, effects })
    }

    /// Whether the batch was created requiring approval and nobody has decided yet.
    pub fn awaits_approval(&self) -> bool {
        self.control
            .pause
            .is_some_and(|p| p.reason == PauseReason::AwaitingApproval)
    }

    /// The rules the batch's tasks move under (without the platform's nudge setting, which
    /// the engine adds).
    pub fn task_rules(&self) -> TaskRules {
        TaskRules {
            retry: self.policy.retry,
            timeout_minutes: self.policy.timeout_minutes,
            need_push: self.policy.need_push,
            nudge_after: None,
        }
    }

    /// How a task created now for this batch starts.
    pub fn task_start(&self) -> TaskStart {
        TaskStart {
            need_confirm: self.policy.need_confirm,
            need_push: self.policy.need_push,
            scheduled_at: match self.status {
                JobStatus::Planned => self.policy.schedule_time,
                _ => None,
            },
        }
    }
}

/// Each step within [`RATE_RANGE`], times strictly increasing.
pub fn steps_are_valid(steps: &[RateStep]) -> bool {
    steps.iter().all(|s| RATE_RANGE.contains(&s.per_minute))
        && steps.windows(2).all(|w| w[0].at < w[1].at)
}

fn finish(next: &mut Job, effects: &mut Vec<JobEffect>, status: JobStatus, now: Millis) {
    next.status = status;
    next.control.pause = None;
    next.finished_at = Some(now);
    effects.push(JobEffect::Finished(status));
}
