//! The source of "now". Services take it from a [`Clock`] so tests can move time by hand
//! instead of sleeping through retry intervals and schedules.

use ota_domain::Millis;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the current time comes from.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Millis;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Millis {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since.as_millis() as Millis
    }
}

/// Wall-clock time plus an adjustable offset: tests and demos jump forward over retry
/// intervals and schedule windows without waiting for them.
#[derive(Debug, Default, Clone)]
pub struct OffsetClock {
    offset: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn advance(&self, by: Millis) {
        self.offset.fetch_add(by, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> Millis {
        SystemClock.now() + self.offset.load(Ordering::SeqCst)
    }
}
