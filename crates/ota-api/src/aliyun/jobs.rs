//! Batches: CreateOTAVerifyJob, CreateOTAStaticUpgradeJob, CreateOTADynamicUpgradeJob,
//! UpdateOTAJob, QueryOTAJob, ListOTAJobByFirmware, ListOTAJobByDevice,
//! CancelOTAStrategyByJob, CancelOTATaskByJob.

use super::envelope::{paging, utc, utc_opt};
use super::params::Params;
use super::{Answer, Ctx};
use ota_core::{JobRequest, JobUpdate, paging as page_rule, reported_target_selection};
use ota_domain::job::{
    CancelOptions, DownloadProtocol, DynamicMode, Job, JobEvent, JobStatus, OverwriteMode,
    TargetSelection,
};
use ota_domain::validate::{
    DynamicJobRequest, StaticJobRequest, UpgradeParams, VerifyJobRequest, format_gray_percent,
};
use ota_domain::{DeviceKey, DomainError, FirmwareId, JobId, ProductKey};
use serde_json::{Value, json};

fn upgrade_params(p: &Params) -> Result<UpgradeParams, DomainError> {
    Ok(UpgradeParams {
        retry_interval: p.int("RetryInterval")?,
        retry_count: p.int("RetryCount")?,
        timeout_in_minutes: p.int("TimeoutInMinutes")?,
        maximum_per_minute: p.int("MaximumPerMinute")?,
        rate_steps: Vec::new(),
        need_push: p.bool("NeedPush")?,
        need_confirm: p.bool("NeedConfirm")?,
        overwrite_mode: p.int("OverwriteMode")?,
        multi_module_mode: p.bool("MultiModuleMode")?,
        download_protocol: p.string("DownloadProtocol"),
        tags: p.tags("Tag"),
        failure_gate: None,
        exponential_rate: None,
        maintenance_windows: Vec::new(),
        approval_required: None,
    })
}

async fn create(ctx: &Ctx<'_>, request: JobRequest) -> Answer {
    let p = ctx.params;
    let firmware = FirmwareId(p.required("FirmwareId")?);
    let pk = ProductKey(p.required("ProductKey")?);
    let job = ctx
        .core
        .jobs()
        .create(&firmware, Some(&pk), request)
        .await?;
    Ok(json!({"Data": {"JobId": job.job_id, "UtcCreate": utc(job.created_at)}}))
}

pub async fn create_verify(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let request = VerifyJobRequest {
        target_device_names: p.list("TargetDeviceName"),
        timeout_in_minutes: p.int("TimeoutInMinutes")?,
        need_confirm: p.bool("NeedConfirm")?,
        need_push: p.bool("NeedPush")?,
        download_protocol: p.string("DownloadProtocol"),
        tags: p.tags("Tag"),
    };
    create(ctx, JobRequest::Verify(request)).await
}

pub async fn create_static(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let request = StaticJobRequest {
        target_selection: p.string("TargetSelection"),
        src_versions: p.list("SrcVersion"),
        target_device_names: p.list("TargetDeviceName"),
        dn_list_file_url: p.string("DnListFileUrl"),
        gray_percent: p.string("GrayPercent"),
        group_id: p.string("GroupId"),
        group_type: p.string("GroupType"),
        schedule_time: p.int("ScheduleTime")?,
        schedule_finish_time: p.int("ScheduleFinishTime")?,
        params: upgrade_params(p)?,
    };
    create(ctx, JobRequest::Static(request)).await
}

pub async fn create_dynamic(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let request = DynamicJobRequest {
        src_versions: p.list("SrcVersion"),
        group_id: p.string("GroupId"),
        group_type: p.string("GroupType"),
        dynamic_mode: p.int("DynamicMode")?,
        params: upgrade_params(p)?,
    };
    create(ctx, JobRequest::Dynamic(request)).await
}

pub async fn update(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = JobId(p.required("JobId")?);
    let update = JobUpdate {
        upgrade_type: p.string("UpgradeType"),
        target_selection: p.string("TargetSelection"),
        maximum_per_minute: p.int("MaximumPerMinute")?,
        tags: p.tags("Tags"),
        timeout_in_minutes: p.int("TimeoutInMinutes")?,
        src_version_list: p.list("SrcVersionList"),
    };
    ctx.core.jobs().update(&id, update).await?;
    Ok(json!({}))
}

fn tags(job: &Job) -> Value {
    let list: Vec<Value> = job
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    json!({ "OtaTagDTO": list })
}

/// A batch whose tasks are still being created has not started pushing: Aliyun's word for
/// that is PLANNED, whatever it becomes once created.
fn aliyun_status(job: &Job) -> &'static str {
    if job.is_creating() {
        JobStatus::Planned.as_str()
    } else {
        job.status.as_str()
    }
}

