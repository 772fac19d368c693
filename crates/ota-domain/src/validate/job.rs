//! Whole-request validation of the batch-creating operations (CreateOTAStaticUpgradeJob,
//! CreateOTADynamicUpgradeJob, CreateOTAVerifyJob).
//!
//! Requests hold the raw parameters; `validate` checks each rule, the rules across fields
//! (targeting modes, retry vs timeout, MQTT vs package shape) and the package's state, and
//! yields the pieces of a [`Job`]. Parameters that do not belong to the chosen targeting
//! mode are rejected rather than ignored, so a typo never silently widens a rollout.

use super::policy::{
    MAX_MQTT_FILE_BYTES, RateStepInput, download_protocol, dynamic_mode, maximum_per_minute,
    overwrite_mode, rate_steps, retry_policy, timeout_in_minutes,
};
use super::schedule::{schedule_finish_time, schedule_time};
use super::tags::parse_tags;
use super::target::{
    MAX_TARGET_DEVICE_NAMES, MAX_VERIFY_DEVICES, gray_percent, src_versions, target_device_names,
};
use crate::firmware::{Firmware, FirmwareStatus};
use crate::job::{
    Creation, DownloadProtocol, FailureGate, GateAction, Job, JobControl, JobPolicy, JobStatus,
    JobType, MAX_FAILED_PERCENT, SelectionType, TargetSelection,
};
use crate::{DomainError, ErrorCode, GroupId, JobId, Millis};
use std::collections::BTreeMap;

/// Fails with `FirmwareNotVerified` unless the package is verified or needs no verification.
pub fn check_firmware_usable_for_batch(firmware: &Firmware) -> Result<(), DomainError> {
    if firmware.status.allows_batches() {
        return Ok(());
    }
    Err(DomainError::new(
        ErrorCode::FirmwareNotVerified,
        Some("FirmwareId"),
        "the package must pass verification before an upgrade batch can use it",
    ))
}

/// Fails with `InvalidState` while the package is verifying or once it is verified.
pub fn check_firmware_verifiable(firmware: &Firmware) -> Result<(), DomainError> {
    match firmware.status {
        FirmwareStatus::Verifying | FirmwareStatus::Verified => Err(DomainError::new(
            ErrorCode::InvalidState,
            Some("FirmwareId"),
            "the package is already verifying or verified",
        )),
        _ => Ok(()),
    }
}

/// Rollout parameters shared by static and dynamic batches, raw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpgradeParams {
    pub retry_interval: Option<i64>,
    pub retry_count: Option<i64>,
    pub timeout_in_minutes: Option<i64>,
    pub maximum_per_minute: Option<i64>,
    /// Our extension: a variable push rate (not on the Aliyun API).
    pub rate_steps: Vec<RateStepInput>,
    pub need_push: Option<bool>,
    pub need_confirm: Option<bool>,
    pub overwrite_mode: Option<i64>,
    pub multi_module_mode: Option<bool>,
    pub download_protocol: Option<String>,
    /// `Tag.N.Key` / `Tag.N.Value` in parameter order.
    pub tags: Vec<(Option<String>, Option<String>)>,
    /// Our extension: stop the batch when too many devices fail.
    pub failure_gate: Option<FailureGateInput>,
    /// Our extension: an exponential ramp of the push rate.
    pub exponential_rate: Option<crate::job::RampInput>,
    /// Our extension: start devices only inside these windows.
    pub maintenance_windows: Vec<crate::job::WindowInput>,
    /// Our extension: the batch waits, paused, until someone approves it.
    pub approval_required: Option<bool>,
}

/// A failure gate as requested, raw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureGateInput {
    pub max_failed_percent: Option<i64>,
    pub min_finished: Option<i64>,
    pub action: Option<String>,
}

/// Finished tasks a gate waits for when the request does not say.
pub const DEFAULT_GATE_MIN_FINISHED: u32 = 10;

