//! Rollout gates: a batch stops starting new devices when too many of its devices fail, or
//! when an operator pauses it, and goes on when resumed.
//!
//! Why: a bad package should cost a handful of devices, not the fleet. The failure gate
//! compares the failed share of the batch's finished tasks (SUCCEEDED + FAILED; cancelled
//! tasks are an operator's choice, not a device's verdict) with a limit, once enough tasks
//! have finished for the share to mean something (AWS IoT Jobs' abort criteria, hawkBit's
//! error threshold). It then pauses the batch (devices already told keep going, no one new
//! is pushed) or cancels it (every task not yet started is cancelled). After a resume the
//! gate judges only what finishes from then on, so one resume is not undone by the failures
//! the operator has already seen.

use super::{CancelOptions, Job, JobEvent, JobStatus};
use crate::Millis;
use crate::stats::TaskCounts;
use serde::{Deserialize, Serialize};

/// When a batch's failures stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureGate {
    /// The gate trips when more than this percentage of finished tasks failed (0..=100;
    /// 0 trips on the first failure).
    pub max_failed_percent: u8,
    /// FinishedCounts tasks needed (since the last resume) before the gate may trip (>= 1).
    pub min_finished: u32,
    pub action: GateAction,
}

/// What a tripped gate does to its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GateAction {
    /// Stop pushing new devices until an operator resumes the batch.
    Pause,
    /// End the batch: cancel every task that has not started; started ones run to their end.
    Cancel,
}

impl GateAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GateAction::Pause => "PAUSE",
            GateAction::Cancel => "CANCEL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PAUSE" => Some(GateAction::Pause),
            "CANCEL" => Some(GateAction::Cancel),
            _ => None,
        }
    }
}

/// Why a batch is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PauseReason {
    /// An operator paused it.
    Operator,
    /// Its failure gate tripped.
    FailureGate,
    /// It was created requiring approval and nobody has decided yet.
    AwaitingApproval,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Operator => "OPERATOR",
            PauseReason::FailureGate => "FAILURE_GATE",
            PauseReason::AwaitingApproval => "AWAITING_APPROVAL",
        }
    }
}

/// A paused batch: why and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub reason: PauseReason,
    pub at: Millis,
}

/// Who approved or denied a batch that required approval, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub approved: bool,
    /// The user who decided.
    pub by: String,
    pub remark: String,
    pub at: Millis,
}

/// Longest remark kept with an approval decision, in characters.
pub const MAX_REMARK_CHARS: usize = 512;

impl ApprovalDecision {
    /// A decision by user `by` at `at`; the remark is trimmed and must be at most
    /// [`MAX_REMARK_CHARS`] characters without control characters.
    pub fn new(
        approved: bool,
        by: &str,
        remark: &str,
        at: Millis,
    ) -> Result<Self, crate::DomainError> {
        let remark = remark.trim();
        if remark.chars().count() > MAX_REMARK_CHARS || remark.chars().any(char::is_control) {
            return Err(crate::DomainError::invalid(
                "Remark",
                "must be at most 512 characters without control characters",
            ));
        }
        Ok(ApprovalDecision {
            approved,
            by: by.to_owned(),
            remark: remark.to_owned(),
            at,
        })
    }
}

/// The pause state of a batch, what its gate has already judged, and its approval.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobControl {
    pub pause: Option<Pause>,
    /// Failed and finished tasks when the batch was last resumed; the gate counts from here.
    pub gate_baseline: FinishedCounts,
    /// The decision on a batch created requiring approval.
    pub approval: Option<ApprovalDecision>,
}

/// Failed and finished (SUCCEEDED + FAILED) task counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedCounts {
    pub failed: u64,
    pub finished: u64,
}

impl FinishedCounts {
    pub fn of(counts: &TaskCounts) -> Self {
        FinishedCounts {
            failed: counts.failed,
            finished: counts.failed + counts.succeeded,
        }
    }
}

/// Most percent a gate may allow.
pub const MAX_FAILED_PERCENT: u8 = 100;

impl FailureGate {
    /// Whether `now_counts` (since `baseline`) break the gate.
    pub fn trips(&self, now_counts: FinishedCounts, baseline: FinishedCounts) -> bool {
        let failed = now_counts.failed.saturating_sub(baseline.failed);
        let finished = now_counts.finished.saturating_sub(baseline.finished);
        finished >= u64::from(self.min_finished.max(1))
            && failed * 100 > u64::from(self.max_failed_percent) * finished
    }
}

