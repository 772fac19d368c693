//! Batches: creation, the list, one batch, cancel, pause and resume, and changes to a
//! running batch.

use super::policy_json::{
    BatchPolicyJson, ExponentialRateJson, FailureGateJson, MaintenanceWindowJson, RateStepJson,
    TagInput, tag_pairs,
};
use crate::authz::Caller;
use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_core::JobRequest;
use ota_domain::job::{CancelOptions, JobEvent, RateUpdate, WindowState, window_state};
use ota_domain::task::TaskStatus;
use ota_domain::validate::{
    self, DynamicJobRequest, RateStepInput, StaticJobRequest, VerifyJobRequest,
};
use ota_domain::{FirmwareId, JobId, ProductKey};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new batch with what its creation did so far (all of it unless `creation.creating`).
#[derive(Serialize, ToSchema)]
pub struct JobCreated {
    #[serde(flatten)]
    pub job: views::JobView,
    pub tasks_created: u64,
    /// Eligible devices left out: they have an unfinished task that may not be replaced.
    pub devices_busy: u64,
    /// Pending tasks of other batches cancelled (OVERWRITTEN) to make room.
    pub tasks_overwritten: u64,
}

/// A batch with its task counts.
#[derive(Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: views::JobView,
    pub counts: views::CountsView,
    /// The push rate in force now (steps and ramp applied).
    pub rate_per_minute_now: u32,
    /// For a batch with maintenance windows: whether one is open now.
    pub window: Option<views::WindowStateView>,
    /// Why devices that could be started are waiting, when something holds them.
    pub waiting: Option<String>,
}

/// `POST /api/v1/firmwares/{id}/jobs`. Field names follow the Aliyun parameters in
/// snake case; `kind` picks the operation.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// `verify`, `static` (default) or `dynamic`.
    kind: Option<String>,
    product_key: Option<String>,
    target_selection: Option<String>,
    #[serde(default)]
    src_versions: Vec<String>,
    #[serde(default)]
    device_names: Vec<String>,
    device_list_url: Option<String>,
    gray_percent: Option<String>,
    group_id: Option<String>,
    group_type: Option<String>,
    schedule_time: Option<i64>,
    schedule_finish_time: Option<i64>,
    dynamic_mode: Option<i64>,
    retry_interval: Option<i64>,
    retry_count: Option<i64>,
    timeout_minutes: Option<i64>,
    maximum_per_minute: Option<i64>,
    #[serde(default)]
    rate_steps: Vec<RateStepJson>,
    need_push: Option<bool>,
    need_confirm: Option<bool>,
    overwrite_mode: Option<i64>,
    multi_module_mode: Option<bool>,
    download_protocol: Option<String>,
    #[serde(default)]
    tags: Vec<TagInput>,
    failure_gate: Option<FailureGateJson>,
    exponential_rate: Option<ExponentialRateJson>,
    #[serde(default)]
    maintenance_windows: Vec<MaintenanceWindowJson>,
    /// Create the batch paused until someone allowed `iot:ApproveOTAJob` approves it
    /// (`POST /jobs/{id}/approve`) or someone allowed `iot:DenyOTAJob` denies it.
    approval_required: Option<bool>,
}

impl CreateJob {
    fn into_request(self) -> Result<JobRequest, ApiError> {
        let kind = self.kind.clone().unwrap_or_else(|| "static".to_owned());
        let params = BatchPolicyJson {
            retry_interval: self.retry_interval,
            retry_count: self.retry_count,
            timeout_minutes: self.timeout_minutes,
            maximum_per_minute: self.maximum_per_minute,
            rate_steps: self.rate_steps.clone(),
            need_push: self.need_push,
            need_confirm: self.need_confirm,
            overwrite_mode: self.overwrite_mode,
            multi_module_mode: self.multi_module_mode,
            download_protocol: self.download_protocol.clone(),
            tags: self.tags.clone(),
            failure_gate: self.failure_gate.clone(),
            exponential_rate: self.exponential_rate.clone(),
            maintenance_windows: self.maintenance_windows.clone(),
            approval_required: self.approval_required,
        }
        .into_params();
        if kind == "verify"
            && (self.exponential_rate.is_some() || !self.maintenance_windows.is_empty())
        {
            return Err(ApiError::invalid(
                if self.exponential_rate.is_some() {
                    "exponential_rate"
                } else {
                    "maintenance_windows"
                },
                "applies to static and dynamic batches, not to verification",
            ));
        }
        if kind == "verify" && self.failure_gate.is_some() {
            return Err(ApiError::invalid(
                "failure_gate",
                "applies to static and dynamic batches, not to verification",
            ));
        }
        Ok(match kind.as_str() {
            "verify" => JobRequest::Verify(VerifyJobRequest {
                target_device_names: self.device_names,
                timeout_in_minutes: self.timeout_minutes,
                need_confirm: self.need_confirm,
                need_push: self.need_push,
                download_protocol: self.download_protocol,
                tags: tag_pairs(self.tags),
            }),
            "static" => JobRequest::Static(StaticJobRequest {
                target_selection: self.target_selection,
                src_versions: self.src_versions,
                target_device_names: self.device_names,
                dn_list_file_url: self.device_list_url,
                gray_percent: self.gray_percent,
                group_id: self.group_id,
                group_type: self.group_type,
                schedule_time: self.schedule_time,
                schedule_finish_time: self.schedule_finish_time,
                params,
            }),
            "dynamic" => JobRequest::Dynamic(DynamicJobRequest {
                src_versions: self.src_versions,
                group_id: self.group_id,
                group_type: self.group_type,
                dynamic_mode: self.dynamic_mode,
                params,
            }),
            _ => {
                return Err(ApiError::invalid(
                    "kind",
                    "must be verify, static or dynamic",
                ));
            }
        })
    }
}

