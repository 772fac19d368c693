//! The HTTP faces of the platform: the native REST API under `/api/v1`, package downloads
//! under `/dl`, health and metrics. Handlers parse, call one `ota_core::Core` method and
//! render; no rule lives here. The native API's OpenAPI document is generated from the
//! handlers' own types (`openapi.rs`).
//!
//! This crate must not import the device gateway or a store backend directly.

pub mod aliyun;
mod auth;
pub mod authz;
mod body;
mod completion;
mod console;
mod device_registration;
mod download;
pub mod error;
pub mod handlers;
mod openapi;
mod page;
mod policy_views;
mod rollout_views;
pub mod sign;
mod state;
mod views;

pub use authz::{PeerAddr, PeerListener};
pub use state::AppState;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let (api, _) = handlers::routes().split_for_parts();
    let api = api
        .layer(middleware::from_fn_with_state(
            state.clone(),
            authz::native::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_signature,
        ))
        .route("/openapi.json", get(openapi::document));
    Router::new()
        .nest("/api/v1", api)
        .nest("/console", console::router(state.clone()))
        .route("/dl/{*key}", get(download::serve))
        .route(
            device_registration::PATH,
            axum::routing::post(device_registration::register),
        )
        .route("/healthz", get(handlers::health::healthz))
        .route("/metrics", get(handlers::health::metrics))
        .merge(aliyun::routes())
        .layer(middleware::from_fn(completion::run_to_completion))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}
