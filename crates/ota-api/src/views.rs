//! JSON shapes of the native API: one struct per view, serialized as the response and
//! described in the OpenAPI document from the same definition. Enum values use the same
//! stable strings as the store and the Aliyun API (`IN_PROGRESS`, `SHA256`), never Rust
//! variant names. Times are milliseconds since the Unix epoch.

use ota_domain::firmware::Firmware;
use ota_domain::job::Job;
use ota_domain::registry::{Device, Group, GroupKind, ModuleVersion, OtaModule, Product};
use ota_domain::task::{Task, TaskStatus};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// How a batch pushes and is controlled (`policy_views.rs`), reached through this module
/// like every other view.
pub use crate::policy_views::{
    ApprovalView, PauseView, PolicyView, WindowStateView, policy, window_state,
};

/// A list that is not paged.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Items<T> {
    pub fn new(items: Vec<T>) -> Self {
        Items { items }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub product_key: String,
    pub name: String,
    pub description: Option<String>,
    /// Only where the caller is shown the product's secret (creation and detail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_secret: Option<String>,
    /// Whether its devices may obtain their credentials by dynamic registration.
    pub dynamic_register: bool,
    /// How many devices registration without pre-registration (`regnwl`) may create.
    pub regnwl_quota: i64,
    /// Whether a device with a certificate from one of the product's CAs is created on its
    /// first connect.
    pub certificate_auto_create: bool,
    pub created_at: i64,
    pub modified_at: i64,
}