/// Create a verify, static or dynamic batch
#[utoipa::path(
    post,
    path = "/firmwares/{firmware_id}/jobs",
    tag = "jobs",
    params(("firmware_id" = String, Path)),
    request_body = CreateJob,
    responses(
        (status = 201, description = "Created", body = JobCreated),
        ErrorResponses,
    ),
)]
pub async fn create_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateJob>,
) -> ApiResult<(StatusCode, Json<JobCreated>)> {
    let pk = req.product_key.clone().map(ProductKey);
    let request = req.into_request()?;
    let job = s
        .core
        .jobs()
        .create(&FirmwareId(id), pk.as_ref(), request)
        .await?;
    let created = job.creation.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(JobCreated {
            job: views::job(&job),
            tasks_created: created.created,
            devices_busy: created.skipped_busy,
            tasks_overwritten: created.overwritten,
        }),
    ))
}

/// List a package's batches
#[utoipa::path(
    get,
    path = "/firmwares/{firmware_id}/jobs",
    tag = "jobs",
    params(("firmware_id" = String, Path), PageQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::JobView>),
        ErrorResponses,
    ),
)]
pub async fn list_jobs(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<views::JobView>>> {
    let page = q.page()?;
    let (items, total) = s.core.jobs().of_firmware(&FirmwareId(id), page).await?;
    Ok(Json(Paged::new(
        items.iter().map(views::job).collect(),
        total,
        page,
    )))
}

/// A batch with task counts by state and reason
#[utoipa::path(
    get,
    path = "/jobs/{job_id}",
    tag = "jobs",
    params(("job_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = JobDetail),
        ErrorResponses,
    ),
)]
pub async fn get_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<JobDetail>> {
    let id = JobId(id);
    let job = s.core.jobs().get(&id).await?;
    let counts = s.core.jobs().counts(&id).await?;
    let now = s.core.now();
    let window = window_state(&job.policy.maintenance_windows, now);
    let succeeded = counts.status(TaskStatus::Succeeded).max(0) as u64;
    let waiting = match window {
        WindowState::Closed { next_opens_at } => Some(match next_opens_at {
            Some(at) => format!(
                "waiting for a maintenance window; the next opens at {}",
                crate::aliyun::utc_text(at)
            ),
            None => "waiting for a maintenance window; none opens again".to_owned(),
        }),
        _ => None,
    };
    Ok(Json(JobDetail {
        job: views::job(&job),
        counts: views::counts(&counts),
        rate_per_minute_now: job.policy.rate_now(now, counts.notified(), succeeded),
        window: views::window_state(window),
        waiting,
    }))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CancelJob {
    #[serde(default)]
    cancel_in_progress: bool,
    #[serde(default)]
    cancel_queued: bool,
    #[serde(default)]
    cancel_notified: bool,
    #[serde(default)]
    cancel_scheduled: bool,
    cancel_unconfirmed: Option<bool>,
    /// Shorthand: cancel every unfinished task.
    #[serde(default)]
    all: bool,
}

/// Cancel a batch, choosing which task states to cancel
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/cancel",
    tag = "jobs",
    params(("job_id" = String, Path)),
    request_body = CancelJob,
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn cancel_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CancelJob>,
) -> ApiResult<Json<views::JobView>> {
    let options = if req.all {
        CancelOptions::everything()
    } else {
        CancelOptions {
            cancel_in_progress: req.cancel_in_progress,
            cancel_queued: req.cancel_queued,
            cancel_notified: req.cancel_notified,
            cancel_scheduled: req.cancel_scheduled,
            cancel_unconfirmed: req.cancel_unconfirmed,
        }
    };
    let job = s.core.jobs().cancel(&JobId(id), options).await?;
    Ok(Json(views::job(&job)))
}

