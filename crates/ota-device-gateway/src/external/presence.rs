//! Presence as seen through an external broker.
//!
//! A broker reached as a client tells us nothing about device connections (Mosquitto has no
//! per-client connect events for its clients), so a device is online from its first OTA
//! message on and offline after `timeout` without one — or never, with no timeout. The
//! handler hears `on_online` once per such period and `on_offline` when it ends, in order:
//! both are called under the same lock, like the embedded broker's registry does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ota_protocol::DeviceKey;

use crate::GatewayHandler;
use crate::handler::ConnectionId;

struct Seen {
    at: Instant,
    period: ConnectionId,
    /// The platform knows the device (a lookup said so during this period).
    known: bool,
}

/// Devices that published recently, with when they were last heard from.
#[derive(Default)]
pub(crate) struct Presence {
    seen: Mutex<HashMap<DeviceKey, Seen>>,
    next_period: AtomicU64,
}

impl Presence {
    /// Records a message from `device`; the first one of a period reports it online.
    pub(crate) fn touch<H: GatewayHandler>(&self, device: &DeviceKey, handler: &H, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = seen.get_mut(device) {
            entry.at = now;
            return;
        }
        let period = self.next_period.fetch_add(1, Ordering::Relaxed) + 1;
        seen.insert(
            device.clone(),
            Seen {
                at: now,
                period,
                known: false,
            },
        );
        handler.on_online(device, period);
    }

    /// Reports offline every device silent for longer than `timeout`; returns how many.
    pub(crate) fn expire<H: GatewayHandler>(
        &self,
        handler: &H,
        timeout: Duration,
        now: Instant,
    ) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let before = seen.len();
        seen.retain(|device, entry| {
            let alive = now.saturating_duration_since(entry.at) <= timeout;
            if !alive {
                handler.on_offline(device, entry.period);
            }
            alive
        });
        before - seen.len()
    }

    pub(crate) fn is_online(&self, device: &DeviceKey) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.contains_key(device)
    }

    /// Whether a lookup already found the device during its current period.
    pub(crate) fn is_known(&self, device: &DeviceKey) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(device).is_some_and(|s| s.known)
    }

    /// Records that the platform knows the device, for the rest of its period.
    pub(crate) fn mark_known(&self, device: &DeviceKey) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = seen.get_mut(device) {
            entry.known = true;
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
