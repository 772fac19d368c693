//! Devices that say everything twice and sometimes out of order, to prove the platform does
//! not care: MQTT delivers QoS 1 messages at least once, a device may resend after a lost
//! acknowledgement, and behind an external broker two nodes may apply one device's reports
//! in either order. The final task states must be those of a fleet that says everything
//! once, in order.
//!
//! With [`Echo`] on, a simulated device sends every report a second time right after the
//! first: its version at connect, each progress step, and the final version or failure.
//! For some reports (one in [`Echo::reorder_one_in`], chosen by a hash of the seed, the
//! device and the step, so a run is repeatable) it then also sends an *earlier* report: the
//! previous progress step after a later one, or a progress step after the final version or
//! failure.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

use super::SimStats;
use crate::Device;

/// Duplicate and reorder settings of a simulation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// After one report in this many, also send an earlier one (0: never reorder).
    pub reorder_one_in: u32,
    /// Chooses which reports are followed by an earlier one.
    pub seed: u64,
}

impl Echo {
    /// Whether device `index`'s report `step` is followed by an earlier report.
    pub fn reorders(&self, index: usize, step: i32) -> bool {
        if self.reorder_one_in == 0 {
            return false;
        }
        let mut h = DefaultHasher::new();
        (self.seed, index, step).hash(&mut h);
        h.finish().is_multiple_of(u64::from(self.reorder_one_in))
    }
}

/// The progress step sent after a final report when it is reordered: a download step that
/// came before the end.
const LATE_STEP: i32 = 50;

/// One device's echo: the settings, a reporting handle to the device (set once connected)
/// and the last progress step echoed in the current update.
pub(crate) struct DeviceEcho {
    echo: Echo,
    index: usize,
    stats: Arc<SimStats>,
    device: OnceLock<Device<()>>,
    echoed: AtomicI32,
}

impl DeviceEcho {
    pub fn new(echo: Echo, index: usize, stats: Arc<SimStats>) -> Self {
        Self {
            echo,
            index,
            stats,
            device: OnceLock::new(),
            echoed: AtomicI32::new(-1),
        }
    }

    /// Gives the echo the device to report through (once, after connecting).
    pub fn attach(&self, device: Device<()>) {
        let _ = self.device.set(device);
    }

    /// Call before each update.
    pub fn reset(&self) {
        self.echoed.store(-1, Ordering::Relaxed);
    }

    /// Called after every downloaded chunk. At the first, sends the update's "download
    /// started" report (step 0) again; whenever the download reaches a new tenth, whose
    /// report the update has just sent, sends that again, and for some tenths the previous
    /// step after it.
    pub async fn on_progress(&self, module: Option<&str>, percent: u8) {
        let tenth = i32::from(percent / 10 * 10);
        let mut before = self.echoed.load(Ordering::Relaxed);
        if before < 0 {
            self.echoed.store(0, Ordering::Relaxed);
            self.progress(module, 0, "download started").await;
            before = 0;
        }
        if tenth <= before {
            return;
        }
        self.echoed.store(tenth, Ordering::Relaxed);
        self.progress(module, tenth, "downloading").await;
        if self.echo.reorders(self.index, tenth) {
            self.late_progress(module, before).await;
        }
    }

    /// Sends the version report again (at connect and after an update), and after a final
    /// one (`finished`) sometimes a download step that came before it.
    pub async fn on_version(&self, module: Option<&str>, version: &str, finished: bool) {
        let Some(device) = self.device.get() else {
            return;
        };
        if device.report_version(module, version).await.is_ok() {
            SimStats::inc(&self.stats.reports_duplicated);
        }
        if finished && self.echo.reorders(self.index, 101) {
            self.late_progress(module, LATE_STEP).await;
        }
    }

    /// Sends a failure report again, and sometimes a download step that came before it.
    pub async fn on_failure(&self, module: Option<&str>, step: i32) {
        self.progress(module, step, "failed (repeated)").await;
        if self.echo.reorders(self.index, step) {
            self.late_progress(module, LATE_STEP).await;
        }
    }

    async fn progress(&self, module: Option<&str>, step: i32, desc: &str) {
        let Some(device) = self.device.get() else {
            return;
        };
        if device.report_progress(module, step, desc).await.is_ok() {
            SimStats::inc(&self.stats.reports_duplicated);
        }
    }

    async fn late_progress(&self, module: Option<&str>, step: i32) {
        let Some(device) = self.device.get() else {
            return;
        };
        if device
            .report_progress(module, step, "downloading (late)")
            .await
            .is_ok()
        {
            SimStats::inc(&self.stats.reports_reordered);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_is_repeatable_and_about_one_in_n() {
        let echo = Echo {
            reorder_one_in: 4,
            seed: 7,
        };
        let picks: Vec<bool> = (0..4_000).map(|i| echo.reorders(i, 50)).collect();
        let again: Vec<bool> = (0..4_000).map(|i| echo.reorders(i, 50)).collect();
        assert_eq!(picks, again);
        let n = picks.iter().filter(|p| **p).count();
        assert!((800..1_200).contains(&n), "{n} of 4000");
        let never = Echo {
            reorder_one_in: 0,
            seed: 7,
        };
        assert!(!(0..100).any(|i| never.reorders(i, 50)));
    }
}