/// Pause a batch: no new device is pushed; devices already told go on
///
/// Pauses a batch: no new device is pushed until it is resumed.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/pause",
    tag = "jobs",
    params(("job_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn pause_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<views::JobView>> {
    Ok(Json(views::job(&s.core.jobs().pause(&JobId(id)).await?)))
}

/// Resume a paused batch; its failure gate counts from now on
///
/// Resumes a paused batch.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/resume",
    tag = "jobs",
    params(("job_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn resume_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<views::JobView>> {
    Ok(Json(views::job(&s.core.jobs().resume(&JobId(id)).await?)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRemark {
    /// Why, at most 512 characters; kept with the decision.
    #[serde(default)]
    pub remark: String,
}

/// Approve a batch created requiring approval: it starts pushing
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/approve",
    tag = "jobs",
    params(("job_id" = String, Path)),
    request_body = ApprovalRemark,
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn approve_job(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ApprovalRemark>,
) -> ApiResult<Json<views::JobView>> {
    decide(&s, &caller, id, true, &req.remark).await
}

/// Deny a batch created requiring approval: it is cancelled with every task
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/deny",
    tag = "jobs",
    params(("job_id" = String, Path)),
    request_body = ApprovalRemark,
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn deny_job(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ApprovalRemark>,
) -> ApiResult<Json<views::JobView>> {
    decide(&s, &caller, id, false, &req.remark).await
}

/// Approves or denies as the calling user.
async fn decide(
    s: &AppState,
    caller: &Caller,
    id: String,
    approved: bool,
    remark: &str,
) -> ApiResult<Json<views::JobView>> {
    let job = s
        .core
        .jobs()
        .decide_approval(&JobId(id), approved, &caller.principal.user_name, remark)
        .await?;
    Ok(Json(views::job(&job)))
}

/// Stop a dynamic batch from adding devices
///
/// CancelOTAStrategyByJob: a dynamic batch stops adding devices.
#[utoipa::path(
    post,
    path = "/jobs/{job_id}/cancel-strategy",
    tag = "jobs",
    params(("job_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn cancel_strategy(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<views::JobView>> {
    let job = s
        .core
        .jobs()
        .apply_event(&JobId(id), JobEvent::StrategyCanceled)
        .await?;
    Ok(Json(views::job(&job)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct JobChange {
    maximum_per_minute: Option<i64>,
    rate_steps: Option<Vec<RateStepJson>>,
    tags: Option<Vec<TagInput>>,
    timeout_minutes: Option<i64>,
}

/// Change a running batch's rate, rate steps, tags or (dynamic) timeout
///
/// UpdateOTAJob: the rate, tags and (dynamic) timeout of a running batch.
#[utoipa::path(
    patch,
    path = "/jobs/{job_id}",
    tag = "jobs",
    params(("job_id" = String, Path)),
    request_body = JobChange,
    responses(
        (status = 200, description = "Success", body = views::JobView),
        ErrorResponses,
    ),
)]
pub async fn update_job(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<JobChange>,
) -> ApiResult<Json<views::JobView>> {
    let id = JobId(id);
    if let Some(rate) = req.maximum_per_minute {
        let rate = validate::maximum_per_minute(Some(rate))?;
        s.core
            .jobs()
            .apply_event(&id, JobEvent::UpdateRate(RateUpdate::Fixed(rate)))
            .await?;
    }
    if let Some(steps) = req.rate_steps {
        let steps = validate::rate_steps(
            steps
                .iter()
                .map(|s| RateStepInput {
                    at: s.at,
                    per_minute: s.per_minute,
                })
                .collect(),
        )?;
        s.core
            .jobs()
            .apply_event(&id, JobEvent::UpdateRate(RateUpdate::Steps(steps)))
            .await?;
    }
    if let Some(tags) = req.tags {
        let tags = validate::parse_tags("Tags", tag_pairs(tags))?;
        s.core
            .jobs()
            .apply_event(&id, JobEvent::UpdateTags(tags))
            .await?;
    }
    if let Some(minutes) = req.timeout_minutes {
        let minutes = validate::timeout_in_minutes(Some(minutes))?.unwrap_or_default();
        s.core
            .jobs()
            .apply_event(&id, JobEvent::UpdateTimeout(minutes))
            .await?;
    }
    Ok(Json(views::job(&s.core.jobs().get(&id).await?)))
}
