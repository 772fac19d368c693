//! Commands run to completion whoever hangs up.
//!
//! A server drops a request's handler when its client goes away (an SDK's read timeout, a
//! closed browser tab). For a command that is the worst moment: a batch creation stopped
//! after some of its tasks, a cancel stopped halfway. So every request that may change
//! something (any method but GET and HEAD) runs on a task of its own, which the client's
//! departure does not cancel: the command completes — or fails and cleans up, as it would
//! with the client still there — and only its answer is lost. Reads stay on the connection's
//! task and stop with it.

use crate::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The middleware: see the module docs.
pub(crate) async fn run_to_completion(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    match tokio::spawn(next.run(request)).await {
        Ok(response) => response,
        Err(err) => {
            tracing::error!(%err, "request handler failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                None,
                "internal error; see the server log",
            )
            .into_response()
        }
    }
}
