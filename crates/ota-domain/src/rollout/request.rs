//! Checking a new rollout: its waves, their conditions, and the batch policy every wave
//! runs with (the same rules as a static batch's). Errors name the field the way the rest
//! of the API does (`Waves.2.SuccessCondition.SucceededPercent`, 1-based) and the rule.

use super::{
    ErrorCondition, Rollout, RolloutStatus, SuccessCondition, Wave, WavePhase, WavePlan, WaveState,
    WaveTarget,
};
use crate::firmware::Firmware;
use crate::job::{GateAction, JobPolicy};
use crate::task::FailureReason;
use crate::validate::UpgradeParams;
use crate::validate::target::{gray_percent, src_versions};
use crate::{DomainError, GroupId, Millis, RolloutId};
use std::collections::BTreeMap;

/// Most waves a rollout may have.
pub const MAX_WAVES: usize = 20;
/// Most error conditions per wave.
pub const MAX_ERROR_CONDITIONS: usize = 5;
/// Longest soak: 30 days.
pub const MAX_SOAK_MINUTES: u32 = 43_200;
const MAX_NAME_CHARS: usize = 64;
const MAX_DESCRIPTION_CHARS: usize = 256;
const MAX_COUNT: i64 = 10_000_000;
const MAX_MIN_FINISHED: i64 = 1_000_000;

/// A new rollout as requested, raw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub src_versions: Vec<String>,
    /// The batch policy of every wave. `approval_required` here means the first wave's.
    pub params: UpgradeParams,
    pub waves: Vec<WaveInput>,
}

/// One wave as requested: exactly one of `percent`, `devices` and `group_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaveInput {
    pub name: Option<String>,
    /// A share of the eligible devices, as GrayPercent is written (`"5"`, `"12.5"`).
    pub percent: Option<String>,
    pub devices: Option<i64>,
    pub group_id: Option<String>,
    pub success: Option<SuccessConditionInput>,
    pub errors: Vec<ErrorConditionInput>,
    pub soak_minutes: Option<i64>,
    pub approval_required: Option<bool>,
}

/// A success condition as requested, raw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuccessConditionInput {
    pub succeeded_percent: Option<i64>,
    pub min_finished: Option<i64>,
}

/// An error condition as requested, raw: exactly one of the two limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorConditionInput {
    /// Failure causes that count (`TIMEOUT`, `DOWNLOAD_FAILED`, …); none: any.
    pub causes: Vec<String>,
    pub max_failed_percent: Option<i64>,
    pub max_failed: Option<i64>,
    pub min_finished: Option<i64>,
    pub action: Option<String>,
}

/// A checked rollout: everything of a [`Rollout`] but its identity and eligible count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedRollout {
    pub name: Option<String>,
    pub description: Option<String>,
    pub src_versions: Vec<String>,
    pub policy: JobPolicy,
    pub tags: BTreeMap<String, String>,
    pub waves: Vec<WavePlan>,
}

impl RolloutRequest {
    /// Checks the request against its package.
    pub fn validate(self, firmware: &Firmware) -> Result<ValidatedRollout, DomainError> {
        crate::validate::check_firmware_usable_for_batch(firmware)?;
        let name = text("Name", self.name, MAX_NAME_CHARS)?;
        let description = text("Description", self.description, MAX_DESCRIPTION_CHARS)?;
        let src_versions = src_versions(self.src_versions, firmware)?;
        let (mut policy, tags) = self.params.validate(firmware)?;
        if self.waves.is_empty() || self.waves.len() > MAX_WAVES {
            return Err(DomainError::invalid(
                "Waves",
                format!("must have 1-{MAX_WAVES} waves"),
            ));
        }
        let mut waves = Vec::with_capacity(self.waves.len());
        for (i, wave) in self.waves.into_iter().enumerate() {
            waves.push(wave.validate(&format!("Waves.{}", i + 1))?);
        }
        let share: u64 = waves
            .iter()
            .map(|w| match w.target {
                WaveTarget::Percent { milli_percent } => u64::from(milli_percent),
                _ => 0,
            })
            .sum();
        if share > 100_000 {
            return Err(DomainError::invalid(
                "Waves",
                "the wave percentages add up to more than 100",
            ));
        }
        for (i, wave) in waves.iter().enumerate() {
            if let WaveTarget::Group { group_id } = &wave.target
                && waves[..i].iter().any(
                    |w| matches!(&w.target, WaveTarget::Group { group_id: g } if g == group_id),
                )
            {
                return Err(DomainError::invalid(
                    format!("Waves.{}.GroupId", i + 1),
                    "a group may be the target of one wave only",
                ));
            }
        }
        // Approval belongs to the rollout: asked of the policy, it holds the first wave.
        if std::mem::take(&mut policy.approval_required) {
            waves[0].approval_required = true;
        }
        Ok(ValidatedRollout {
            name,
            description,
            src_versions,
            policy,
            tags,
            waves,
        })
    }
}

impl ValidatedRollout {
    /// The rollout as stored at creation: its first wave awaits approval or is starting.
    pub fn into_rollout(
        self,
        rollout_id: RolloutId,
        firmware: &Firmware,
        eligible: u64,
        now: Millis,
    ) -> Rollout {
        let mut waves: Vec<Wave> = self
            .waves
            .into_iter()
            .map(|plan| Wave {
                plan,
                state: WaveState::default(),
            })
            .collect();
        waves[0].state.phase = if waves[0].plan.approval_required {
            WavePhase::AwaitingApproval
        } else {
            WavePhase::Starting
        };
        Rollout {
            rollout_id,
            firmware_id: firmware.firmware_id.clone(),
            product_key: firmware.product_key.clone(),
            name: self.name,
            description: self.description,
            src_versions: self.src_versions,
            policy: self.policy,
            tags: self.tags,
            waves,
            current: 0,
            status: RolloutStatus::Running,
            pause: None,
            eligible,
            created_at: now,
            modified_at: now,
            finished_at: None,
            version: 1,
        }
    }
}