impl FailureGateInput {
    /// `max_failed_percent` 0..=100 (required), `min_finished` 1..=1,000,000 (default 10),
    /// `action` PAUSE (default) or CANCEL.
    pub fn validate(self) -> Result<FailureGate, DomainError> {
        let percent = self.max_failed_percent.ok_or_else(|| {
            DomainError::invalid(
                "FailureGate.MaxFailedPercent",
                "is required for a failure gate",
            )
        })?;
        let max_failed_percent = u8::try_from(percent)
            .ok()
            .filter(|p| *p <= MAX_FAILED_PERCENT)
            .ok_or_else(|| DomainError::invalid("FailureGate.MaxFailedPercent", "must be 0-100"))?;
        let min_finished = match self.min_finished {
            None => DEFAULT_GATE_MIN_FINISHED,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    DomainError::invalid("FailureGate.MinFinished", "must be 1-1000000")
                })?,
        };
        let action = match self.action.as_deref() {
            None => GateAction::Pause,
            Some(text) => GateAction::parse(text).ok_or_else(|| {
                DomainError::invalid("FailureGate.Action", "must be PAUSE or CANCEL")
            })?,
        };
        Ok(FailureGate {
            max_failed_percent,
            min_finished,
            action,
        })
    }
}

impl UpgradeParams {
    /// The batch policy and tags these parameters ask for.
    pub(crate) fn validate(
        self,
        firmware: &Firmware,
    ) -> Result<(JobPolicy, BTreeMap<String, String>), DomainError> {
        let timeout_minutes = timeout_in_minutes(self.timeout_in_minutes)?;
        let retry = retry_policy(self.retry_interval, self.retry_count, timeout_minutes)?;
        let multi_module_mode = self.multi_module_mode.unwrap_or(false);
        let policy = JobPolicy {
            maximum_per_minute: maximum_per_minute(self.maximum_per_minute)?,
            rate_steps: rate_steps(self.rate_steps)?,
            retry,
            timeout_minutes,
            need_push: self.need_push.unwrap_or(true),
            need_confirm: self.need_confirm.unwrap_or(false),
            overwrite_mode: overwrite_mode(self.overwrite_mode, multi_module_mode)?,
            multi_module_mode,
            download_protocol: protocol_for(self.download_protocol.as_deref(), firmware)?,
            failure_gate: self
                .failure_gate
                .map(FailureGateInput::validate)
                .transpose()?,
            exponential_rate: self
                .exponential_rate
                .map(|r| r.validate("ExponentialRate"))
                .transpose()?,
            maintenance_windows: crate::job::validate_windows(
                "MaintenanceWindows",
                self.maintenance_windows,
            )?,
            approval_required: self.approval_required.unwrap_or(false),
            ..JobPolicy::default()
        };
        Ok((policy, parse_tags("Tag", self.tags)?))
    }
}

/// MQTT download carries single-file packages of at most 16 MB only.
fn protocol_for(value: Option<&str>, firmware: &Firmware) -> Result<DownloadProtocol, DomainError> {
    let protocol = download_protocol(value)?;
    if protocol == DownloadProtocol::Mqtt {
        if firmware.multi_file || firmware.files.len() > 1 {
            return Err(DomainError::invalid(
                "DownloadProtocol",
                "MQTT supports single-file packages only",
            ));
        }
        if firmware
            .main_file()
            .is_some_and(|f| f.size > MAX_MQTT_FILE_BYTES)
        {
            return Err(DomainError::invalid(
                "DownloadProtocol",
                "MQTT supports packages of at most 16 MB",
            ));
        }
    }
    Ok(protocol)
}

/// A validated batch: everything of a [`Job`] but its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedJob {
    pub job_type: JobType,
    pub selection_type: SelectionType,
    /// For SPECIFIC via `DnListFileUrl` the names are empty: the caller fetches the file,
    /// runs [`super::parse_device_list_csv`] and fills them in.
    pub target_selection: TargetSelection,
    pub dn_list_file_url: Option<String>,
    /// As given. For a differential package devices at any version other than the
    /// package's SrcVersion are skipped whatever this says.
    pub src_versions: Vec<String>,
    pub policy: JobPolicy,
    pub tags: BTreeMap<String, String>,
    /// PLANNED with a ScheduleTime, otherwise IN_PROGRESS.
    pub status: JobStatus,
}

impl ValidatedJob {
    /// The batch as it is stored at creation.
    pub fn into_job(self, job_id: JobId, firmware: &Firmware, now: Millis) -> Job {
        let awaiting = self.policy.approval_required.then_some(crate::job::Pause {
            reason: crate::job::PauseReason::AwaitingApproval,
            at: now,
        });
        Job {
            job_id,
            firmware_id: firmware.firmware_id.clone(),
            product_key: firmware.product_key.clone(),
            job_type: self.job_type,
            selection_type: self.selection_type,
            target_selection: self.target_selection,
            src_versions: self.src_versions,
            policy: self.policy,
            tags: self.tags,
            name: None,
            description: None,
            status: self.status,
            created_at: now,
            modified_at: now,
            started_at: (self.status == JobStatus::InProgress).then_some(now),
            finished_at: None,
            control: JobControl {
                pause: awaiting,
                ..JobControl::default()
            },
            creation: Some(Creation::start(now)),
            wave: None,
        }
    }
}

