//! Server-generated deltas of a full package: request generation from earlier versions and
//! follow its progress (status per source version). Generation runs in the background.

use crate::body::ApiJson;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ota_core::{DeltaView, PAYOFF_PERCENT};
use ota_domain::FirmwareId;
use serde::Deserialize;
use serde_json::{Value, json};

fn view(id: &str, deltas: &[DeltaView]) -> Value {
    json!({
        "firmware_id": id,
        "payoff_percent": PAYOFF_PERCENT,
        "items": deltas,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaRequest {
    /// Earlier versions (destination versions of full packages of the same module).
    src_versions: Vec<String>,
}

pub async fn request(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DeltaRequest>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let deltas = s
        .core
        .deltas()
        .request_deltas(&FirmwareId(id.clone()), &req.src_versions)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view(&id, &deltas))))
}

pub async fn list(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let deltas = s.core.deltas().list(&FirmwareId(id.clone())).await?;
    Ok(Json(view(&id, &deltas)))
}
