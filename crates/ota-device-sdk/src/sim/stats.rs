//! Fleet-wide counters, updated by every simulated device and readable at any moment (a CLI
//! draws its progress bar from them). Plain atomics: thousands of writers, no locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of a simulation. Gauges go up and down; counters only up.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Devices in the simulation (set once at start).
    pub devices: AtomicU64,
    /// Gauge: devices currently connected.
    pub connected: AtomicU64,
    /// Counter: connection attempts that reached no broker in time (nothing listening,
    /// unreachable, no CONNACK).
    pub connect_failures: AtomicU64,
    /// Counter: connection attempts the broker refused (wrong credentials, unknown device).
    pub auth_failures: AtomicU64,
    /// Counter: connections established.
    pub connections: AtomicU64,
    /// Counter: connections a device closed on purpose to reconnect (churn).
    pub reconnects: AtomicU64,
    /// Counter: devices that received at least one package (push or pull reply).
    pub notified: AtomicU64,
    /// Gauge: devices currently running an update.
    pub downloading: AtomicU64,
    /// Counter: package bytes downloaded (hashed and discarded).
    pub bytes: AtomicU64,
    /// Counter: updates that ended by reporting the pushed version.
    pub succeeded: AtomicU64,
    /// Counter: updates that ended by reporting another version.
    pub wrong_version: AtomicU64,
    /// Counter: updates that failed, by step -1, -2, -3, -4 (other steps count as -1).
    pub failed: [AtomicU64; 4],
    /// Counter: devices whose simulation ended.
    pub finished: AtomicU64,
    /// Counter: delta packages applied to a kept image (see `ImageLibrary`).
    pub deltas_applied: AtomicU64,
    /// Counter: reports sent a second time (see `Echo`).
    pub reports_duplicated: AtomicU64,
    /// Counter: earlier reports sent after later ones (see `Echo`).
    pub reports_reordered: AtomicU64,
}

/// A copy of [`SimStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimSnapshot {
    /// See [`SimStats::devices`].
    pub devices: u64,
    /// See [`SimStats::connected`].
    pub connected: u64,
    /// See [`SimStats::connect_failures`].
    pub connect_failures: u64,
    /// See [`SimStats::auth_failures`].
    pub auth_failures: u64,
    /// See [`SimStats::connections`].
    pub connections: u64,
    /// See [`SimStats::reconnects`].
    pub reconnects: u64,
    /// See [`SimStats::notified`].
    pub notified: u64,
    /// See [`SimStats::downloading`].
    pub downloading: u64,
    /// See [`SimStats::bytes`].
    pub bytes: u64,
    /// See [`SimStats::succeeded`].
    pub succeeded: u64,
    /// See [`SimStats::wrong_version`].
    pub wrong_version: u64,
    /// Failures by step: index 0 is step -1, …, index 3 is step -4.
    pub failed: [u64; 4],
    /// See [`SimStats::finished`].
    pub finished: u64,
    /// See [`SimStats::deltas_applied`].
    pub deltas_applied: u64,
    /// See [`SimStats::reports_duplicated`].
    pub reports_duplicated: u64,
    /// See [`SimStats::reports_reordered`].
    pub reports_reordered: u64,
}

impl SimSnapshot {
    /// Failures with `step` (-1..=-4).
    pub fn failed_with(&self, step: i32) -> u64 {
        step_index(step).map_or(0, |i| self.failed[i])
    }

    /// All failures.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Updates that ended one way or another.
    pub fn settled(&self) -> u64 {
        self.succeeded + self.wrong_version + self.failed_total()
    }
}

fn step_index(step: i32) -> Option<usize> {
    match step {
        -4..=-1 => usize::try_from(-step - 1).ok(),
        _ => None,
    }
}

impl SimStats {
    /// Reads every counter (each atomically; the set is not one consistent cut).
    pub fn snapshot(&self) -> SimSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SimSnapshot {
            devices: get(&self.devices),
            connected: get(&self.connected),
            connect_failures: get(&self.connect_failures),
            auth_failures: get(&self.auth_failures),
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            notified: get(&self.notified),
            downloading: get(&self.downloading),
            bytes: get(&self.bytes),
            succeeded: get(&self.succeeded),
            wrong_version: get(&self.wrong_version),
            failed: self.failed.each_ref().map(get),
            finished: get(&self.finished),
            deltas_applied: get(&self.deltas_applied),
            reports_duplicated: get(&self.reports_duplicated),
            reports_reordered: get(&self.reports_reordered),
        }
    }

    pub(crate) fn record_failure(&self, step: i32) {
        let i = step_index(step).unwrap_or(0);
        self.failed[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn inc(a: &AtomicU64) {
        a.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dec(a: &AtomicU64) {
        // Saturating: a device aborted mid-update must not wrap a gauge.
        let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_by_step() {
        let s = SimStats::default();
        s.record_failure(-2);
        s.record_failure(-4);
        s.record_failure(-9);
        SimStats::dec(&s.connected);
        let snap = s.snapshot();
        assert_eq!(snap.failed, [1, 1, 0, 1]);
        assert_eq!(snap.failed_with(-2), 1);
        assert_eq!(snap.failed_with(7), 0);
        assert_eq!(snap.settled(), 3);
        assert_eq!(snap.connected, 0);
    }
}
