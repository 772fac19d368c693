//! What every handler can reach.

use metrics_exporter_prometheus::PrometheusHandle;
use ota_core::Core;
use std::sync::Arc;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub metrics: Option<PrometheusHandle>,
    /// Gauge source: how many devices are connected now.
    pub online: Arc<dyn Fn() -> usize + Send + Sync>,
    /// Present only when the server runs with an adjustable clock (tests and demos): then
    /// `POST /api/v1/debug/clock` moves the platform's time forward.
    pub clock: Option<ota_core::OffsetClock>,
}
