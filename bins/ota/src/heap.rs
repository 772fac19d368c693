//! The server's heap as its allocator sees it, published as gauges beside the process's
//! resident memory. Allocated bytes that keep growing point to memory the server holds on
//! to; resident bytes that grow while allocated bytes stay flat point to the allocator.
//!
//! On Linux (glibc) the `ota` binary allocates through jemalloc for Rust and C code alike
//! (the embedded SQLite included; the default `jemalloc` feature): glibc's per-thread arenas
//! kept freed pages of SQLite's connection threads, so a long-running server's memory crept
//! up (docs/reliability.md, "Churn soak"); jemalloc's background threads return them.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the gauges are refreshed.
const EVERY: Duration = Duration::from_secs(5);

/// The allocator's own figures, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Bytes handed out to the program and not yet freed.
    pub allocated: u64,
    /// Bytes of the allocator's pages resident in memory (allocated plus its overhead and
    /// the freed pages it has not returned yet).
    pub resident: u64,
}

/// The figures now, or `None` when the binary does not run on jemalloc.
pub fn stats() -> Option<HeapStats> {
    allocator::stats()
}

/// Refreshes `ota_heap_allocated_bytes` and `ota_heap_resident_bytes` until shutdown.
pub fn spawn_gauges(shutdown: &CancellationToken) {
    if stats().is_none() {
        return;
    }
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Some(heap) = stats() {
                metrics::gauge!("ota_heap_allocated_bytes").set(heap.allocated as f64);
                metrics::gauge!("ota_heap_resident_bytes").set(heap.resident as f64);
            }
        }
    });
}

#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
mod allocator {
    use super::HeapStats;
    use tikv_jemalloc_ctl::{epoch, stats};

    pub fn stats() -> Option<HeapStats> {
        // jemalloc caches its statistics; advancing the epoch refreshes them.
        epoch::advance().ok()?;
        Some(HeapStats {
            allocated: stats::allocated::read().ok()? as u64,
            resident: stats::resident::read().ok()? as u64,
        })
    }
}

#[cfg(not(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl"))))]
mod allocator {
    use super::HeapStats;

    pub fn stats() -> Option<HeapStats> {
        None
    }
}
