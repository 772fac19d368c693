//! Batches ("jobs"): what to deliver to which devices, at what pace, with which safety rules.
//! The batch state machine lives in `job::machine`, the cancel selection in `job::cancel`,
//! package verification math in `job::verify`; the rules for the creation parameters in
//! [`crate::validate`].

mod cancel;
mod creation;
mod gate;
mod machine;
mod ramp;
mod verify;
mod window;

pub use cancel::{CancelOptions, cancel_selection, task_selected_for_cancel};
pub use creation::{CreatedTasks, Creation};
pub use gate::{
    ApprovalDecision, FailureGate, FinishedCounts, GateAction, JobControl, MAX_FAILED_PERCENT,
    MAX_REMARK_CHARS, Pause, PauseReason, gate_cancel_options,
};
pub use machine::{JobEffect, JobEvent, JobTransition, RATE_RANGE, RateUpdate, steps_are_valid};
pub use ramp::{ExponentialRate, RampCriterion, RampInput};
pub use verify::{verify_outcome, verify_progress};
pub use window::{
    MAX_DURATION_MINUTES, MAX_WINDOWS, MaintenanceWindow, WindowInput, WindowState,
    validate_windows, window_state,
};

use crate::{FirmwareId, GroupId, JobId, Millis, ProductKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Verification batch or update batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobType {
    VerifyFirmware,
    UpgradeFirmware,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            JobType::VerifyFirmware => "VERIFY_FIRMWARE",
            JobType::UpgradeFirmware => "UPGRADE_FIRMWARE",
        }
    }
}

/// Static batches target a fixed set chosen at creation; dynamic batches keep adding
/// devices that match while the policy is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelectionType {
    Static,
    Dynamic,
}

impl SelectionType {
    pub fn as_str(self) -> &'static str {
        match self {
            SelectionType::Static => "STATIC",
            SelectionType::Dynamic => "DYNAMIC",
        }
    }
}

/// How the target devices are chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetSelection {
    /// Every device of the product (filtered by source versions).
    All,
    /// Named devices.
    Specific { device_names: Vec<String> },
    /// A share of the product's devices: floor(n * percent / 100), at least 1.
    /// The percentage is kept as thousandths of a percent (33.333% = 33_333).
    Gray { milli_percent: u32 },
    /// The members of a group.
    Group { group_id: GroupId },
}

impl TargetSelection {
    pub fn as_str(&self) -> &'static str {
        match self {
            TargetSelection::All => "ALL",
            TargetSelection::Specific { .. } => "SPECIFIC",
            TargetSelection::Gray { .. } => "GRAY",
            TargetSelection::Group { .. } => "GROUP",
        }
    }
}

/// Dynamic batch mode: keep checking every device (1) or only devices that newly report (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DynamicMode {
    KeepChecking,
    OnlyNewReports,
}

/// Whether a new task may replace a device's pending task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverwriteMode {
    /// Leave the device's existing unfinished task alone (Aliyun `1`).
    Keep,
    /// Cancel a pending (CONFIRM/QUEUED/NOTIFIED) task and take its place (Aliyun `2`).
    Overwrite,
}

/// How devices fetch the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DownloadProtocol {
    Https,
    Mqtt,
}

/// A step of a variable push rate: from `at` on, push at most `per_minute` devices a minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateStep {
    pub at: Millis,
    pub per_minute: u32,
}

/// Re-push after a failure: wait `interval_minutes`, at most `count` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub interval_minutes: u32,
    pub count: u32,
}

/// Everything that governs how a batch's tasks move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPolicy {
    /// Pushes per minute (10..=10,000 on the Aliyun API).
    pub maximum_per_minute: u32,
    /// Optional schedule of rate changes over time; the latest step at or before now wins.
    pub rate_steps: Vec<RateStep>,
    pub retry: Option<RetryPolicy>,
    /// Counted from the device's first progress report.
    pub timeout_minutes: Option<u32>,
    pub need_push: bool,
    pub need_confirm: bool,
    pub overwrite_mode: OverwriteMode,
    pub multi_module_mode: bool,
    pub download_protocol: DownloadProtocol,
    pub dynamic_mode: Option<DynamicMode>,
    pub schedule_time: Option<Millis>,
    pub schedule_finish_time: Option<Millis>,
    /// Pause or cancel the batch when too many of its devices fail (see `gate.rs`).
    #[serde(default)]
    pub failure_gate: Option<FailureGate>,
    /// Start at a base rate and raise it as devices are notified or succeed (`ramp.rs`).
    #[serde(default)]
    pub exponential_rate: Option<ExponentialRate>,
    /// Start devices only inside one of these windows (`window.rs`); none: any time.
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// Created paused until someone allowed to approve it does (or denies it).
    #[serde(default)]
    pub approval_required: bool,
}

impl Default for JobPolicy {
    fn default() -> Self {
        Self {
            maximum_per_minute: 10_000,
            rate_steps: Vec::new(),
            retry: None,
            timeout_minutes: None,
            need_push: true,
            need_confirm: false,
            overwrite_mode: OverwriteMode::Keep,
            multi_module_mode: false,
            download_protocol: DownloadProtocol::Https,
            dynamic_mode: None,
            schedule_time: None,
            schedule_finish_time: None,
            failure_gate: None,
            exponential_rate: None,
            maintenance_windows: Vec::new(),
            approval_required: false,
        }
    }
}

impl JobPolicy {
    /// The push rate in force at `now` with `notified` devices notified and `succeeded`
    /// updated: the stepped rate, lowered by the exponential ramp while it climbs.
    pub fn rate_now(&self, now: Millis, notified: u64, succeeded: u64) -> u32 {
        let ceiling = self.rate_at(now);
        self.exponential_rate
            .map_or(ceiling, |ramp| ramp.rate(ceiling, notified, succeeded))
    }

    /// The push rate in force at `now`, before any ramp.
    pub fn rate_at(&self, now: Millis) -> u32 {
        self.rate_steps
            .iter()
            .filter(|s| s.at <= now)
            .max_by_key(|s| s.at)
            .map_or(self.maximum_per_minute, |s| s.per_minute)
    }
}

/// Batch status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobStatus {
    Planned,
    InProgress,
    Completed,
    Canceled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Planned => "PLANNED",
            JobStatus::InProgress => "IN_PROGRESS",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "PLANNED" => JobStatus::Planned,
            "IN_PROGRESS" => JobStatus::InProgress,
            "COMPLETED" | "COMPLETE" => JobStatus::Completed,
            "CANCELED" => JobStatus::Canceled,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Canceled)
    }
}

/// A batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub job_id: JobId,
    pub firmware_id: FirmwareId,
    pub product_key: ProductKey,
    pub job_type: JobType,
    pub selection_type: SelectionType,
    pub target_selection: TargetSelection,
    /// Only devices currently at one of these versions (empty = any).
    pub src_versions: Vec<String>,
    pub policy: JobPolicy,
    /// Batch tags, delivered in the push's `extData`.
    pub tags: BTreeMap<String, String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: JobStatus,
    pub created_at: Millis,
    pub modified_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// Paused or not, and what the failure gate already judged.
    pub control: JobControl,
    /// How far creating its tasks got (`job::creation`); `None` for batches stored before
    /// creation was recorded.
    pub creation: Option<Creation>,
    /// The rollout wave this batch runs, if it is one (`crate::rollout`).
    #[serde(default)]
    pub wave: Option<crate::rollout::WaveLink>,
}

#[cfg(test)]
mod tests;
