//! Per-device tasks: ListOTATaskByJob, ListOTAUnfinishedTaskByDevice, CancelOTATaskByDevice,
//! ConfirmOTATask, ReupgradeOTATask.

use super::envelope::{paging, utc};
use super::{Answer, Ctx};
use ota_core::{CoreResult, id_list, paging as page_rule, unfinished_statuses};
use ota_core::{Page, TaskFilter};
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, DomainError, FirmwareId, JobId, ProductKey};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Why a task ended badly, in words (`TaskDesc`).
fn task_desc(t: &Task) -> Option<String> {
    if let Some(f) = t.failure {
        return Some(format!("failed: {}", f.as_str()));
    }
    if let Some(c) = t.cancel_reason {
        return Some(format!("canceled: {}", c.as_str()));
    }
    t.desc.clone()
}

/// Renders tasks with their devices' IotIds, product names and batch timeouts.
async fn render(ctx: &Ctx<'_>, tasks: &[Task], with_module: bool) -> CoreResult<Vec<Value>> {
    let iot_ids = ctx.core.registry().iot_ids_of(tasks).await?;
    let names = ctx
        .core
        .registry()
        .product_names(tasks.iter().map(|t| t.product_key.clone()).collect())
        .await?;
    let mut timeouts: BTreeMap<JobId, Option<u32>> = BTreeMap::new();
    for t in tasks {
        if !timeouts.contains_key(&t.job_id) {
            let job = ctx.core.jobs().get(&t.job_id).await?;
            timeouts.insert(t.job_id.clone(), job.policy.timeout_minutes);
        }
    }
    Ok(tasks
        .iter()
        .map(|t| {
            let key = DeviceKey {
                product_key: t.product_key.clone(),
                device_name: t.device_name.clone(),
            };
            let mut v = json!({
                "TaskId": t.task_id,
                "JobId": t.job_id,
                "FirmwareId": t.firmware_id,
                "IotId": iot_ids.get(&key),
                "ProductKey": t.product_key,
                "ProductName": names.get(&t.product_key),
                "DeviceName": t.device_name,
                "SrcVersion": t.src_version,
                "DestVersion": t.dest_version,
                "TaskStatus": t.status.as_str(),
                "UtcCreate": utc(t.created_at),
                "UtcModified": utc(t.modified_at),
            });
            if with_module {
                v["ModuleName"] = json!(t.module_name);
            } else {
                v["Progress"] = json!(t.progress.to_string());
                v["TaskDesc"] = json!(task_desc(t));
                v["Timeout"] = json!(
                    timeouts
                        .get(&t.job_id)
                        .copied()
                        .flatten()
                        .map(|m| m.to_string())
                );
            }
            v
        })
        .collect())
}

pub async fn list_by_job(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = JobId(p.required("JobId")?);
    let names = p.list("DeviceNames");
    let statuses = match p.get("TaskStatus").filter(|s| !s.is_empty()) {
        Some(s) => vec![TaskStatus::parse(s).ok_or_else(|| {
            DomainError::invalid(
                "TaskStatus",
                "must be CONFIRM, QUEUED, NOTIFIED, IN_PROGRESS, SUCCEEDED, FAILED or CANCELED",
            )
        })?],
        None => Vec::new(),
    };
    let page = if names.is_empty() {
        let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 100, true)?;
        if page.offset + page.limit > 100_000 {
            return Err(
                DomainError::invalid("CurrentPage", "x PageSize must be at most 100000").into(),
            );
        }
        page
    } else {
        Page::new(0, 50)
    };
    let device_names = if names.is_empty() {
        names
    } else {
        id_list("DeviceNames", names, 50)?
    };
    ctx.core.jobs().get(&id).await?;
    let filter = TaskFilter {
        job_id: Some(id),
        statuses,
        device_names,
        ..TaskFilter::default()
    };
    let (tasks, total) = ctx.core.jobs().list_tasks(&filter, page).await?;
    let list = render(ctx, &tasks, false).await?;
    let mut out = paging(page, total);
    out.insert("Data".into(), json!({ "SimpleOTATaskInfo": list }));
    Ok(Value::Object(out))
}

pub async fn unfinished_by_device(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let statuses = unfinished_statuses(p.get("TaskStatus"), &p.list("TaskStatusList"))?;
    let device = ctx
        .core
        .registry()
        .resolve_device(p.get("IotId"), p.get("ProductKey"), p.get("DeviceName"))
        .await?;
    let key = DeviceKey {
        product_key: device.product_key,
        device_name: device.device_name,
    };
    let module = p.get("ModuleName").filter(|m| !m.is_empty());
    let tasks = ctx
        .core
        .registry()
        .unfinished_tasks_of(&key, module, statuses)
        .await?;
    let list = render(ctx, &tasks, true).await?;
    Ok(json!({"Data": {"SimpleOTATaskInfo": list}}))
}

pub async fn cancel_by_device(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let pk = ProductKey(p.required("ProductKey")?);
    let firmware = FirmwareId(p.required("FirmwareId")?);
    let job = p.string("JobId").filter(|j| !j.is_empty()).map(JobId);
    ctx.core
        .tasks()
        .cancel_device_tasks(&pk, &firmware, p.list("DeviceName"), job.as_ref())
        .await?;
    Ok(json!({}))
}

pub async fn confirm(ctx: &Ctx<'_>) -> Answer {
    ctx.core
        .tasks()
        .confirm_task_ids(ctx.params.list("TaskId"))
        .await?;
    Ok(json!({}))
}

pub async fn reupgrade(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let job = JobId(p.required("JobId")?);
    ctx.core
        .tasks()
        .reupgrade_job_tasks(&job, p.list("TaskId"))
        .await?;
    Ok(json!({}))
}