/// What a cancelling gate cancels: every task not yet started.
pub fn gate_cancel_options() -> CancelOptions {
    CancelOptions {
        cancel_in_progress: false,
        cancel_queued: true,
        cancel_notified: true,
        cancel_scheduled: true,
        cancel_unconfirmed: Some(true),
    }
}

impl Job {
    /// Whether the batch is paused.
    pub fn is_paused(&self) -> bool {
        self.control.pause.is_some()
    }

    /// Whether its tasks are still being created (`job::creation`).
    pub fn is_creating(&self) -> bool {
        self.creation.is_some_and(|c| c.is_running())
    }

    /// Whether no new device may be pushed: paused, or its tasks are still being created.
    pub fn is_held(&self) -> bool {
        self.is_paused() || self.is_creating()
    }

    /// The event the batch's failure gate calls for, given its task counts now: `None`
    /// when it has no gate, is not running or already paused, or the gate holds.
    pub fn gate_verdict(&self, counts: &TaskCounts) -> Option<JobEvent> {
        let gate = self.policy.failure_gate?;
        if self.status != JobStatus::InProgress || self.is_held() {
            return None;
        }
        if !gate.trips(FinishedCounts::of(counts), self.control.gate_baseline) {
            return None;
        }
        Some(match gate.action {
            GateAction::Pause => JobEvent::Pause(PauseReason::FailureGate),
            GateAction::Cancel => JobEvent::Cancel(gate_cancel_options()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(failed: u64, finished: u64) -> FinishedCounts {
        FinishedCounts { failed, finished }
    }

    #[test]
    fn the_gate_trips_above_its_share_once_enough_have_finished() {
        let gate = |max_failed_percent, min_finished| FailureGate {
            max_failed_percent,
            min_finished,
            action: GateAction::Pause,
        };
        #[rustfmt::skip]
        let rows = [
            ("too few finished", gate(10, 10), at(5, 9), at(0, 0), false),
            ("enough, above", gate(10, 10), at(2, 10), at(0, 0), true),
            ("exactly at the share holds", gate(10, 10), at(1, 10), at(0, 0), false),
            ("zero percent: first failure", gate(0, 1), at(1, 1), at(0, 0), true),
            ("zero percent, no failure", gate(0, 1), at(0, 50), at(0, 0), false),
            ("hundred percent never trips", gate(100, 1), at(50, 50), at(0, 0), false),
            ("min 0 counts as 1", gate(0, 0), at(0, 0), at(0, 0), false),
            ("baseline: old failures forgiven", gate(10, 10), at(10, 30), at(10, 20), false),
            ("baseline: new failures count", gate(10, 10), at(12, 30), at(10, 20), true),
            ("baseline: since resume above", gate(10, 5), at(13, 30), at(10, 25), true),
            ("baseline: too few since resume", gate(10, 5), at(13, 28), at(10, 25), false),
            ("counts below baseline (re-run tasks)", gate(10, 1), at(1, 1), at(5, 9), false),
        ];
        for (name, gate, now, baseline, trips) in rows {
            assert_eq!(gate.trips(now, baseline), trips, "{name}");
        }
    }

    #[test]
    fn finished_counts_successes_and_failures_only() {
        let counts = TaskCounts {
            succeeded: 7,
            failed: 2,
            canceled: 5,
            in_progress: 3,
            ..TaskCounts::default()
        };
        assert_eq!(FinishedCounts::of(&counts), at(2, 9));
    }

    #[test]
    fn approval_remarks_are_trimmed_and_bounded() {
        #[rustfmt::skip]
        let rows = [
            ("trimmed", " ok ", Some("ok")),
            ("empty", "", Some("")),
            ("512 characters", &"é".repeat(512)[..], Some(&"é".repeat(512)[..])),
            ("513 characters", &"é".repeat(513)[..], None),
            ("a control character", "no\u{7}bell", None),
        ];
        for (name, remark, kept) in rows {
            let decision = ApprovalDecision::new(true, "lead", remark, 5);
            match (decision, kept) {
                (Ok(d), Some(kept)) => assert_eq!((d.remark.as_str(), d.at), (kept, 5), "{name}"),
                (Err(e), None) => assert_eq!(e.field.as_deref(), Some("Remark"), "{name}"),
                (other, kept) => panic!("{name}: {other:?} where {kept:?} was expected"),
            }
        }
    }

    #[test]
    fn actions_and_reasons_have_stable_names() {
        for action in [GateAction::Pause, GateAction::Cancel] {
            assert_eq!(GateAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(GateAction::parse("pause"), None);
        assert_eq!(PauseReason::FailureGate.as_str(), "FAILURE_GATE");
    }
}
