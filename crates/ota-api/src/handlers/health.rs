//! Liveness and metrics.

use crate::error::ErrorBody;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa::ToSchema;

/// 200 once the store answers.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.core.access().check_ready().await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

/// Prometheus text exposition. Gauges of the fleet (connected devices, tasks by status) are
/// read at scrape time; counters (reports, pushes, transitions, downloads) as they happen.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    metrics::gauge!("ota_devices_connected").set((state.online)() as f64);
    match state.core.access().task_status_totals().await {
        Ok(totals) => {
            for (status, n) in totals {
                metrics::gauge!("ota_tasks", "status" => status.as_str()).set(n as f64);
            }
        }
        Err(err) => tracing::warn!(%err, "task totals for metrics failed"),
    }
    match &state.metrics {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled".to_owned()),
    }
}

#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockAdvance {
    /// Milliseconds to move the platform's clock forward.
    advance_ms: i64,
}

/// The platform's time after a move.
#[derive(serde::Serialize, ToSchema)]
pub struct ClockNow {
    /// Milliseconds since the Unix epoch.
    pub now: i64,
}

/// Move the platform's clock forward (test servers only)
///
/// Moves the platform's clock forward, so retry intervals, timeouts and schedules can be
/// exercised without waiting. Exists only on servers started with an adjustable clock.
#[utoipa::path(
    post,
    path = "/debug/clock",
    tag = "debug",
    request_body = ClockAdvance,
    responses(
        (status = 200, description = "Success", body = ClockNow),
        (status = "4XX", description = "Bad input, or the clock is not adjustable", body = ErrorBody),
    ),
)]
pub async fn advance_clock(
    State(state): State<AppState>,
    crate::body::ApiJson(req): crate::body::ApiJson<ClockAdvance>,
) -> Result<axum::Json<ClockNow>, crate::error::ApiError> {
    let Some(clock) = &state.clock else {
        return Err(crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            None,
            "the server clock is not adjustable",
        ));
    };
    if !(0..=31 * 24 * 3_600_000).contains(&req.advance_ms) {
        return Err(crate::error::ApiError::invalid(
            "advance_ms",
            "must be 0 to 31 days",
        ));
    }
    clock.advance(req.advance_ms);
    Ok(axum::Json(ClockNow {
        now: state.core.now(),
    }))
}
