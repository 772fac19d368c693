//! JSON shapes of the native API. Enum values use the same stable strings as the store
//! and the Aliyun API (`IN_PROGRESS`, `SHA256`), never Rust variant names.

use ota_domain::firmware::Firmware;
use ota_domain::job::Job;
use ota_domain::registry::{Device, Group, GroupKind, ModuleVersion, OtaModule, Product};
use ota_domain::task::Task;
use serde_json::{Value, json};

pub fn product(p: &Product, with_secret: bool) -> Value {
    let mut v = json!({
        "product_key": p.product_key,
        "name": p.product_name,
        "description": p.description,
        "created_at": p.created_at,
        "modified_at": p.modified_at,
    });
    if with_secret {
        v["product_secret"] = json!(p.product_secret);
    }
    v
}

pub fn device(d: &Device, with_secret: bool) -> Value {
    let mut v = json!({
        "iot_id": d.iot_id,
        "product_key": d.product_key,
        "device_name": d.device_name,
        "nickname": d.nickname,
        "tags": d.tags,
        "online": d.online,
        "last_online_at": d.last_online_at,
        "created_at": d.created_at,
    });
    if with_secret {
        v["device_secret"] = json!(d.device_secret);
    }
    v
}

pub fn module_version(m: &ModuleVersion) -> Value {
    json!({"module": m.module_name, "version": m.version, "reported_at": m.reported_at})
}

pub fn module(m: &OtaModule) -> Value {
    json!({
        "product_key": m.product_key,
        "module_name": m.module_name,
        "alias_name": m.alias_name,
        "description": m.description,
        "created_at": m.created_at,
        "modified_at": m.modified_at,
    })
}

pub fn group(g: &Group) -> Value {
    let (kind, filter) = match &g.kind {
        GroupKind::Static => ("STATIC", Value::Null),
        GroupKind::Dynamic { filter } => ("DYNAMIC", json!(filter)),
    };
    json!({
        "group_id": g.group_id,
        "name": g.group_name,
        "product_key": g.product_key,
        "description": g.description,
        "kind": kind,
        "filter": filter,
        "created_at": g.created_at,
    })
}

pub fn firmware(f: &Firmware) -> Value {
    json!({
        "firmware_id": f.firmware_id,
        "product_key": f.product_key,
        "name": f.firmware_name,
        "description": f.firmware_desc,
        "module_name": f.module_name,
        "type": f.firmware_type.code(),
        "src_version": f.src_version,
        "dest_version": f.dest_version,
        "sign_method": f.sign_method.api_literal(),
        "status": f.status.code(),
        "verify_progress": f.verify_progress,
        "udi": f.udi,
        "multi_file": f.multi_file,
        "files": f.files.iter().map(|file| json!({
            "name": file.name,
            "size": file.size,
            "md5": file.md5,
            "sha256": file.sha256,
            "sign_value": file.sign_value,
        })).collect::<Vec<_>>(),
        "created_at": f.created_at,
        "modified_at": f.modified_at,
    })
}

pub fn job(j: &Job) -> Value {
    json!({
        "job_id": j.job_id,
        "firmware_id": j.firmware_id,
        "product_key": j.product_key,
        "job_type": j.job_type.as_str(),
        "selection_type": j.selection_type.as_str(),
        "target_selection": j.target_selection.as_str(),
        "src_versions": j.src_versions,
        "status": j.status.as_str(),
        "maximum_per_minute": j.policy.maximum_per_minute,
        "rate_steps": j.policy.rate_steps.iter().map(|s| json!({"at": s.at, "per_minute": s.per_minute})).collect::<Vec<_>>(),
        "retry_interval": j.policy.retry.map(|r| r.interval_minutes),
        "retry_count": j.policy.retry.map(|r| r.count),
        "timeout_minutes": j.policy.timeout_minutes,
        "need_push": j.policy.need_push,
        "need_confirm": j.policy.need_confirm,
        "schedule_time": j.policy.schedule_time,
        "schedule_finish_time": j.policy.schedule_finish_time,
        "failure_gate": j.policy.failure_gate.map(|g| json!({
            "max_failed_percent": g.max_failed_percent,
            "min_finished": g.min_finished,
            "action": g.action.as_str(),
        })),
        "paused": j.is_paused(),
        "pause": j.control.pause.map(|p| json!({"reason": p.reason.as_str(), "at": p.at})),
        "tags": j.tags,
        "name": j.name,
        "description": j.description,
        "created_at": j.created_at,
        "started_at": j.started_at,
        "finished_at": j.finished_at,
    })
}

pub fn task(t: &Task) -> Value {
    json!({
        "task_id": t.task_id,
        "job_id": t.job_id,
        "firmware_id": t.firmware_id,
        "product_key": t.product_key,
        "device_name": t.device_name,
        "module_name": t.module_name,
        "src_version": t.src_version,
        "dest_version": t.dest_version,
        "status": t.status.as_str(),
        "queued_reason": t.queued_reason.map(|r| r.as_str()),
        "failure": t.failure.map(|r| r.as_str()),
        "cancel_reason": t.cancel_reason.map(|r| r.as_str()),
        "progress": t.progress,
        "desc": t.desc,
        "retries_used": t.retries_used,
        "retry_at": t.retry_at,
        "timeout_at": t.timeout_at,
        "created_at": t.created_at,
        "modified_at": t.modified_at,
    })
}

/// Task counts of a batch: by state, by failure and cancel reason, QUEUED by what it waits
/// for, and the success rate over finished tasks.
pub fn counts(c: &ota_core::JobCounts) -> Value {
    use ota_domain::task::TaskStatus;
    let by_status: serde_json::Map<String, Value> = TaskStatus::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), json!(c.status(*s))))
        .collect();
    let failures: serde_json::Map<String, Value> = c
        .failures
        .iter()
        .map(|(r, n)| (r.as_str().to_owned(), json!(n)))
        .collect();
    let cancels: serde_json::Map<String, Value> = c
        .cancels
        .iter()
        .map(|(r, n)| (r.as_str().to_owned(), json!(n)))
        .collect();
    let succeeded = c.status(TaskStatus::Succeeded);
    let finished = succeeded + c.status(TaskStatus::Failed) + c.status(TaskStatus::Canceled);
    json!({
        "total": c.total,
        "by_status": by_status,
        "failures": failures,
        "cancels": cancels,
        "queued": {
            "rate_limited": c.queued.rate_limited,
            "offline": c.queued.offline,
            "scheduled": c.queued.scheduled,
            "retry_scheduled": c.queued.retry_scheduled,
            "awaiting_pull": c.queued.awaiting_pull,
        },
        "success_rate": if finished > 0 { json!(succeeded as f64 / finished as f64) } else { Value::Null },
    })
}