/// Raw CreateOTAStaticUpgradeJob parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StaticJobRequest {
    pub target_selection: Option<String>,
    pub src_versions: Vec<String>,
    pub target_device_names: Vec<String>,
    pub dn_list_file_url: Option<String>,
    pub gray_percent: Option<String>,
    pub group_id: Option<String>,
    pub group_type: Option<String>,
    pub schedule_time: Option<i64>,
    pub schedule_finish_time: Option<i64>,
    pub params: UpgradeParams,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    All,
    Specific,
    Gray,
    Group,
}

impl StaticJobRequest {
    pub fn validate(self, firmware: &Firmware, now: Millis) -> Result<ValidatedJob, DomainError> {
        let kind = match self.target_selection.as_deref() {
            Some("ALL") => Kind::All,
            Some("SPECIFIC") => Kind::Specific,
            Some("GRAY") => Kind::Gray,
            Some("GROUP") => Kind::Group,
            Some(_) => {
                return Err(invalid(
                    "TargetSelection",
                    "must be ALL, SPECIFIC, GRAY or GROUP",
                ));
            }
            None => {
                return Err(invalid(
                    "TargetSelection",
                    "is required: ALL, SPECIFIC, GRAY or GROUP",
                ));
            }
        };
        if !self.src_versions.is_empty() && !matches!(kind, Kind::All | Kind::Gray) {
            return Err(invalid(
                "SrcVersion.1",
                "is only allowed with TargetSelection ALL or GRAY",
            ));
        }
        let src_versions = src_versions(self.src_versions, firmware)?;
        let file = self.dn_list_file_url.filter(|url| !url.is_empty());
        let names_given = !self.target_device_names.is_empty();
        for (field, given, allowed) in [
            ("TargetDeviceName.1", names_given, Kind::Specific),
            ("DnListFileUrl", file.is_some(), Kind::Specific),
            ("GrayPercent", self.gray_percent.is_some(), Kind::Gray),
            ("GroupId", self.group_id.is_some(), Kind::Group),
            ("GroupType", self.group_type.is_some(), Kind::Group),
        ] {
            if given && kind != allowed {
                let name = match allowed {
                    Kind::Specific => "SPECIFIC",
                    Kind::Gray => "GRAY",
                    _ => "GROUP",
                };
                return Err(invalid(
                    field,
                    &format!("is only allowed with TargetSelection {name}"),
                ));
            }
        }
        let target_selection = match kind {
            Kind::All => TargetSelection::All,
            Kind::Specific => match (names_given, &file) {
                (true, Some(_)) => {
                    return Err(invalid(
                        "DnListFileUrl",
                        "must not be given together with TargetDeviceName.N",
                    ));
                }
                (false, None) => {
                    return Err(invalid(
                        "TargetDeviceName",
                        "is required for SPECIFIC: give TargetDeviceName.N or DnListFileUrl",
                    ));
                }
                (true, None) => TargetSelection::Specific {
                    device_names: target_device_names(
                        self.target_device_names,
                        MAX_TARGET_DEVICE_NAMES,
                    )?,
                },
                (false, Some(_)) => TargetSelection::Specific {
                    device_names: Vec::new(),
                },
            },
            Kind::Gray => {
                let percent = self.gray_percent.ok_or_else(|| {
                    invalid("GrayPercent", "is required for TargetSelection GRAY")
                })?;
                TargetSelection::Gray {
                    milli_percent: gray_percent(&percent)?,
                }
            }
            Kind::Group => TargetSelection::Group {
                group_id: group(self.group_id, self.group_type, "LINK_PLATFORM")?,
            },
        };
        let schedule = schedule_time(self.schedule_time, now)?;
        let finish = schedule_finish_time(self.schedule_finish_time, schedule, now)?;
        let (mut policy, tags) = self.params.validate(firmware)?;
        policy.schedule_time = schedule;
        policy.schedule_finish_time = finish;
        check_firmware_usable_for_batch(firmware)?;
        Ok(ValidatedJob {
            job_type: JobType::UpgradeFirmware,
            selection_type: SelectionType::Static,
            target_selection,
            dn_list_file_url: file,
            src_versions,
            policy,
            tags,
            status: if schedule.is_some() {
                JobStatus::Planned
            } else {
                JobStatus::InProgress
            },
        })
    }
}

