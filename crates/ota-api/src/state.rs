//! What every handler can reach.

use crate::auth::NonceCache;
use metrics_exporter_prometheus::PrometheusHandle;
use ota_core::Core;
use std::sync::Arc;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub nonces: Arc<NonceCache>,
    pub metrics: Option<PrometheusHandle>,
    /// Gauge source: how many devices are connected now.
    pub online: Arc<dyn Fn() -> usize + Send + Sync>,
}
