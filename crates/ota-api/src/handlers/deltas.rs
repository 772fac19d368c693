//! Server-generated deltas of a full package: request generation from earlier versions and
//! follow its progress (status per source version). Generation runs in the background.

use crate::body::{ApiJson, ApiPath};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_core::{DeltaView, PAYOFF_PERCENT};
use ota_domain::FirmwareId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The deltas of a package, each from one earlier version.
#[derive(Serialize, ToSchema)]
pub struct Deltas {
    pub firmware_id: String,
    /// A delta is kept only when it is at most this percent of the full package.
    pub payoff_percent: u64,
    pub items: Vec<views::DeltaView>,
}

fn view(id: &str, deltas: &[DeltaView]) -> Deltas {
    Deltas {
        firmware_id: id.to_owned(),
        payoff_percent: PAYOFF_PERCENT,
        items: deltas.iter().map(views::delta).collect(),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeltaRequest {
    /// Earlier versions (destination versions of full packages of the same module).
    src_versions: Vec<String>,
}

/// Generate deltas of a full package from earlier versions (background)
#[utoipa::path(
    post,
    path = "/firmwares/{firmware_id}/deltas",
    tag = "deltas",
    params(("firmware_id" = String, Path)),
    request_body = DeltaRequest,
    responses(
        (status = 202, description = "Accepted", body = Deltas),
        ErrorResponses,
    ),
)]
pub async fn request(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<DeltaRequest>,
) -> ApiResult<(StatusCode, Json<Deltas>)> {
    let deltas = s
        .core
        .deltas()
        .request_deltas(&FirmwareId(id.clone()), &req.src_versions)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view(&id, &deltas))))
}

/// A package's deltas with their generation status
#[utoipa::path(
    get,
    path = "/firmwares/{firmware_id}/deltas",
    tag = "deltas",
    params(("firmware_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = Deltas),
        ErrorResponses,
    ),
)]
pub async fn list(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deltas>> {
    let deltas = s.core.deltas().list(&FirmwareId(id.clone())).await?;
    Ok(Json(view(&id, &deltas)))
}
