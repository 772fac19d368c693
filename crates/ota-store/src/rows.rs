//! Decoding rows into domain values, and the column lists the queries select. Every query
//! that returns an entity selects exactly its `*_cols!()` list under the table alias shown
//! there, so each entity has one decoder.

use crate::{Result, StoreError};
use ota_domain::firmware::{Firmware, FirmwareStatus, FirmwareType, SignMethod};
use ota_domain::identity::RegistrationMethod;
use ota_domain::job::{Job, JobStatus, JobType, SelectionType};
use ota_domain::registry::{
    Device, Group, GroupKind, ModuleVersion, OtaModule, Product, Registration,
};
use ota_domain::task::{CancelReason, FailureReason, QueuedReason, Task, TaskStatus};
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! product_cols {
    () => {
        "p.product_key, p.product_name, p.product_secret, p.description, p.dynamic_register, \
         p.regnwl_quota, p.certificate_auto_create, p.created_at, p.modified_at"
    };
}
macro_rules! device_cols {
    () => {
        "d.id, d.iot_id, d.product_key, d.device_name, d.device_secret, d.nickname, d.online, \
         d.last_online_at, d.disabled, d.registered_via, d.registered_at, d.client_id, \
         d.created_at, d.modified_at"
    };
}
macro_rules! group_cols {
    () => {
        "g.group_id, g.group_name, g.product_key, g.description, g.kind, g.filter_json, \
         g.created_at"
    };
}
macro_rules! module_cols {
    () => {
        "m.product_key, m.module_name, m.alias_name, m.description, m.created_at, m.modified_at"
    };
}
macro_rules! firmware_cols {
    () => {
        "f.firmware_id, f.product_key, f.firmware_name, f.firmware_desc, f.module_name, \
         f.firmware_type, f.src_version, f.dest_version, f.sign_method, f.status, \
         f.verify_progress, f.udi, f.multi_file, f.files_json, f.created_at, f.modified_at"
    };
}
macro_rules! job_cols {
    () => {
        "j.job_id, j.firmware_id, j.product_key, j.job_type, j.selection_type, j.target_json, \
         j.src_versions_json, j.policy_json, j.tags_json, j.name, j.description, j.status, \
         j.created_at, j.modified_at, j.started_at, j.finished_at, j.control_json, \
         j.creation_json, j.wave_json"
    };
}
macro_rules! task_cols {
    () => {
        "t.task_id, t.job_id, t.firmware_id, t.product_key, t.device_name, t.module_name, \
         t.src_version, t.dest_version, t.status, t.queued_reason, t.failure, t.cancel_reason, \
         t.progress, t.description, t.retries_used, t.retry_at, t.timeout_at, t.started_at, \
         t.nudge_at, t.created_at, t.modified_at"
    };
}
pub(crate) use {
    device_cols, firmware_cols, group_cols, job_cols, module_cols, product_cols, task_cols,
};

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(StoreError::from)
}

fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(get::<i64>(row, col)? != 0)
}

fn small<T: TryFrom<i64>>(row: &AnyRow, col: &str) -> Result<T> {
    let v: i64 = get(row, col)?;
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} out of range: {v}")))
}

pub(crate) fn parse_or_corrupt<T>(
    row: &AnyRow,
    col: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T> {
    let s: String = get(row, col)?;
    parse(&s).ok_or_else(|| StoreError::Corrupt(format!("{col}: unknown value {s:?}")))
}

pub(crate) fn parse_opt_or_corrupt<T>(
    row: &AnyRow,
    col: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    match get::<Option<String>>(row, col)? {
        None => Ok(None),
        Some(s) => parse(&s)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("{col}: unknown value {s:?}"))),
    }
}

fn json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = get(row, col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

/// Encodes a value as stored JSON text.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("domain values serialize to JSON")
}

pub(crate) fn firmware_type_str(t: FirmwareType) -> &'static str {
    match t {
        FirmwareType::Full => "FULL",
        FirmwareType::Differential => "DIFFERENTIAL",
    }
}

