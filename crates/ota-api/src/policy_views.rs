//! How a batch pushes and how it is controlled, as the native API shows it: the batch
//! policy (rate, ramp, retries, timeout, failure gate, maintenance windows), whether a
//! maintenance window is open now, and a batch's pause and approval. Batches and
//! rollouts (every wave's policy) share these shapes; [`crate::views`] re-exports the
//! ones other modules name.

use ota_domain::job::{RampCriterion, WindowState};
use serde::Serialize;
use utoipa::ToSchema;

/// How a batch (or every wave of a rollout) pushes: rate, retries, timeout and rollout
/// controls.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    pub maximum_per_minute: u32,
    pub rate_steps: Vec<RateStepView>,
    pub retry_interval: Option<u32>,
    pub retry_count: Option<u32>,
    pub timeout_minutes: Option<u32>,
    pub need_push: bool,
    pub need_confirm: bool,
    pub failure_gate: Option<FailureGateView>,
    pub exponential_rate: Option<ExponentialRateView>,
    pub maintenance_windows: Vec<MaintenanceWindowView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateStepView {
    /// When the rate applies from.
    pub at: i64,
    pub per_minute: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureGateView {
    pub max_failed_percent: u8,
    pub min_finished: u32,
    /// `PAUSE` or `CANCEL`.
    pub action: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExponentialRateView {
    pub base_rate_per_minute: u32,
    pub increment_factor: f64,
    pub increase_criteria: IncreaseCriteriaView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IncreaseCriteriaView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified_devices: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded_devices: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceWindowView {
    pub cron: String,
    pub duration_minutes: u32,
    pub time_zone: String,
}

/// Whether the batch may start devices now, for a batch with maintenance windows.
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowStateView {
    pub open: bool,
    /// While open: when the open window closes (epoch ms).
    pub closes_at: Option<i64>,
    /// While closed: when the next window opens (epoch ms).
    pub next_opens_at: Option<i64>,
}

pub fn window_state(w: WindowState) -> Option<WindowStateView> {
    match w {
        WindowState::Always => None,
        WindowState::Open { closes_at } => Some(WindowStateView {
            open: true,
            closes_at: Some(closes_at),
            next_opens_at: None,
        }),
        WindowState::Closed { next_opens_at } => Some(WindowStateView {
            open: false,
            closes_at: None,
            next_opens_at,
        }),
    }
}

/// A batch policy as the API shows it.
pub fn policy(p: &ota_domain::job::JobPolicy) -> PolicyView {
    PolicyView {
        maximum_per_minute: p.maximum_per_minute,
        rate_steps: p
            .rate_steps
            .iter()
            .map(|s| RateStepView {
                at: s.at,
                per_minute: s.per_minute,
            })
            .collect(),
        retry_interval: p.retry.map(|r| r.interval_minutes),
        retry_count: p.retry.map(|r| r.count),
        timeout_minutes: p.timeout_minutes,
        need_push: p.need_push,
        need_confirm: p.need_confirm,
        failure_gate: p.failure_gate.map(|g| FailureGateView {
            max_failed_percent: g.max_failed_percent,
            min_finished: g.min_finished,
            action: g.action.as_str(),
        }),
        exponential_rate: p.exponential_rate.map(|r| ExponentialRateView {
            base_rate_per_minute: r.base_rate_per_minute,
            increment_factor: f64::from(r.increment_factor_milli) / 1000.0,
            increase_criteria: match r.criterion {
                RampCriterion::NotifiedDevices(n) => IncreaseCriteriaView {
                    notified_devices: Some(n),
                    succeeded_devices: None,
                },
                RampCriterion::SucceededDevices(n) => IncreaseCriteriaView {
                    notified_devices: None,
                    succeeded_devices: Some(n),
                },
            },
        }),
        maintenance_windows: p
            .maintenance_windows
            .iter()
            .map(|w| MaintenanceWindowView {
                cron: w.cron.clone(),
                duration_minutes: w.duration_minutes,
                time_zone: w.time_zone.clone(),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    pub approved: bool,
    /// The user who decided.
    pub by: String,
    pub remark: String,
    pub at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PauseView {
    /// `OPERATOR` or `FAILURE_GATE`.
    pub reason: &'static str,
    pub at: i64,
}
