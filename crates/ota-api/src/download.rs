//! Package downloads for devices: `GET /dl/<key>?expires=…&signature=…`. The signed URL is
//! the only credential; `Range` requests are answered with 206 so interrupted downloads
//! resume. With packages in an S3 bucket, pushes carry presigned bucket URLs and this route
//! only redirects a URL it signed to one, valid for what is left of its lifetime.

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
    let path = match state.core.blobs().local_path(&key) {
        Some(Ok(path)) => path,
        Some(Err(_)) => return StatusCode::NOT_FOUND.into_response(),
        None => return redirect_to_storage(&state, &key, expires, now).await,
    };
    metrics::counter!("ota_downloads_total").increment(1);
    match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// A temporary redirect to a presigned URL on the storage service, expiring with the URL the
/// server signed.
async fn redirect_to_storage(state: &AppState, key: &str, expires: i64, now: i64) -> Response {
    let left = std::time::Duration::from_secs((expires - now).max(1) as u64);
    match state.core.blobs().presigned_get(key, left).await {
        Some(Ok(url)) => {
            metrics::counter!("ota_downloads_total").increment(1);
            axum::response::Redirect::temporary(&url).into_response()
        }
        Some(Err(ota_blob::BlobError::InvalidKey(_))) | None => {
            StatusCode::NOT_FOUND.into_response()
        }
        Some(Err(err)) => {
            tracing::warn!(key, %err, "presigning a download failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
