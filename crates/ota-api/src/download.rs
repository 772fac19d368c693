//! Package downloads for devices: `GET /dl/<key>?expires=…&signature=…`. The signed URL is
//! the only credential; `Range` requests are answered with 206 so interrupted downloads
//! resume. With packages in an S3 bucket, pushes carry presigned bucket URLs and this route
//! only redirects a URL it signed to one, valid for what is left of its lifetime. From the
//! package directory the bytes are sent as slices of the mapped file, so concurrent
//! downloads of a large package hold no copies of it in the server's memory.

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode, header};
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
    let head = request.method() == Method::HEAD;
    let response = match ServeFile::new(&path).oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    };
    if head {
        return response;
    }
    from_the_map(response, path).await
}

/// `ServeFile` decides the answer (status, `Range`, conditional requests, headers); the
/// bytes it sends are then slices of the mapped file instead of copies read into buffers
/// (`ota_blob::MappedFile`). Whatever cannot be mapped keeps `ServeFile`'s own body.
async fn from_the_map(response: Response, path: std::path::PathBuf) -> Response {
    let Some(range) = body_range(&response) else {
        return response;
    };
    let file = match ota_blob::MappedFile::open(path).await {
        Ok(file) => file,
        Err(err) => {
            tracing::debug!(%err, "serving a download without a map");
            return response;
        }
    };
    if file.len() != range.total {
        // Not the file `ServeFile` looked at: leave its answer alone.
        return response;
    }
    let (parts, _) = response.into_parts();
    let chunks = file.chunks(range.start..range.end, ota_blob::MAPPED_CHUNK);
    Response::from_parts(parts, Body::from_stream(chunks))
}

/// The bytes a download answer carries: `start..end` of a file of `total` bytes.
#[derive(Debug, PartialEq)]
struct BodyRange {
    start: u64,
    end: u64,
    total: u64,
}

/// Which bytes of the file `response` sends: all of it for 200 (its `Content-Length`), the
/// `Content-Range` for 206; `None` for any other answer.
fn body_range(response: &Response) -> Option<BodyRange> {
    let header = |name| response.headers().get(name)?.to_str().ok();
    match response.status() {
        StatusCode::OK => {
            let total = header(header::CONTENT_LENGTH)?.parse().ok()?;
            Some(BodyRange {
                start: 0,
                end: total,
                total,
            })
        }
        StatusCode::PARTIAL_CONTENT => {
            // bytes <first>-<last>/<total>
            let spec = header(header::CONTENT_RANGE)?.strip_prefix("bytes ")?;
            let (span, total) = spec.split_once('/')?;
            let (first, last) = span.split_once('-')?;
            let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
            (first <= last).then_some(BodyRange {
                start: first,
                end: last + 1,
                total: total.parse().ok()?,
            })
        }
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: StatusCode, headers: &[(&str, &str)]) -> Response {
        let mut builder = Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn the_range_of_each_answer() {
        let range = |start, end, total| Some(BodyRange { start, end, total });
        let cases = [
            (
                StatusCode::OK,
                vec![("content-length", "100")],
                range(0, 100, 100),
            ),
            (
                StatusCode::OK,
                vec![("content-length", "0")],
                range(0, 0, 0),
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                vec![("content-range", "bytes 10-19/100")],
                range(10, 20, 100),
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                vec![("content-range", "bytes 99-99/100")],
                range(99, 100, 100),
            ),
            // Anything else keeps ServeFile's body.
            (
                StatusCode::PARTIAL_CONTENT,
                vec![("content-range", "bytes */100")],
                None,
            ),
            (
                StatusCode::PARTIAL_CONTENT,
                vec![("content-range", "bytes 20-10/100")],
                None,
            ),
            (StatusCode::PARTIAL_CONTENT, vec![], None),
            (StatusCode::OK, vec![], None),
            (
                StatusCode::NOT_MODIFIED,
                vec![("content-length", "100")],
                None,
            ),
            (
                StatusCode::RANGE_NOT_SATISFIABLE,
                vec![("content-range", "bytes */100")],
                None,
            ),
        ];
        for (status, headers, want) in cases {
            assert_eq!(
                body_range(&answer(status, &headers)),
                want,
                "{status} {headers:?}"
            );
        }
    }
}