/// Raw CreateOTADynamicUpgradeJob parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DynamicJobRequest {
    pub src_versions: Vec<String>,
    pub group_id: Option<String>,
    pub group_type: Option<String>,
    pub dynamic_mode: Option<i64>,
    pub params: UpgradeParams,
}

impl DynamicJobRequest {
    /// Targets `SrcVersion.N` (stored as `All` plus versions) xor a dynamic group (stored
    /// as `Group`; QueryOTAJob reports both as ALL). `now` is unused today (dynamic batches
    /// have no schedule) and kept so the three requests validate alike.
    pub fn validate(self, firmware: &Firmware, _now: Millis) -> Result<ValidatedJob, DomainError> {
        let by_group = self.group_id.is_some() || self.group_type.is_some();
        let target_selection = match (!self.src_versions.is_empty(), by_group) {
            (true, true) => {
                return Err(invalid(
                    "GroupId",
                    "must not be given together with SrcVersion.N",
                ));
            }
            (false, false) => {
                return Err(invalid(
                    "SrcVersion",
                    "is required: a dynamic batch targets SrcVersion.N or GroupId with GroupType",
                ));
            }
            (true, false) => TargetSelection::All,
            (false, true) => TargetSelection::Group {
                group_id: group(self.group_id, self.group_type, "LINK_PLATFORM_DYNAMIC")?,
            },
        };
        let src_versions = src_versions(self.src_versions, firmware)?;
        let mode = dynamic_mode(self.dynamic_mode)?;
        let (mut policy, tags) = self.params.validate(firmware)?;
        policy.dynamic_mode = Some(mode);
        check_firmware_usable_for_batch(firmware)?;
        Ok(ValidatedJob {
            job_type: JobType::UpgradeFirmware,
            selection_type: SelectionType::Dynamic,
            target_selection,
            dn_list_file_url: None,
            src_versions,
            policy,
            tags,
            status: JobStatus::InProgress,
        })
    }
}

/// Raw CreateOTAVerifyJob parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyJobRequest {
    pub target_device_names: Vec<String>,
    pub timeout_in_minutes: Option<i64>,
    pub need_confirm: Option<bool>,
    pub need_push: Option<bool>,
    pub download_protocol: Option<String>,
    pub tags: Vec<(Option<String>, Option<String>)>,
}

impl VerifyJobRequest {
    /// 1–10 named devices; the package must not be verifying or verified. `now` is unused
    /// today (verify batches start at once) and kept so the three requests validate alike.
    pub fn validate(self, firmware: &Firmware, _now: Millis) -> Result<ValidatedJob, DomainError> {
        if self.target_device_names.is_empty() {
            return Err(invalid("TargetDeviceName", "is required: 1-10 devices"));
        }
        let device_names = target_device_names(self.target_device_names, MAX_VERIFY_DEVICES)?;
        let policy = JobPolicy {
            timeout_minutes: timeout_in_minutes(self.timeout_in_minutes)?,
            need_confirm: self.need_confirm.unwrap_or(false),
            need_push: self.need_push.unwrap_or(true),
            download_protocol: protocol_for(self.download_protocol.as_deref(), firmware)?,
            ..JobPolicy::default()
        };
        let tags = parse_tags("Tag", self.tags)?;
        check_firmware_verifiable(firmware)?;
        Ok(ValidatedJob {
            job_type: JobType::VerifyFirmware,
            selection_type: SelectionType::Static,
            target_selection: TargetSelection::Specific { device_names },
            dn_list_file_url: None,
            src_versions: Vec::new(),
            policy,
            tags,
            status: JobStatus::InProgress,
        })
    }
}

/// `GroupId` + `GroupType`: both required, the type exactly `expected`.
fn group(id: Option<String>, kind: Option<String>, expected: &str) -> Result<GroupId, DomainError> {
    let id = id
        .filter(|id| !id.is_empty())
        .ok_or_else(|| invalid("GroupId", "is required with GroupType"))?;
    match kind.as_deref() {
        Some(k) if k == expected => Ok(GroupId(id)),
        Some(_) => Err(invalid("GroupType", &format!("must be {expected}"))),
        None => Err(invalid(
            "GroupType",
            &format!("is required with GroupId and must be {expected}"),
        )),
    }
}

fn invalid(field: &str, rule: &str) -> DomainError {
    DomainError::invalid(field, rule)
}
