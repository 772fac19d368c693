//! The nodes serving this store, as the registry holds them (ADR 0008): which are running,
//! when each last renewed its heartbeat, which were lost and which node recovered them.

use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use ota_core::NodeRow;
use serde_json::{Value, json};

fn view(n: &NodeRow) -> Value {
    json!({
        "node_id": n.node_id,
        "name": n.name,
        "public_url": n.public_url,
        "public_url_explicit": n.public_url_explicit,
        "presigned_downloads": n.presigned_downloads,
        "started_at": n.started_at,
        "heartbeat_at": n.heartbeat_at,
        "lost_at": n.lost_at,
        "recovered_by": n.recovered_by,
    })
}

/// Every registered node, lost ones included (kept a day after their recovery), oldest
/// first.
pub async fn list_nodes(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let nodes = s.core.access().list_nodes().await?;
    Ok(Json(
        json!({"items": nodes.iter().map(view).collect::<Vec<_>>()}),
    ))
}
