//! Rollouts: one package delivered in an ordered list of waves, each wave a batch of its
//! own, the next one started only when the one before has earned it.
//!
//! Why: a failure gate stops one batch, but the decision "this package is good enough for
//! more devices" was left to an operator watching a dashboard. A rollout writes that
//! decision down once: each wave has a *success condition* (a share of its devices
//! updated, after a minimum number finished) that starts the next wave, optionally after a
//! soak delay or an approval, and *error conditions* (failures by cause, as a count or a
//! share) that pause or cancel the whole rollout. Waves take disjoint sets of the package's
//! eligible devices: a share or a count of them, drawn in a fixed pseudo-random order, or
//! the members of a group.
//!
//! Everything here is a pure function of the rollout, the current wave's task counts and
//! the time (`machine`); the engine observes the wave's batch, applies the event and
//! carries out the effects (create the next wave's batch, pause, resume or cancel one).

mod conditions;
mod machine;
mod request;

pub use conditions::{ErrorCondition, SuccessCondition, WaveCounts};
pub use machine::{RolloutEffect, RolloutEvent, RolloutTransition, WaveObservation};
pub use request::{
    ErrorConditionInput, MAX_ERROR_CONDITIONS, MAX_SOAK_MINUTES, MAX_WAVES, RolloutRequest,
    SuccessConditionInput, ValidatedRollout, WaveInput,
};

use crate::job::{ApprovalDecision, JobPolicy};
use crate::{FirmwareId, GroupId, JobId, Millis, ProductKey, RolloutId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub rollout_id: RolloutId,
    pub firmware_id: FirmwareId,
    pub product_key: ProductKey,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Only devices currently at one of these versions (empty = any).
    pub src_versions: Vec<String>,
    /// The policy every wave's batch runs with (rate, retries, timeout, failure gate,
    /// ramp, windows). Approval is the rollout's business, so it is never set here.
    pub policy: JobPolicy,
    /// Tags every wave's batch carries.
    pub tags: BTreeMap<String, String>,
    pub waves: Vec<Wave>,
    /// The wave the rollout is at (0-based); earlier ones are behind it.
    pub current: usize,
    pub status: RolloutStatus,
    pub pause: Option<RolloutPause>,
    /// Eligible devices when the rollout was created: what wave percentages are of.
    pub eligible: u64,
    pub created_at: Millis,
    pub modified_at: Millis,
    pub finished_at: Option<Millis>,
    /// Raised by every write; a write over another version is refused, so two nodes (or
    /// an operator and the driver) never both move a rollout from the same state.
    pub version: u64,
}

/// One wave: what it targets and when it has succeeded or failed, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wave {
    pub plan: WavePlan,
    pub state: WaveState,
}

/// A wave as the operator defined it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WavePlan {
    pub name: Option<String>,
    pub target: WaveTarget,
    pub success: SuccessCondition,
    pub errors: Vec<ErrorCondition>,
    /// Minutes to wait after the success condition is met before the next wave starts;
    /// the error conditions still watch the wave meanwhile.
    pub soak_minutes: u32,
    /// The wave waits for an approval before its batch is created.
    pub approval_required: bool,
}

/// Which of the package's eligible devices a wave takes, besides those earlier waves took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaveTarget {
    /// A share of the devices eligible when the rollout was created, in thousandths of a
    /// percent (at least one device).
    Percent { milli_percent: u32 },
    /// This many devices.
    Count { devices: u64 },
    /// The members of a group.
    Group { group_id: GroupId },
}

impl WaveTarget {
    /// How many devices the wave draws, `None` for a group (all its eligible members).
    pub fn pick(&self, eligible: u64) -> Option<u64> {
        match self {
            WaveTarget::Percent { milli_percent } => {
                Some((eligible * u64::from(*milli_percent) / 100_000).max(1))
            }
            WaveTarget::Count { devices } => Some(*devices),
            WaveTarget::Group { .. } => None,
        }
    }
}

/// Where a wave is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WavePhase {
    /// Not reached yet.
    #[default]
    Pending,
    /// Reached; waits for someone allowed to approve it.
    AwaitingApproval,
    /// Its batch is being created.
    Starting,
    /// Its batch runs; the rollout watches its conditions.
    Running,
    /// Its success condition was met; it soaks before the next wave starts.
    Soaking,
    /// Met its success condition; the rollout moved on.
    Succeeded,
    /// Finished below its success condition, or an error condition cancelled it.
    Failed,
    /// An operator started the next wave before this one met its success condition.
    Passed,
    /// The rollout was cancelled or denied before or while this wave ran.
    Canceled,
}

impl WavePhase {
    pub const ALL: [WavePhase; 9] = [
        WavePhase::Pending,
        WavePhase::AwaitingApproval,
        WavePhase::Starting,
        WavePhase::Running,
        WavePhase::Soaking,
        WavePhase::Succeeded,
        WavePhase::Failed,
        WavePhase::Passed,
        WavePhase::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WavePhase::Pending => "PENDING",
            WavePhase::AwaitingApproval => "AWAITING_APPROVAL",
            WavePhase::Starting => "STARTING",
            WavePhase::Running => "RUNNING",
            WavePhase::Soaking => "SOAKING",
            WavePhase::Succeeded => "SUCCEEDED",
            WavePhase::Failed => "FAILED",
            WavePhase::Passed => "PASSED",
            WavePhase::Canceled => "CANCELED",
        }
    }

    /// A batch exists and the rollout is watching it.
    pub fn is_watched(self) -> bool {
        matches!(self, WavePhase::Running | WavePhase::Soaking)
    }
}