fn parse_firmware_type(s: &str) -> Option<FirmwareType> {
    [FirmwareType::Full, FirmwareType::Differential]
        .into_iter()
        .find(|t| firmware_type_str(*t) == s)
}

fn parse_job_type(s: &str) -> Option<JobType> {
    [JobType::VerifyFirmware, JobType::UpgradeFirmware]
        .into_iter()
        .find(|t| t.as_str() == s)
}

fn parse_selection(s: &str) -> Option<SelectionType> {
    [SelectionType::Static, SelectionType::Dynamic]
        .into_iter()
        .find(|t| t.as_str() == s)
}

pub(crate) fn product(row: &AnyRow) -> Result<Product> {
    Ok(Product {
        product_key: get::<String>(row, "product_key")?.into(),
        product_name: get(row, "product_name")?,
        product_secret: get(row, "product_secret")?,
        description: get(row, "description")?,
        dynamic_register: flag(row, "dynamic_register")?,
        regnwl_quota: get(row, "regnwl_quota")?,
        certificate_auto_create: flag(row, "certificate_auto_create")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

/// A device row without its tags, with its surrogate id.
pub(crate) fn device(row: &AnyRow) -> Result<(i64, Device)> {
    Ok((
        get(row, "id")?,
        Device {
            iot_id: get::<String>(row, "iot_id")?.into(),
            product_key: get::<String>(row, "product_key")?.into(),
            device_name: get::<String>(row, "device_name")?.into(),
            device_secret: get(row, "device_secret")?,
            nickname: get(row, "nickname")?,
            tags: Default::default(),
            online: flag(row, "online")?,
            last_online_at: get(row, "last_online_at")?,
            disabled: flag(row, "disabled")?,
            registration: registration(row)?,
            created_at: get(row, "created_at")?,
            modified_at: get(row, "modified_at")?,
        },
    ))
}

/// The dynamic registration columns of a device row.
fn registration(row: &AnyRow) -> Result<Option<Registration>> {
    let Some(via) = get::<Option<String>>(row, "registered_via")? else {
        return Ok(None);
    };
    let method = RegistrationMethod::parse(&via)
        .ok_or_else(|| StoreError::Corrupt(format!("registered_via: unknown value {via:?}")))?;
    Ok(Some(Registration {
        method,
        registered_at: get::<Option<i64>>(row, "registered_at")?.unwrap_or_default(),
        client_id: get(row, "client_id")?,
    }))
}

/// Expects `product_key, device_name, module_name, version, reported_at, delta_formats,
/// delta_memory`.
pub(crate) fn module_version(row: &AnyRow) -> Result<ModuleVersion> {
    Ok(ModuleVersion {
        product_key: get::<String>(row, "product_key")?.into(),
        device_name: get::<String>(row, "device_name")?.into(),
        module_name: get(row, "module_name")?,
        version: get(row, "version")?,
        reported_at: get(row, "reported_at")?,
        delta_formats: get::<String>(row, "delta_formats")?
            .split(',')
            .filter_map(|v| v.parse().ok())
            .collect(),
        delta_memory: get::<Option<i64>>(row, "delta_memory")?.and_then(|m| u64::try_from(m).ok()),
    })
}

pub(crate) fn group(row: &AnyRow) -> Result<Group> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "STATIC" => GroupKind::Static,
        "DYNAMIC" => GroupKind::Dynamic {
            filter: json(row, "filter_json")?,
        },
        other => return Err(StoreError::Corrupt(format!("group kind {other:?}"))),
    };
    Ok(Group {
        group_id: get::<String>(row, "group_id")?.into(),
        group_name: get(row, "group_name")?,
        product_key: get::<Option<String>>(row, "product_key")?.map(Into::into),
        description: get(row, "description")?,
        kind,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn ota_module(row: &AnyRow) -> Result<OtaModule> {
    Ok(OtaModule {
        product_key: get::<String>(row, "product_key")?.into(),
        module_name: get(row, "module_name")?,
        alias_name: get(row, "alias_name")?,
        description: get(row, "description")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

pub(crate) fn firmware(row: &AnyRow) -> Result<Firmware> {
    let status: i64 = get(row, "status")?;
    Ok(Firmware {
        firmware_id: get::<String>(row, "firmware_id")?.into(),
        product_key: get::<String>(row, "product_key")?.into(),
        firmware_name: get(row, "firmware_name")?,
        firmware_desc: get(row, "firmware_desc")?,
        module_name: get(row, "module_name")?,
        firmware_type: parse_or_corrupt(row, "firmware_type", parse_firmware_type)?,
        src_version: get(row, "src_version")?,
        dest_version: get(row, "dest_version")?,
        sign_method: parse_or_corrupt(row, "sign_method", SignMethod::parse)?,
        status: i32::try_from(status)
            .ok()
            .and_then(FirmwareStatus::from_code)
            .ok_or_else(|| StoreError::Corrupt(format!("firmware status {status}")))?,
        verify_progress: small(row, "verify_progress")?,
        udi: get(row, "udi")?,
        multi_file: flag(row, "multi_file")?,
        files: json(row, "files_json")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

pub(crate) fn job(row: &AnyRow) -> Result<Job> {
    Ok(Job {
        job_id: get::<String>(row, "job_id")?.into(),
        firmware_id: get::<String>(row, "firmware_id")?.into(),
        product_key: get::<String>(row, "product_key")?.into(),
        job_type: parse_or_corrupt(row, "job_type", parse_job_type)?,
        selection_type: parse_or_corrupt(row, "selection_type", parse_selection)?,
        target_selection: json(row, "target_json")?,
        src_versions: json(row, "src_versions_json")?,
        policy: json(row, "policy_json")?,
        tags: json(row, "tags_json")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        status: parse_or_corrupt(row, "status", JobStatus::parse)?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
        started_at: get(row, "started_at")?,
        finished_at: get(row, "finished_at")?,
        control: json(row, "control_json")?,
        creation: get::<Option<String>>(row, "creation_json")?
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("creation_json: {e}")))
            })
            .transpose()?,
        wave: get::<Option<String>>(row, "wave_json")?
            .map(|s| {
                serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(format!("wave_json: {e}")))
            })
            .transpose()?,
    })
}

pub(crate) fn task(row: &AnyRow) -> Result<Task> {
    Ok(Task {
        task_id: get::<String>(row, "task_id")?.into(),
        job_id: get::<String>(row, "job_id")?.into(),
        firmware_id: get::<String>(row, "firmware_id")?.into(),
        product_key: get::<String>(row, "product_key")?.into(),
        device_name: get::<String>(row, "device_name")?.into(),
        module_name: get(row, "module_name")?,
        src_version: get(row, "src_version")?,
        dest_version: get(row, "dest_version")?,
        status: parse_or_corrupt(row, "status", TaskStatus::parse)?,
        queued_reason: parse_opt_or_corrupt(row, "queued_reason", QueuedReason::parse)?,
        failure: parse_opt_or_corrupt(row, "failure", FailureReason::parse)?,
        cancel_reason: parse_opt_or_corrupt(row, "cancel_reason", CancelReason::parse)?,
        progress: small(row, "progress")?,
        desc: get(row, "description")?,
        retries_used: small(row, "retries_used")?,
        retry_at: get(row, "retry_at")?,
        timeout_at: get(row, "timeout_at")?,
        started_at: get(row, "started_at")?,
        nudge_at: get(row, "nudge_at")?,
        created_at: get(row, "created_at")?,
        modified_at: get(row, "modified_at")?,
    })
}

/// Decodes every row with `f`.
pub(crate) fn all<T>(rows: &[AnyRow], f: impl Fn(&AnyRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}