/// The fields QueryOTAJob and the job lists share.
fn simple(job: &Job) -> Value {
    json!({
        "JobId": job.job_id,
        "FirmwareId": job.firmware_id,
        "ProductKey": job.product_key,
        "JobStatus": aliyun_status(job),
        "JobType": job.job_type.as_str(),
        "SelectionType": job.selection_type.as_str(),
        "TargetSelection": reported_target_selection(job),
        "Tags": tags(job),
        "UtcCreate": utc(job.created_at),
        "UtcModified": utc(job.modified_at),
        "UtcStartTime": utc_opt(job.started_at),
        "UtcEndTime": utc_opt(job.finished_at),
    })
}

pub async fn query(ctx: &Ctx<'_>) -> Answer {
    let id = JobId(ctx.params.required("JobId")?);
    let job = ctx.core.jobs().get(&id).await?;
    let firmware = ctx.core.firmwares().get(&job.firmware_id).await?;
    let policy = &job.policy;
    let mut data = simple(&job);
    let (gray, group) = match &job.target_selection {
        TargetSelection::Gray { milli_percent } => {
            (Some(format_gray_percent(*milli_percent)), None)
        }
        TargetSelection::Group { group_id } => (None, Some(group_id.clone())),
        _ => (None, None),
    };
    let group_name = match &group {
        Some(id) => ctx.core.registry().group_name(id).await?,
        None => None,
    };
    let extra = json!({
        "JobDesc": job.description,
        "Name": firmware.firmware_name,
        "DestVersion": firmware.dest_version,
        "SrcVersions": {"SrcVersion": job.src_versions},
        "GrayPercent": gray,
        "GroupId": group,
        "GroupName": group_name,
        "DynamicMode": policy.dynamic_mode.map(|m| match m {
            DynamicMode::KeepChecking => 1,
            DynamicMode::OnlyNewReports => 2,
        }),
        "DownloadProtocol": match policy.download_protocol {
            DownloadProtocol::Https => "HTTPS",
            DownloadProtocol::Mqtt => "MQTT",
        },
        "MaximumPerMinute": policy.maximum_per_minute,
        "MultiModuleMode": policy.multi_module_mode,
        "NeedConfirm": policy.need_confirm,
        "NeedPush": policy.need_push,
        "OverwriteMode": match policy.overwrite_mode {
            OverwriteMode::Keep => 1,
            OverwriteMode::Overwrite => 2,
        },
        "RetryCount": policy.retry.map(|r| r.count),
        "RetryInterval": policy.retry.map(|r| r.interval_minutes),
        "TimeoutInMinutes": policy.timeout_minutes,
        "UtcScheduleTime": utc_opt(policy.schedule_time),
        "UtcScheduleFinishTime": utc_opt(policy.schedule_finish_time),
    });
    if let (Value::Object(data), Value::Object(extra)) = (&mut data, extra) {
        data.extend(extra);
    }
    Ok(json!({ "Data": data }))
}

fn job_page(jobs: &[Job], page: ota_core::Page, total: i64) -> Answer {
    let list: Vec<Value> = jobs.iter().map(simple).collect();
    let mut out = paging(page, total);
    out.insert("Data".into(), json!({ "SimpleOTAJobInfo": list }));
    Ok(Value::Object(out))
}

pub async fn list_by_firmware(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = FirmwareId(p.required("FirmwareId")?);
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 200, true)?;
    ctx.core.firmwares().get(&id).await?;
    let (jobs, total) = ctx.core.jobs().of_firmware(&id, page).await?;
    job_page(&jobs, page, total)
}

pub async fn list_by_device(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let key = DeviceKey::new(p.required("ProductKey")?, p.required("DeviceName")?);
    let id = FirmwareId(p.required("FirmwareId")?);
    let page = page_rule(p.int("CurrentPage")?, p.int("PageSize")?, 100, true)?;
    let (jobs, total) = ctx.core.registry().jobs_of_device(&key, &id, page).await?;
    job_page(&jobs, page, total)
}

pub async fn cancel_strategy(ctx: &Ctx<'_>) -> Answer {
    let id = JobId(ctx.params.required("JobId")?);
    ctx.core
        .jobs()
        .apply_event(&id, JobEvent::StrategyCanceled)
        .await?;
    Ok(json!({}))
}

pub async fn cancel_tasks(ctx: &Ctx<'_>) -> Answer {
    let p = ctx.params;
    let id = JobId(p.required("JobId")?);
    let options = CancelOptions::from_params(
        p.bool("CancelInProgressTask")?,
        p.bool("CancelQueuedTask")?,
        p.bool("CancelNotifiedTask")?,
        p.bool("CancelScheduledTask")?,
        p.bool("CancelUnconfirmedTask")?,
    )?;
    ctx.core.jobs().cancel(&id, options).await?;
    Ok(json!({}))
}
