//! How a new batch pushes, as the native API reads it: the JSON of its policy fields
//! (rate steps, tags, failure gate, exponential ramp, maintenance windows), shared by
//! batch creation (`jobs`) and a rollout's `policy` (`rollouts`), and turned into the raw
//! parameters the domain checks.

use ota_domain::job::{RampInput, WindowInput};
use ota_domain::validate::{FailureGateInput, RateStepInput, UpgradeParams};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct TagInput {
    key: Option<String>,
    value: Option<String>,
}

/// `failure_gate` of a new batch: pause or cancel it when more than `max_failed_percent`
/// of its finished tasks failed, once `min_finished` have finished.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct FailureGateJson {
    max_failed_percent: Option<i64>,
    min_finished: Option<i64>,
    action: Option<String>,
}

/// `exponential_rate`: start at `base_rate_per_minute` and multiply the rate by
/// `increment_factor` (1.1-5) each time `increase_criteria` is met again, never above
/// `maximum_per_minute` (or the stepped rate in force).
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ExponentialRateJson {
    pub base_rate_per_minute: Option<i64>,
    pub increment_factor: Option<f64>,
    pub increase_criteria: IncreaseCriteriaJson,
}

/// One of: every `notified_devices` devices pushed, or every `succeeded_devices` devices
/// updated.
#[derive(Deserialize, Serialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct IncreaseCriteriaJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notified_devices: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded_devices: Option<i64>,
}

/// A recurring maintenance window: devices are started only while one is open.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindowJson {
    /// Five-field cron expression of the window's start, e.g. `0 2 * * *`.
    pub cron: Option<String>,
    /// 1-10080.
    pub duration_minutes: Option<i64>,
    /// IANA time zone the cron expression is read in; default `UTC`.
    pub time_zone: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct RateStepJson {
    pub at: i64,
    pub per_minute: i64,
}

pub fn tag_pairs(tags: Vec<TagInput>) -> Vec<(Option<String>, Option<String>)> {
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

/// The batch policy of a rollout's waves (`policy` of `POST /firmwares/{id}/rollouts`):
/// the fields of a static batch that say how it pushes, with the same names and rules.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BatchPolicyJson {
    pub retry_interval: Option<i64>,
    pub retry_count: Option<i64>,
    pub timeout_minutes: Option<i64>,
    pub maximum_per_minute: Option<i64>,
    #[serde(default)]
    pub rate_steps: Vec<RateStepJson>,
    pub need_push: Option<bool>,
    pub need_confirm: Option<bool>,
    pub overwrite_mode: Option<i64>,
    pub multi_module_mode: Option<bool>,
    pub download_protocol: Option<String>,
    #[serde(default)]
    pub tags: Vec<TagInput>,
    pub failure_gate: Option<FailureGateJson>,
    pub exponential_rate: Option<ExponentialRateJson>,
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindowJson>,
    /// For a rollout: its first wave waits for approval.
    pub approval_required: Option<bool>,
}

impl BatchPolicyJson {
    /// The raw parameters the domain checks.
    pub fn into_params(self) -> UpgradeParams {
        UpgradeParams {
            retry_interval: self.retry_interval,
            retry_count: self.retry_count,
            timeout_in_minutes: self.timeout_minutes,
            maximum_per_minute: self.maximum_per_minute,
            rate_steps: self
                .rate_steps
                .iter()
                .map(|s| RateStepInput {
                    at: s.at,
                    per_minute: s.per_minute,
                })
                .collect(),
            need_push: self.need_push,
            need_confirm: self.need_confirm,
            overwrite_mode: self.overwrite_mode,
            multi_module_mode: self.multi_module_mode,
            download_protocol: self.download_protocol,
            tags: tag_pairs(self.tags),
            failure_gate: self.failure_gate.map(|g| FailureGateInput {
                max_failed_percent: g.max_failed_percent,
                min_finished: g.min_finished,
                action: g.action,
            }),
            exponential_rate: self.exponential_rate.map(|r| RampInput {
                base_rate_per_minute: r.base_rate_per_minute,
                increment_factor: r.increment_factor,
                notified_devices: r.increase_criteria.notified_devices,
                succeeded_devices: r.increase_criteria.succeeded_devices,
            }),
            maintenance_windows: self
                .maintenance_windows
                .into_iter()
                .map(|w| WindowInput {
                    cron: w.cron,
                    duration_minutes: w.duration_minutes,
                    time_zone: w.time_zone,
                })
                .collect(),
            approval_required: self.approval_required,
        }
    }
}