/// A wave's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WaveState {
    pub phase: WavePhase,
    /// Its batch, once created ([`Rollout::wave_job_id`]).
    pub job_id: Option<JobId>,
    pub started_at: Option<Millis>,
    /// When its success condition was first met.
    pub succeeded_at: Option<Millis>,
    /// When the rollout moved on from it (or ended in it).
    pub finished_at: Option<Millis>,
    pub approval: Option<ApprovalDecision>,
    /// Counts when the rollout was last resumed; error conditions judge what came after.
    pub baseline: WaveCounts,
    /// Its batch's counts when last observed.
    pub counts: WaveCounts,
    /// Why it ended as it did, in words (an error condition, an operator, a denial).
    pub note: Option<String>,
}

/// Rollout status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RolloutStatus {
    Running,
    Paused,
    Completed,
    Canceled,
}

impl RolloutStatus {
    pub const ALL: [RolloutStatus; 4] = [
        RolloutStatus::Running,
        RolloutStatus::Paused,
        RolloutStatus::Completed,
        RolloutStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStatus::Running => "RUNNING",
            RolloutStatus::Paused => "PAUSED",
            RolloutStatus::Completed => "COMPLETED",
            RolloutStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RolloutStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, RolloutStatus::Completed | RolloutStatus::Canceled)
    }
}

/// Why a rollout is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutPauseReason {
    /// An operator paused it.
    Operator,
    /// An error condition of the current wave with the PAUSE action tripped.
    ErrorCondition,
    /// The current wave's batch ended below its success condition: only an operator can
    /// start the next wave (or cancel).
    BelowSuccess,
}

impl RolloutPauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutPauseReason::Operator => "OPERATOR",
            RolloutPauseReason::ErrorCondition => "ERROR_CONDITION",
            RolloutPauseReason::BelowSuccess => "BELOW_SUCCESS",
        }
    }
}

/// A paused rollout: why and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutPause {
    pub reason: RolloutPauseReason,
    pub at: Millis,
}

/// What links a batch to the rollout wave it runs: which devices it takes. Stored with
/// the batch, so its creation (and a creation resumed after a restart) draws exactly the
/// wave's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveLink {
    pub rollout_id: RolloutId,
    /// 1-based, as the operator counts waves.
    pub wave: u32,
    /// How many devices it draws in the rollout's order; `None`: all (of the group).
    pub pick: Option<u64>,
    pub group_id: Option<GroupId>,
    /// The batches of the earlier waves: their devices are not drawn again.
    pub exclude: Vec<JobId>,
}

impl Rollout {
    /// The batch id of wave `index` (0-based): the rollout's id and the wave's number, so
    /// creating it twice (after a crash) finds the one already there.
    pub fn wave_job_id(&self, index: usize) -> JobId {
        JobId(format!("{}{:02}", self.rollout_id, index + 1))
    }

    /// The current wave.
    pub fn current_wave(&self) -> &Wave {
        &self.waves[self.current]
    }

    /// The batch the rollout is watching now, if any.
    pub fn watched_job(&self) -> Option<&JobId> {
        let wave = self.current_wave();
        wave.state
            .phase
            .is_watched()
            .then_some(wave.state.job_id.as_ref())
            .flatten()
    }

    /// What wave `index`'s batch takes.
    pub fn wave_link(&self, index: usize) -> WaveLink {
        let plan = &self.waves[index].plan;
        WaveLink {
            rollout_id: self.rollout_id.clone(),
            wave: index as u32 + 1,
            pick: plan.target.pick(self.eligible),
            group_id: match &plan.target {
                WaveTarget::Group { group_id } => Some(group_id.clone()),
                _ => None,
            },
            exclude: (0..index).map(|i| self.wave_job_id(i)).collect(),
        }
    }

    /// Why the rollout is not moving on right now, in words; `None` when it is finished.
    pub fn waiting(&self, now: Millis) -> Option<String> {
        if self.status.is_terminal() {
            return None;
        }
        let n = self.current + 1;
        let wave = self.current_wave();
        if let Some(pause) = self.pause {
            return Some(match pause.reason {
                RolloutPauseReason::Operator => format!("paused by an operator at wave {n}"),
                RolloutPauseReason::ErrorCondition => format!(
                    "paused: an error condition of wave {n} tripped ({}); resume to go on",
                    wave.state.note.as_deref().unwrap_or("see the wave")
                ),
                RolloutPauseReason::BelowSuccess => format!(
                    "wave {n} finished below its success condition; start the next wave or \
                     cancel the rollout"
                ),
            });
        }
        let success = &wave.plan.success;
        Some(match wave.state.phase {
            WavePhase::AwaitingApproval => format!("wave {n} awaits approval"),
            WavePhase::Starting | WavePhase::Pending => format!("creating the batch of wave {n}"),
            WavePhase::Soaking => {
                let until = wave.state.succeeded_at.unwrap_or(now)
                    + Millis::from(wave.plan.soak_minutes) * 60_000;
                format!(
                    "wave {n} met its success condition; it soaks until {}",
                    crate::webhook::rfc3339(until)
                )
            }
            _ if self.current + 1 == self.waves.len() => {
                format!("wave {n}, the last, runs until its batch completes")
            }
            _ => {
                let counts = &wave.state.counts;
                format!(
                    "wave {n}: {} of {} devices updated; wave {} starts at {} % updated once {} \
                     have finished",
                    counts.succeeded,
                    counts.total,
                    n + 1,
                    success.succeeded_percent,
                    success.min_finished_of(counts.total)
                )
            }
        })
    }
}

#[cfg(test)]
mod tests;
