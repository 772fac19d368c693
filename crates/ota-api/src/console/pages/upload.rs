//! `PUT /console/uploads/{file_name}`: the raw request body is streamed into package
//! storage (nothing is buffered, so files up to the 1,000 MB limit work), and the stored
//! file's reference and digests come back as JSON for the package form. The browser sends
//! it with `XMLHttpRequest` to show upload progress, the CSRF token in a header.

use crate::console::Console;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde_json::json;

pub async fn upload(
    State(c): State<Console>,
    Path(file_name): Path<String>,
    body: Body,
) -> Response {
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    match c.app.core.firmwares().upload_file(&file_name, Box::pin(stream)).await {
        Ok(file) => (
            StatusCode::CREATED,
            Json(json!({"url": file.key, "size": file.size, "md5": file.md5, "sha256": file.sha256, "name": file_name})),
        )
            .into_response(),
        Err(e) => {
            let err = crate::console::form::FormError::from(e);
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"field": err.field, "message": err.message})),
            )
                .into_response()
        }
    }
}
