//! Package downloads for devices: `GET /dl/<key>?expires=…&signature=…`. The signed URL is
//! the only credential; `Range` requests are answered with 206 so interrupted downloads
//! resume.

use crate::state::AppState;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

#[derive(Deserialize)]
pub struct DownloadQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<DownloadQuery>,
    request: Request,
) -> Response {
    let (Some(expires), Some(signature)) = (q.expires, q.signature) else {
        return (StatusCode::FORBIDDEN, "download URL is not signed").into_response();
    };
    let now = state.core.now() / 1000;
    if !state
        .core
        .signer()
        .verify(&format!("/dl/{key}"), expires, &signature, now)
    {
        return (StatusCode::FORBIDDEN, "download URL is invalid or expired").into_response();
    }
    let Ok(path) = state.core.blobs().path_of(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    metrics::counter!("ota_downloads_total").increment(1);
    match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}
