//! Rollouts as the native API and the console show them: the rollout, and a timeline of
//! its waves with what each targets, when it succeeds or fails, and where it stands.

use crate::views::{self, ApprovalView, PolicyView};
use ota_domain::Millis;
use ota_domain::rollout::{ErrorCondition, Rollout, Wave, WavePhase, WaveTarget};
use ota_domain::validate::target::format_gray_percent;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// A rollout.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolloutView {
    pub rollout_id: String,
    pub firmware_id: String,
    pub product_key: String,
    pub name: Option<String>,
    pub description: Option<String>,
    /// `RUNNING`, `PAUSED`, `COMPLETED` or `CANCELED`.
    pub status: &'static str,
    /// Why it is paused: `OPERATOR`, `ERROR_CONDITION` or `BELOW_SUCCESS`.
    pub pause_reason: Option<&'static str>,
    pub paused_at: Option<i64>,
    /// The wave it is at, from 1.
    pub current_wave: usize,
    /// Why it is not moving on right now, in words.
    pub waiting: Option<String>,
    /// Devices eligible when it was created: what wave percentages are of.
    pub eligible_devices: u64,
    pub src_versions: Vec<String>,
    /// The policy every wave's batch runs with.
    pub policy: PolicyView,
    pub tags: BTreeMap<String, String>,
    pub waves: Vec<WaveView>,
    pub created_at: i64,
    pub modified_at: i64,
    pub finished_at: Option<i64>,
}

/// One wave of a rollout.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaveView {
    /// Its number, from 1.
    pub wave: usize,
    pub name: Option<String>,
    /// A share of the eligible devices (as GrayPercent is written)...
    pub percent: Option<String>,
    /// ...or a number of devices...
    pub devices: Option<u64>,
    /// ...or a group's members.
    pub group_id: Option<String>,
    pub success_condition: SuccessConditionView,
    pub error_conditions: Vec<ErrorConditionView>,
    pub soak_minutes: u32,
    pub approval_required: bool,
    /// `PENDING`, `AWAITING_APPROVAL`, `STARTING`, `RUNNING`, `SOAKING`, `SUCCEEDED`,
    /// `FAILED`, `PASSED` (the next wave was started by hand) or `CANCELED`.
    pub phase: &'static str,
    /// Its batch, once started.
    pub job_id: Option<String>,
    pub started_at: Option<i64>,
    /// When its success condition was met.
    pub succeeded_at: Option<i64>,
    /// When its soak ends (while soaking).
    pub soak_ends_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub approval: Option<ApprovalView>,
    /// Its batch's counts when last observed.
    pub counts: WaveCountsView,
    /// Why it ended as it did.
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuccessConditionView {
    pub succeeded_percent: u8,
    pub min_finished: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorConditionView {
    /// Failure causes that count; empty: any.
    pub causes: Vec<&'static str>,
    pub max_failed_percent: Option<u8>,
    pub max_failed: Option<u64>,
    pub min_finished: u32,
    /// `PAUSE` or `CANCEL`.
    pub action: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WaveCountsView {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub unfinished: u64,
    /// FAILED tasks by cause.
    pub failed_by: BTreeMap<&'static str, u64>,
}

pub fn rollout(r: &Rollout, now: Millis) -> RolloutView {
    RolloutView {
        rollout_id: r.rollout_id.to_string(),
        firmware_id: r.firmware_id.to_string(),
        product_key: r.product_key.to_string(),
        name: r.name.clone(),
        description: r.description.clone(),
        status: r.status.as_str(),
        pause_reason: r.pause.map(|p| p.reason.as_str()),
        paused_at: r.pause.map(|p| p.at),
        current_wave: r.current + 1,
        waiting: r.waiting(now),
        eligible_devices: r.eligible,
        src_versions: r.src_versions.clone(),
        policy: views::policy(&r.policy),
        tags: r.tags.clone(),
        waves: r
            .waves
            .iter()
            .enumerate()
            .map(|(i, w)| wave(i, w))
            .collect(),
        created_at: r.created_at,
        modified_at: r.modified_at,
        finished_at: r.finished_at,
    }
}

fn wave(index: usize, w: &Wave) -> WaveView {
    let (plan, state) = (&w.plan, &w.state);
    let (mut percent, mut devices, mut group_id) = (None, None, None);
    match &plan.target {
        WaveTarget::Percent { milli_percent } => {
            percent = Some(format_gray_percent(*milli_percent))
        }
        WaveTarget::Count { devices: n } => devices = Some(*n),
        WaveTarget::Group { group_id: g } => group_id = Some(g.to_string()),
    }
    WaveView {
        wave: index + 1,
        name: plan.name.clone(),
        percent,
        devices,
        group_id,
        success_condition: SuccessConditionView {
            succeeded_percent: plan.success.succeeded_percent,
            min_finished: plan.success.min_finished,
        },
        error_conditions: plan.errors.iter().map(error_condition).collect(),
        soak_minutes: plan.soak_minutes,
        approval_required: plan.approval_required,
        phase: state.phase.as_str(),
        job_id: state.job_id.as_ref().map(ToString::to_string),
        started_at: state.started_at,
        succeeded_at: state.succeeded_at,
        soak_ends_at: (state.phase == WavePhase::Soaking)
            .then_some(state.succeeded_at)
            .flatten()
            .map(|at| at + Millis::from(plan.soak_minutes) * 60_000),
        finished_at: state.finished_at,
        approval: state.approval.as_ref().map(|d| ApprovalView {
            approved: d.approved,
            by: d.by.clone(),
            remark: d.remark.clone(),
            at: d.at,
        }),
        counts: WaveCountsView {
            total: state.counts.total,
            succeeded: state.counts.succeeded,
            failed: state.counts.failed,
            unfinished: state.counts.unfinished,
            failed_by: state
                .counts
                .failed_by
                .iter()
                .map(|(cause, n)| (cause.as_str(), *n))
                .collect(),
        },
        note: state.note.clone(),
    }
}

fn error_condition(c: &ErrorCondition) -> ErrorConditionView {
    ErrorConditionView {
        causes: c.causes.iter().map(|c| c.as_str()).collect(),
        max_failed_percent: c.max_failed_percent,
        max_failed: c.max_failed,
        min_finished: c.min_finished,
        action: c.action.as_str(),
    }
}
