//! Rollouts: a package delivered in waves. Creation, the list, one rollout with its wave
//! timeline, and the operator's commands (pause, resume, cancel, start the next wave,
//! approve, deny).

use super::policy_json::BatchPolicyJson;
use crate::authz::Caller;
use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::rollout_views::{self, RolloutView};
use crate::state::AppState;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::rollout::{
    ErrorConditionInput, Rollout, RolloutRequest, SuccessConditionInput, WaveInput,
};
use ota_domain::{FirmwareId, ProductKey, RolloutId};
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/v1/firmwares/{id}/rollouts`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CreateRollout {
    /// Must be the package's product when given.
    product_key: Option<String>,
    name: Option<String>,
    description: Option<String>,
    /// Only devices at one of these versions (any when empty).
    #[serde(default)]
    src_versions: Vec<String>,
    /// How every wave's batch pushes; `approval_required` holds the first wave.
    #[serde(default)]
    policy: BatchPolicyJson,
    /// 1-20 waves, in order; each takes devices no earlier wave took.
    waves: Vec<WaveJson>,
}

/// One wave: exactly one of `percent`, `devices` and `group_id`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WaveJson {
    name: Option<String>,
    /// A share of the devices eligible when the rollout is created, as GrayPercent is
    /// written (`"5"`, `"12.5"`).
    percent: Option<String>,
    /// A number of devices.
    devices: Option<i64>,
    /// The members of a group.
    group_id: Option<String>,
    /// When the next wave starts: `succeeded_percent` of this wave's devices updated,
    /// once `min_finished` have finished. Default: every device, at least one finished.
    success_condition: Option<SuccessConditionJson>,
    /// When the rollout stops: up to 5 conditions, checked in order.
    #[serde(default)]
    error_conditions: Vec<ErrorConditionJson>,
    /// Minutes to wait after the success condition before the next wave (0-43200).
    soak_minutes: Option<i64>,
    /// The wave waits for someone allowed `iot:ApproveOTAJob` before it starts.
    approval_required: Option<bool>,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SuccessConditionJson {
    /// 1-100.
    succeeded_percent: Option<i64>,
    /// 1-1000000, capped at the wave's size.
    min_finished: Option<i64>,
}

/// Trips when more than `max_failed_percent` of the finished devices, or more than
/// `max_failed` devices, failed with one of `causes` (any when empty), once
/// `min_finished` finished since the rollout was last resumed.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ErrorConditionJson {
    /// `UPGRADE_FAILED`, `DOWNLOAD_FAILED`, `VERIFY_FAILED`, `BURN_FAILED`, `TIMEOUT`,
    /// `WRONG_VERSION`, `SCHEDULE_FINISHED`.
    #[serde(default)]
    causes: Vec<String>,
    max_failed_percent: Option<i64>,
    max_failed: Option<i64>,
    /// Default 10 with a percentage, 1 with a count.
    min_finished: Option<i64>,
    /// `PAUSE` (default) or `CANCEL`.
    action: Option<String>,
}

impl CreateRollout {
    fn into_request(self) -> RolloutRequest {
        RolloutRequest {
            name: self.name,
            description: self.description,
            src_versions: self.src_versions,
            params: self.policy.into_params(),
            waves: self
                .waves
                .into_iter()
                .map(|w| WaveInput {
                    name: w.name,
                    percent: w.percent,
                    devices: w.devices,
                    group_id: w.group_id,
                    success: w.success_condition.map(|s| SuccessConditionInput {
                        succeeded_percent: s.succeeded_percent,
                        min_finished: s.min_finished,
                    }),
                    errors: w
                        .error_conditions
                        .into_iter()
                        .map(|e| ErrorConditionInput {
                            causes: e.causes,
                            max_failed_percent: e.max_failed_percent,
                            max_failed: e.max_failed,
                            min_finished: e.min_finished,
                            action: e.action,
                        })
                        .collect(),
                    soak_minutes: w.soak_minutes,
                    approval_required: w.approval_required,
                })
                .collect(),
        }
    }
}

fn view(s: &AppState, r: &Rollout) -> Json<RolloutView> {
    Json(rollout_views::rollout(r, s.core.now()))
}

/// Create a rollout: a package delivered in waves
#[utoipa::path(
    post,
    path = "/firmwares/{firmware_id}/rollouts",
    tag = "rollouts",
    params(("firmware_id" = String, Path)),
    request_body = CreateRollout,
    responses(
        (status = 201, description = "Created; its first wave started or awaits approval", body = RolloutView),
        ErrorResponses,
    ),
)]
pub async fn create_rollout(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateRollout>,
) -> ApiResult<(StatusCode, Json<RolloutView>)> {
    let pk = req.product_key.clone().map(ProductKey);
    let rollout = s
        .core
        .rollouts()
        .create(&FirmwareId(id), pk.as_ref(), req.into_request())
        .await?;
    Ok((StatusCode::CREATED, view(&s, &rollout)))
}

/// List a package's rollouts
#[utoipa::path(
    get,
    path = "/firmwares/{firmware_id}/rollouts",
    tag = "rollouts",
    params(("firmware_id" = String, Path), PageQuery),
    responses(
        (status = 200, description = "Success", body = Paged<RolloutView>),
        ErrorResponses,
    ),
)]
pub async fn list_rollouts(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<RolloutView>>> {
    let page = q.page()?;
    let (items, total) = s.core.rollouts().of_firmware(&FirmwareId(id), page).await?;
    let now = s.core.now();
    Ok(Json(Paged::new(
        items
            .iter()
            .map(|r| rollout_views::rollout(r, now))
            .collect(),
        total,
        page,
    )))
}

/// A rollout with the timeline of its waves
#[utoipa::path(
    get,
    path = "/rollouts/{rollout_id}",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = RolloutView),
        ErrorResponses,
    ),
)]
pub async fn get_rollout(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RolloutView>> {
    Ok(view(&s, &s.core.rollouts().get(&RolloutId(id)).await?))
}

/// Pause a rollout and its running wave
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/pause",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn pause_rollout(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RolloutView>> {
    Ok(view(&s, &s.core.rollouts().pause(&RolloutId(id)).await?))
}

/// Resume a paused rollout; error conditions count from now on
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/resume",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn resume_rollout(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RolloutView>> {
    Ok(view(&s, &s.core.rollouts().resume(&RolloutId(id)).await?))
}

/// Cancel a rollout: its running wave's devices not yet started are cancelled
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/cancel",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn cancel_rollout(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RolloutView>> {
    Ok(view(&s, &s.core.rollouts().cancel(&RolloutId(id)).await?))
}

/// Start the next wave now, without waiting for the current one's success condition
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/next-wave",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn start_next_wave(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RolloutView>> {
    Ok(view(
        &s,
        &s.core.rollouts().start_next_wave(&RolloutId(id)).await?,
    ))
}

/// Approve the wave awaiting approval: its batch starts
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/approve",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    request_body = super::jobs::ApprovalRemark,
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn approve_rollout(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<super::jobs::ApprovalRemark>,
) -> ApiResult<Json<RolloutView>> {
    decide(&s, &caller, id, true, &req.remark).await
}

/// Deny the wave awaiting approval: the rollout is cancelled
#[utoipa::path(
    post,
    path = "/rollouts/{rollout_id}/deny",
    tag = "rollouts",
    params(("rollout_id" = String, Path)),
    request_body = super::jobs::ApprovalRemark,
    responses((status = 200, description = "Success", body = RolloutView), ErrorResponses),
)]
pub async fn deny_rollout(
    State(s): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<super::jobs::ApprovalRemark>,
) -> ApiResult<Json<RolloutView>> {
    decide(&s, &caller, id, false, &req.remark).await
}

async fn decide(
    s: &AppState,
    caller: &Caller,
    id: String,
    approved: bool,
    remark: &str,
) -> ApiResult<Json<RolloutView>> {
    let rollout = s
        .core
        .rollouts()
        .decide(
            &RolloutId(id),
            approved,
            &caller.principal.user_name,
            remark,
        )
        .await?;
    Ok(view(s, &rollout))
}
