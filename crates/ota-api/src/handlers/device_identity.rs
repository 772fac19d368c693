//! A device's identity: disable (optionally cancelling its unfinished tasks), enable, and
//! reset its dynamic registration.

use crate::body::{ApiJson, ApiPath};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use ota_domain::DeviceKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableDevice {
    /// Also cancel the device's unfinished tasks (default: they wait until it is enabled).
    #[serde(default)]
    cancel_tasks: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DisabledDevice {
    pub device: views::DeviceView,
    /// The tasks cancelled with the disable (empty unless `cancel_tasks`).
    pub cancelled_tasks: Vec<views::TaskView>,
}

async fn detail(s: &AppState, key: &DeviceKey) -> ApiResult<views::DeviceView> {
    Ok(views::device(&s.core.registry().device(key).await?, false))
}

/// Disable a device: refused at CONNECT and disconnected at once
///
/// The device is refused at CONNECT from now on and its connection, on whichever node
/// holds it, is closed. Its unfinished tasks wait until it is enabled, or are cancelled
/// with `cancel_tasks`.
#[utoipa::path(
    post,
    path = "/products/{product_key}/devices/{device_name}/disable",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    request_body = DisableDevice,
    responses(
        (status = 200, description = "Success", body = DisabledDevice),
        ErrorResponses,
    ),
)]
pub async fn disable_device(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<DisableDevice>,
) -> ApiResult<Json<DisabledDevice>> {
    let key = DeviceKey::new(pk, dn);
    let cancelled = s
        .core
        .registry()
        .disable_device(&key, req.cancel_tasks)
        .await?;
    Ok(Json(DisabledDevice {
        device: detail(&s, &key).await?,
        cancelled_tasks: cancelled.iter().map(views::task).collect(),
    }))
}

/// Enable a disabled device
#[utoipa::path(
    post,
    path = "/products/{product_key}/devices/{device_name}/enable",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::DeviceView),
        ErrorResponses,
    ),
)]
pub async fn enable_device(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
) -> ApiResult<Json<views::DeviceView>> {
    let key = DeviceKey::new(pk, dn);
    s.core.registry().enable_device(&key).await?;
    Ok(Json(detail(&s, &key).await?))
}

/// Reset a device's dynamic registration (ResetThing)
///
/// The device may obtain its credentials by dynamic registration again and counts as
/// never activated; a connection token it was issued stops working.
#[utoipa::path(
    post,
    path = "/products/{product_key}/devices/{device_name}/reset",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::DeviceView),
        ErrorResponses,
    ),
)]
pub async fn reset_device(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
) -> ApiResult<Json<views::DeviceView>> {
    let key = DeviceKey::new(pk, dn);
    s.core.registry().reset_device(&key).await?;
    Ok(Json(detail(&s, &key).await?))
}
