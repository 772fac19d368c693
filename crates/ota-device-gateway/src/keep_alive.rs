//! Closes connections whose clients have gone silent, and every connection at shutdown.
//!
//! One task sweeps the registry once a second instead of each connection keeping a timer:
//! a timer in every connection's task was about a tenth of an idle device's memory, where
//! the sweep costs a clock reading per packet and one pass over the sessions a second. A
//! client is closed between 1.5 times its keep-alive (MQTT's limit) and one sweep later.

use std::sync::Arc;
use std::time::Duration;

use crate::encode::DisconnectReason;
use crate::server::Shared;

/// How often the sessions are looked at.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Kicks silent connections until shutdown, then kicks every connection.
pub(crate) async fn sweep(shared: Arc<Shared>) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            _ = ticks.tick() => {
                let now_ms = shared.registry.clock_ms();
                shared.registry.each_connection(|conn| {
                    if conn.silent_too_long(now_ms) {
                        conn.kick(DisconnectReason::KeepAliveTimeout);
                    }
                });
            }
        }
    }
    shared
        .registry
        .each_connection(|conn| conn.kick(DisconnectReason::ServerShuttingDown));
}