pub fn product(p: &Product, with_secret: bool) -> ProductView {
    ProductView {
        product_key: p.product_key.to_string(),
        name: p.product_name.clone(),
        description: p.description.clone(),
        product_secret: with_secret.then(|| p.product_secret.clone()),
        dynamic_register: p.dynamic_register,
        regnwl_quota: p.regnwl_quota,
        certificate_auto_create: p.certificate_auto_create,
        created_at: p.created_at,
        modified_at: p.modified_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub iot_id: String,
    pub product_key: String,
    pub device_name: String,
    pub nickname: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub online: bool,
    pub last_online_at: Option<i64>,
    /// Disabled by an operator: refused at CONNECT until enabled again.
    pub disabled: bool,
    /// How and when the device obtained its credentials by dynamic registration (none:
    /// it did not, or it was reset since).
    pub registration: Option<RegistrationView>,
    pub created_at: i64,
    /// Only on registration and in the device's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_secret: Option<String>,
    /// The module versions the device reported; only in the device's detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<ModuleVersionView>>,
}

pub fn device(d: &Device, with_secret: bool) -> DeviceView {
    DeviceView {
        iot_id: d.iot_id.to_string(),
        product_key: d.product_key.to_string(),
        device_name: d.device_name.to_string(),
        nickname: d.nickname.clone(),
        tags: d.tags.clone(),
        online: d.online,
        last_online_at: d.last_online_at,
        disabled: d.disabled,
        registration: d.registration.as_ref().map(|r| RegistrationView {
            method: r.method.as_str(),
            registered_at: r.registered_at,
            client_id: r.client_id.clone(),
        }),
        created_at: d.created_at,
        device_secret: with_secret.then(|| d.device_secret.clone()),
        versions: None,
    }
}

/// A device's dynamic registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    /// `register` (MQTT, pre-registered), `regnwl` (MQTT, created on registration) or
    /// `https`.
    #[schema(value_type = String, example = "register")]
    pub method: &'static str,
    pub registered_at: i64,
    /// The MQTT client id issued with a connection token (`regnwl` only).
    pub client_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleVersionView {
    pub module: String,
    pub version: String,
    pub reported_at: i64,
}

pub fn module_version(m: &ModuleVersion) -> ModuleVersionView {
    ModuleVersionView {
        module: m.module_name.clone(),
        version: m.version.clone(),
        reported_at: m.reported_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModuleView {
    pub product_key: String,
    pub module_name: String,
    pub alias_name: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

pub fn module(m: &OtaModule) -> ModuleView {
    ModuleView {
        product_key: m.product_key.to_string(),
        module_name: m.module_name.clone(),
        alias_name: m.alias_name.clone(),
        description: m.description.clone(),
        created_at: m.created_at,
        modified_at: m.modified_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub group_id: String,
    pub name: String,
    pub product_key: Option<String>,
    pub description: Option<String>,
    /// `STATIC` (members added by name) or `DYNAMIC` (members matched by `filter`).
    pub kind: &'static str,
    /// A dynamic group's device filter (`name_prefix`, `tags`, …); null for a static group.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    pub created_at: i64,
}

pub fn group(g: &Group) -> GroupView {
    let (kind, filter) = match &g.kind {
        GroupKind::Static => ("STATIC", None),
        GroupKind::Dynamic { filter } => ("DYNAMIC", serde_json::to_value(filter).ok()),
    };
    GroupView {
        group_id: g.group_id.to_string(),
        name: g.group_name.clone(),
        product_key: g.product_key.as_ref().map(ToString::to_string),
        description: g.description.clone(),
        kind,
        filter,
        created_at: g.created_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareFileView {
    pub name: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    pub sign_value: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FirmwareView {
    pub firmware_id: String,
    pub product_key: String,
    pub name: String,
    pub description: Option<String>,
    pub module_name: String,
    /// 0 full package, 1 differential (Aliyun's `Type`).
    #[serde(rename = "type")]
    pub firmware_type: i32,
    pub src_version: Option<String>,
    pub dest_version: String,
    /// `MD5` or `SHA256`.
    pub sign_method: &'static str,
    /// Aliyun's verification status code: -1 not verified, 0 verifying, 1 verified, 2
    /// verification failed, 3 verification cancelled.
    pub status: i32,
    pub verify_progress: i32,
    pub udi: Option<String>,
    pub multi_file: bool,
    pub files: Vec<FirmwareFileView>,
    pub created_at: i64,
    pub modified_at: i64,
}

pub fn firmware(f: &Firmware) -> FirmwareView {
    FirmwareView {
        firmware_id: f.firmware_id.to_string(),
        product_key: f.product_key.to_string(),
        name: f.firmware_name.clone(),
        description: f.firmware_desc.clone(),
        module_name: f.module_name.clone(),
        firmware_type: f.firmware_type.code(),
        src_version: f.src_version.clone(),
        dest_version: f.dest_version.clone(),
        sign_method: f.sign_method.api_literal(),
        status: f.status.code(),
        verify_progress: f.verify_progress,
        udi: f.udi.clone(),
        multi_file: f.multi_file,
        files: f
            .files
            .iter()
            .map(|file| FirmwareFileView {
                name: file.name.clone(),
                size: file.size,
                md5: file.md5.clone(),
                sha256: file.sha256.clone(),
                sign_value: file.sign_value.clone(),
            })
            .collect(),
        created_at: f.created_at,
        modified_at: f.modified_at,
    }
}

/// How far creating a batch's tasks got. Until it is finished nothing is pushed, and the
/// batch does not start, complete or end by schedule, nor can it be cancelled.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreationView {
    /// Whether tasks are still being created.
    pub creating: bool,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub tasks_created: u64,
    /// Eligible devices left out: they have an unfinished task that may not be replaced.
    pub devices_busy: u64,
    /// Pending tasks of other batches cancelled (OVERWRITTEN) to make room.
    pub tasks_overwritten: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: String,
    pub firmware_id: String,
    pub product_key: String,
    /// `VERIFY_FIRMWARE` or `UPGRADE_FIRMWARE`.
    pub job_type: &'static str,
    /// `STATIC` or `DYNAMIC`.
    pub selection_type: &'static str,
    /// `ALL`, `SPECIFIC`, `GRAY` or `GROUP`.
    pub target_selection: &'static str,
    pub src_versions: Vec<String>,
    /// `PLANNED`, `IN_PROGRESS`, `COMPLETED` or `CANCELED`.
    pub status: &'static str,
    #[serde(flatten)]
    pub policy: PolicyView,
    pub schedule_time: Option<i64>,
    pub schedule_finish_time: Option<i64>,
    /// Created paused until approved (`pause.reason` AWAITING_APPROVAL until decided).
    pub approval_required: bool,
    /// Who approved or denied it, when and why.
    pub approval: Option<ApprovalView>,
    pub paused: bool,
    pub pause: Option<PauseView>,
    pub tags: BTreeMap<String, String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Absent for batches created before creation progress was recorded.
    pub creation: Option<CreationView>,
    /// The rollout wave this batch runs, if it is one.
    pub rollout: Option<WaveOfView>,
}

/// The rollout and wave (1-based) a batch runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaveOfView {
    pub rollout_id: String,
    pub wave: u32,
}

pub fn job(j: &Job) -> JobView {
    JobView {
        job_id: j.job_id.to_string(),
        firmware_id: j.firmware_id.to_string(),
        product_key: j.product_key.to_string(),
        job_type: j.job_type.as_str(),
        selection_type: j.selection_type.as_str(),
        target_selection: j.target_selection.as_str(),
        src_versions: j.src_versions.clone(),
        status: j.status.as_str(),
        policy: policy(&j.policy),
        schedule_time: j.policy.schedule_time,
        schedule_finish_time: j.policy.schedule_finish_time,
        approval_required: j.policy.approval_required,
        approval: j.control.approval.as_ref().map(|d| ApprovalView {
            approved: d.approved,
            by: d.by.clone(),
            remark: d.remark.clone(),
            at: d.at,
        }),
        paused: j.is_paused(),
        pause: j.control.pause.map(|p| PauseView {
            reason: p.reason.as_str(),
            at: p.at,
        }),
        tags: j.tags.clone(),
        name: j.name.clone(),
        description: j.description.clone(),
        created_at: j.created_at,
        started_at: j.started_at,
        finished_at: j.finished_at,
        creation: j.creation.map(|c| CreationView {
            creating: c.is_running(),
            started_at: c.started_at,
            finished_at: c.finished_at,
            tasks_created: c.created,
            devices_busy: c.skipped_busy,
            tasks_overwritten: c.overwritten,
        }),
        rollout: j.wave.as_ref().map(|w| WaveOfView {
            rollout_id: w.rollout_id.to_string(),
            wave: w.wave,
        }),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    pub task_id: String,
    pub job_id: String,
    pub firmware_id: String,
    pub product_key: String,
    pub device_name: String,
    pub module_name: String,
    pub src_version: Option<String>,
    pub dest_version: String,
    /// `CONFIRM`, `QUEUED`, `NOTIFIED`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED` or `CANCELED`.
    pub status: &'static str,
    /// What a QUEUED task waits for.
    pub queued_reason: Option<&'static str>,
    /// Why a FAILED task failed.
    pub failure: Option<&'static str>,
    /// Why a CANCELED task was cancelled.
    pub cancel_reason: Option<&'static str>,
    /// The device's last reported step: 0–100, or -1 to -4 for its failure codes.
    pub progress: i32,
    pub desc: Option<String>,
    pub retries_used: u32,
    pub retry_at: Option<i64>,
    pub timeout_at: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
}

pub fn task(t: &Task) -> TaskView {
    TaskView {
        task_id: t.task_id.to_string(),
        job_id: t.job_id.to_string(),
        firmware_id: t.firmware_id.to_string(),
        product_key: t.product_key.to_string(),
        device_name: t.device_name.to_string(),
        module_name: t.module_name.clone(),
        src_version: t.src_version.clone(),
        dest_version: t.dest_version.clone(),
        status: t.status.as_str(),
        queued_reason: t.queued_reason.map(|r| r.as_str()),
        failure: t.failure.map(|r| r.as_str()),
        cancel_reason: t.cancel_reason.map(|r| r.as_str()),
        progress: t.progress,
        desc: t.desc.clone(),
        retries_used: t.retries_used,
        retry_at: t.retry_at,
        timeout_at: t.timeout_at,
        created_at: t.created_at,
        modified_at: t.modified_at,
    }
}

/// QUEUED tasks of a batch by what they wait for.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedView {
    pub rate_limited: i64,
    pub offline: i64,
    pub scheduled: i64,
    pub retry_scheduled: i64,
    pub awaiting_pull: i64,
}

/// Task counts of a batch: by state, by failure and cancel reason, QUEUED by what it waits
/// for, and the success rate over finished tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    pub total: i64,
    /// Every task state, with 0 for the empty ones.
    pub by_status: BTreeMap<&'static str, i64>,
    pub failures: BTreeMap<&'static str, i64>,
    pub cancels: BTreeMap<&'static str, i64>,
    pub queued: QueuedView,
    /// SUCCEEDED over finished (SUCCEEDED, FAILED, CANCELED); null before any finished.
    pub success_rate: Option<f64>,
}

pub fn counts(c: &ota_core::JobCounts) -> CountsView {
    let succeeded = c.status(TaskStatus::Succeeded);
    let finished = succeeded + c.status(TaskStatus::Failed) + c.status(TaskStatus::Canceled);
    CountsView {
        total: c.total,
        by_status: TaskStatus::ALL
            .iter()
            .map(|s| (s.as_str(), c.status(*s)))
            .collect(),
        failures: c.failures.iter().map(|(r, n)| (r.as_str(), *n)).collect(),
        cancels: c.cancels.iter().map(|(r, n)| (r.as_str(), *n)).collect(),
        queued: QueuedView {
            rate_limited: c.queued.rate_limited,
            offline: c.queued.offline,
            scheduled: c.queued.scheduled,
            retry_scheduled: c.queued.retry_scheduled,
            awaiting_pull: c.queued.awaiting_pull,
        },
        success_rate: (finished > 0).then(|| succeeded as f64 / finished as f64),
    }
}

/// A server-generated delta of a package from one earlier version.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeltaView {
    pub src_version: String,
    pub src_firmware_id: String,
    /// `PENDING`, `RUNNING`, `READY`, `SKIPPED` (does not pay off) or `FAILED`.
    pub status: String,
    pub size: Option<i64>,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Generation progress, 0–100.
    pub progress: i64,
    /// Patch format version of a READY delta: a device gets it only if its SDK reads it.
    pub format: Option<i64>,
    /// Bytes of memory a device needs to apply a READY delta; a device that announced
    /// less gets the full package instead.
    pub apply_memory: Option<i64>,
}

pub fn delta(d: &ota_core::DeltaView) -> DeltaView {
    DeltaView {
        src_version: d.src_version.clone(),
        src_firmware_id: d.src_firmware_id.clone(),
        status: d.status.clone(),
        size: d.size,
        error: d.error.clone(),
        created_at: d.created_at,
        finished_at: d.finished_at,
        progress: d.progress,
        format: d.format,
        apply_memory: d.apply_memory,
    }
}

/// A package-signing key (public half only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    pub key_id: String,
    /// Base64 32-byte Ed25519 public key; give it to devices as a trusted key.
    pub public_key: String,
    pub created_at: i64,
    /// The key that signs new pushes.
    pub active: bool,
    /// A retired key: devices may keep trusting it until then.
    pub trusted_until: Option<i64>,
    /// Whether devices should trust it now (active, or retired within the overlap).
    pub trusted: bool,
}

pub fn signing_key(k: &ota_core::SigningKeyInfo) -> SigningKeyView {
    SigningKeyView {
        key_id: k.key_id.clone(),
        public_key: k.public_key.clone(),
        created_at: k.created_at,
        active: k.active,
        trusted_until: k.trusted_until,
        trusted: k.trusted,
    }
}
