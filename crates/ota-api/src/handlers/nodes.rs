//! The nodes serving this store, as the registry holds them (ADR 0008): which are running,
//! when each last renewed its heartbeat, which were lost and which node recovered them.

use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views::Items;
use axum::Json;
use axum::extract::State;
use ota_core::NodeRow;
use serde::Serialize;
use utoipa::ToSchema;

/// A node serving this store.
#[derive(Serialize, ToSchema)]
pub struct NodeView {
    /// Unique per run: a restarted process registers a new node.
    pub node_id: String,
    /// Stable across restarts of one process slot (host and HTTP address).
    pub name: String,
    /// The base of the download URLs its pushes carry.
    pub public_url: String,
    pub public_url_explicit: bool,
    /// Whether its pushes carry presigned bucket URLs instead.
    pub presigned_downloads: bool,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// When a surviving node declared it lost, and which one recovered its work.
    pub lost_at: Option<i64>,
    pub recovered_by: Option<String>,
}

fn view(n: &NodeRow) -> NodeView {
    NodeView {
        node_id: n.node_id.clone(),
        name: n.name.clone(),
        public_url: n.public_url.clone(),
        public_url_explicit: n.public_url_explicit,
        presigned_downloads: n.presigned_downloads,
        started_at: n.started_at,
        heartbeat_at: n.heartbeat_at,
        lost_at: n.lost_at,
        recovered_by: n.recovered_by.clone(),
    }
}

/// The nodes serving this store: heartbeats, lost nodes and who recovered them
///
/// Every registered node, lost ones included (kept a day after their recovery), oldest
/// first.
#[utoipa::path(
    get,
    path = "/nodes",
    tag = "nodes",
    responses(
        (status = 200, description = "Success", body = Items<NodeView>),
        ErrorResponses,
    ),
)]
pub async fn list_nodes(State(s): State<AppState>) -> ApiResult<Json<Items<NodeView>>> {
    let nodes = s.core.access().list_nodes().await?;
    Ok(Json(Items::new(nodes.iter().map(view).collect())))
}