impl WaveInput {
    fn validate(self, field: &str) -> Result<WavePlan, DomainError> {
        let given = [
            self.percent.is_some(),
            self.devices.is_some(),
            self.group_id.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(DomainError::invalid(
                field,
                "a wave takes exactly one of Percent, Devices and GroupId",
            ));
        }
        let target = if let Some(percent) = self.percent {
            let milli_percent = gray_percent(&percent)
                .map_err(|e| DomainError::invalid(format!("{field}.Percent"), e.message.clone()))?;
            WaveTarget::Percent { milli_percent }
        } else if let Some(devices) = self.devices {
            WaveTarget::Count {
                devices: bounded(&format!("{field}.Devices"), devices, 1, MAX_COUNT)?,
            }
        } else {
            let group_id = self.group_id.unwrap_or_default();
            if group_id.is_empty() || group_id.len() > 64 {
                return Err(DomainError::invalid(
                    format!("{field}.GroupId"),
                    "must be a group's id",
                ));
            }
            WaveTarget::Group {
                group_id: GroupId(group_id),
            }
        };
        let success = match self.success {
            None => SuccessCondition::default(),
            Some(s) => SuccessCondition {
                succeeded_percent: match s.succeeded_percent {
                    None => 100,
                    Some(p) => bounded(
                        &format!("{field}.SuccessCondition.SucceededPercent"),
                        p,
                        1,
                        100,
                    )? as u8,
                },
                min_finished: match s.min_finished {
                    None => 1,
                    Some(n) => bounded(
                        &format!("{field}.SuccessCondition.MinFinished"),
                        n,
                        1,
                        MAX_MIN_FINISHED,
                    )? as u32,
                },
            },
        };
        if self.errors.len() > MAX_ERROR_CONDITIONS {
            return Err(DomainError::invalid(
                format!("{field}.ErrorConditions"),
                format!("must have at most {MAX_ERROR_CONDITIONS} conditions"),
            ));
        }
        let errors = self
            .errors
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.validate(&format!("{field}.ErrorConditions.{}", i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let soak_minutes = match self.soak_minutes {
            None => 0,
            Some(m) => bounded(
                &format!("{field}.SoakMinutes"),
                m,
                0,
                i64::from(MAX_SOAK_MINUTES),
            )? as u32,
        };
        Ok(WavePlan {
            name: text(&format!("{field}.Name"), self.name, MAX_NAME_CHARS)?,
            target,
            success,
            errors,
            soak_minutes,
            approval_required: self.approval_required.unwrap_or(false),
        })
    }
}

impl ErrorConditionInput {
    fn validate(self, field: &str) -> Result<ErrorCondition, DomainError> {
        let mut causes = Vec::new();
        for (i, cause) in self.causes.iter().enumerate() {
            let reason = FailureReason::parse(cause).ok_or_else(|| {
                let known: Vec<&str> = FailureReason::ALL.iter().map(|r| r.as_str()).collect();
                DomainError::invalid(
                    format!("{field}.Causes.{}", i + 1),
                    format!("{cause:?} is not a failure cause; use one of {known:?}"),
                )
            })?;
            if !causes.contains(&reason) {
                causes.push(reason);
            }
        }
        let (max_failed_percent, max_failed) = match (self.max_failed_percent, self.max_failed) {
            (Some(p), None) => (
                Some(bounded(&format!("{field}.MaxFailedPercent"), p, 0, 100)? as u8),
                None,
            ),
            (None, Some(n)) => (
                None,
                Some(bounded(&format!("{field}.MaxFailed"), n, 0, MAX_COUNT)?),
            ),
            _ => {
                return Err(DomainError::invalid(
                    field,
                    "an error condition takes exactly one of MaxFailedPercent and MaxFailed",
                ));
            }
        };
        let default_min = if max_failed_percent.is_some() { 10 } else { 1 };
        let min_finished = match self.min_finished {
            None => default_min,
            Some(n) => bounded(&format!("{field}.MinFinished"), n, 1, MAX_MIN_FINISHED)? as u32,
        };
        let action = match self.action.as_deref() {
            None => GateAction::Pause,
            Some(a) => GateAction::parse(a).ok_or_else(|| {
                DomainError::invalid(format!("{field}.Action"), "must be PAUSE or CANCEL")
            })?,
        };
        Ok(ErrorCondition {
            causes,
            max_failed_percent,
            max_failed,
            min_finished,
            action,
        })
    }
}

/// `value` within `lo..=hi`, or an error naming `field` and the range.
fn bounded(field: &str, value: i64, lo: i64, hi: i64) -> Result<u64, DomainError> {
    if (lo..=hi).contains(&value) {
        Ok(value as u64)
    } else {
        Err(DomainError::invalid(field, format!("must be {lo}-{hi}")))
    }
}

/// Optional free text: trimmed, at most `max` characters, no control characters.
fn text(field: &str, value: Option<String>, max: usize) -> Result<Option<String>, DomainError> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters without control characters"),
        ));
    }
    Ok(Some(value))
}
