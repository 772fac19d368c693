//! How a simulated device misbehaves, and the [`UpdateHandler`] that acts it out.
//!
//! A mix assigns behaviours by device index, not at random, so a run with N devices and
//! given percentages always produces the same counts (which is what tests and capacity
//! reports want to compare against).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use ota_protocol::UpgradeData;

use super::SimStats;
use super::echo::DeviceEcho;
use super::images::ImageLibrary;
use crate::{
    Abort, DownloadOptions, DownloadTarget, DownloadedFile, FileSpec, InstallError, StoredFile,
    UpdateHandler,
};

/// What a simulated device does with an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Downloads, verifies and reports the pushed version.
    Succeed,
    /// Reports `step` (-1..=-4) once the download reaches `at_percent`; at 100 the failure
    /// comes after the full download, at install time.
    Fail {
        /// The failure step to report.
        step: i32,
        /// Download percentage at which to fail.
        at_percent: u8,
    },
    /// Succeeds, taking `extra` longer (spread over the download, a tenth at a time).
    Slow {
        /// Added time.
        extra: Duration,
    },
    /// On its first package, goes offline for `offline_for`, then reconnects, reports its
    /// version, pulls the package and updates.
    OfflineThenOnline {
        /// Time spent disconnected.
        offline_for: Duration,
    },
    /// Downloads, then reports `version` instead of the pushed one.
    WrongVersion {
        /// The version reported.
        version: String,
    },
    /// A percentage of the fleet per behaviour; the remainder (if under 100) succeeds.
    Mix(Vec<(u8, Behaviour)>),
}

impl Behaviour {
    /// The behaviour of device `index` of `count`: itself, or for a mix the entry whose
    /// cumulative percentage covers `index * 100 / count`.
    pub fn for_device(&self, index: usize, count: usize) -> Behaviour {
        let Behaviour::Mix(parts) = self else {
            return self.clone();
        };
        let slot = (index * 100).checked_div(count).unwrap_or(0);
        let mut upto = 0usize;
        for (pct, b) in parts {
            upto += usize::from(*pct);
            if slot < upto {
                return b.for_device(index, count);
            }
        }
        Behaviour::Succeed
    }
}

/// Parses the CLI form:
/// `succeed`, `fail:-2@50` (`@100` when omitted), `slow:2.5` (seconds), `offline:10`,
/// `wrong:9.9.9`, and `mix:60=succeed,20=fail:-3,20=slow:1`.
impl FromStr for Behaviour {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        let secs = |a: &str| {
            a.trim_end_matches('s')
                .parse::<f64>()
                .ok()
                .and_then(|v| Duration::try_from_secs_f64(v).ok())
                .ok_or_else(|| format!("{a:?} is not a number of seconds"))
        };
        match kind.trim() {
            "succeed" => Ok(Behaviour::Succeed),
            "fail" => {
                let (step, at) = arg.split_once('@').unwrap_or((arg, "100"));
                let step: i32 = step.parse().map_err(|_| format!("bad step {step:?}"))?;
                if !(-4..=-1).contains(&step) {
                    return Err(format!("step {step} is not in -4..=-1"));
                }
                let at_percent: u8 = at.parse().map_err(|_| format!("bad percent {at:?}"))?;
                Ok(Behaviour::Fail {
                    step,
                    at_percent: at_percent.min(100),
                })
            }
            "slow" => Ok(Behaviour::Slow { extra: secs(arg)? }),
            "offline" => Ok(Behaviour::OfflineThenOnline {
                offline_for: secs(arg)?,
            }),
            "wrong" if !arg.is_empty() => Ok(Behaviour::WrongVersion {
                version: arg.to_owned(),
            }),
            "mix" => {
                let parts = arg
                    .split(',')
                    .map(|part| {
                        let (pct, b) = part
                            .split_once('=')
                            .ok_or_else(|| format!("{part:?} is not PERCENT=BEHAVIOUR"))?;
                        let pct: u8 = pct.trim().parse().map_err(|_| format!("bad {pct:?}"))?;
                        Ok((pct, b.parse()?))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                if parts.iter().map(|(p, _)| u32::from(*p)).sum::<u32>() > 100 {
                    return Err("mix percentages add up to more than 100".into());
                }
                Ok(Behaviour::Mix(parts))
            }
            other => Err(format!("unknown behaviour {other:?}")),
        }
    }
}

/// The simulator's [`UpdateHandler`]: counts the bytes and fails, dawdles or lies as its
/// behaviour says. With an [`ImageLibrary`] it keeps what it downloads and really applies
/// delta packages to the image it runs; without one it discards the bytes (after hashing)
/// and refuses delta packages, which it would have nothing to apply to.
pub(crate) struct SimHandler {
    pub behaviour: Behaviour,
    pub stats: Arc<SimStats>,
    /// Bytes of the current update already counted.
    counted: AtomicU64,
    /// Tenths of the current update already slept for.
    slept: AtomicU8,
    /// The version running before the current update (rollback protection).
    running: std::sync::Mutex<Option<String>>,
    /// Images of the versions devices run, when the run keeps them.
    images: Option<Arc<ImageLibrary>>,
    /// HTTP resumes after a failure without progress; `None`: the SDK's default.
    download_retries: Option<u32>,
    /// Sends every report twice (and some out of order), when the run asks for it.
    pub echo: Option<DeviceEcho>,
}

impl SimHandler {
    pub fn new(
        behaviour: Behaviour,
        stats: Arc<SimStats>,
        images: Option<Arc<ImageLibrary>>,
    ) -> Self {
        Self {
            behaviour,
            stats,
            counted: AtomicU64::new(0),
            slept: AtomicU8::new(0),
            running: std::sync::Mutex::new(None),
            images,
            download_retries: None,
            echo: None,
        }
    }

    /// Resumes a download this many times after a failure without progress.
    pub fn with_download_retries(mut self, retries: Option<u32>) -> Self {
        self.download_retries = retries;
        self
    }

    /// Repeats (and reorders) every report through `echo`.
    pub fn with_echo(mut self, echo: Option<DeviceEcho>) -> Self {
        self.echo = echo;
        self
    }

    /// Records the version running now, checked against signed manifests.
    pub fn set_running(&self, version: &str) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(version.to_owned());
    }

    /// Call before each update.
    pub fn reset(&self) {
        self.counted.store(0, Ordering::Relaxed);
        self.slept.store(0, Ordering::Relaxed);
        if let Some(echo) = &self.echo {
            echo.reset();
        }
    }
}

impl UpdateHandler for SimHandler {
    fn running_version(&self, _: &UpgradeData) -> Option<String> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn target(&self, _: &UpgradeData, _: &FileSpec) -> DownloadTarget {
        if self.images.is_some() {
            DownloadTarget::Memory
        } else {
            DownloadTarget::Discard
        }
    }

    fn download_options(&self) -> DownloadOptions {
        let mut options = DownloadOptions::default();
        if let Some(retries) = self.download_retries {
            options.http_retries = retries;
        }
        options
    }

    async fn on_progress(&self, data: &UpgradeData, percent: u8, bytes: u64) -> Result<(), Abort> {
        if let Some(echo) = &self.echo {
            echo.on_progress(data.module.as_deref(), percent).await;
        }
        let before = self.counted.swap(bytes, Ordering::Relaxed);
        self.stats
            .bytes
            .fetch_add(bytes.saturating_sub(before), Ordering::Relaxed);
        match &self.behaviour {
            Behaviour::Fail { step, at_percent } if *at_percent < 100 && percent >= *at_percent => {
                Err(Abort {
                    step: *step,
                    desc: format!("simulated failure at {percent}%"),
                })
            }
            Behaviour::Slow { extra } => {
                let tenths = percent / 10;
                let before = self.slept.swap(tenths, Ordering::Relaxed);
                if tenths > before {
                    tokio::time::sleep(*extra / 10 * u32::from(tenths - before)).await;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn install(
        &self,
        data: &UpgradeData,
        files: Vec<DownloadedFile>,
    ) -> Result<String, InstallError> {
        match &self.behaviour {
            Behaviour::Fail { step, .. } => Err(InstallError {
                step: *step,
                desc: "simulated failure after download".into(),
            }),
            Behaviour::WrongVersion { version } => Ok(version.clone()),
            _ => {
                self.keep_image(data, files)?;
                Ok(data.version.clone())
            }
        }
    }
}

impl SimHandler {
    /// Applies a delta to the running image, or records a full single-file image
    /// (a multi-file package is not one image and is not kept).
    fn keep_image(
        &self,
        data: &UpgradeData,
        mut files: Vec<DownloadedFile>,
    ) -> Result<(), InstallError> {
        let Some(images) = &self.images else {
            if data.is_diff {
                return Err(InstallError::general(
                    "delta package refused: the simulator keeps no images (give it a base image)",
                ));
            }
            return Ok(());
        };
        if files.len() != 1 {
            if data.is_diff {
                return Err(InstallError::general(format!(
                    "a delta package has {} files",
                    files.len()
                )));
            }
            return Ok(());
        }
        let StoredFile::Memory(bytes) = files.remove(0).stored else {
            return Err(InstallError::general("package not kept in memory"));
        };
        if data.is_diff {
            let running = self.running_version(data).unwrap_or_default();
            images.apply(&running, &data.version, &bytes)?;
            SimStats::inc(&self.stats.deltas_applied);
            Ok(())
        } else {
            images.record(&data.version, bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_assigns_exact_counts_by_index() {
        let mix: Behaviour = "mix:50=succeed,25=fail:-2@50,25=wrong:0.0.1"
            .parse()
            .unwrap();
        let all: Vec<_> = (0..20).map(|i| mix.for_device(i, 20)).collect();
        let count = |b: &Behaviour| all.iter().filter(|x| *x == b).count();
        assert_eq!(count(&Behaviour::Succeed), 10);
        let fail = Behaviour::Fail {
            step: -2,
            at_percent: 50,
        };
        assert_eq!(count(&fail), 5);
        assert_eq!(all[19], "wrong:0.0.1".parse().unwrap());
        let partial: Behaviour = "mix:10=offline:1.5".parse().unwrap();
        assert_eq!(
            partial.for_device(0, 10),
            Behaviour::OfflineThenOnline {
                offline_for: Duration::from_millis(1500)
            }
        );
        assert_eq!(partial.for_device(1, 10), Behaviour::Succeed);
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "",
            "fail:-5",
            "fail:x",
            "slow:abc",
            "wrong",
            "mix:90=succeed,20=succeed",
        ] {
            assert!(bad.parse::<Behaviour>().is_err(), "{bad}");
        }
        assert_eq!(
            "fail:-4".parse::<Behaviour>().unwrap(),
            Behaviour::Fail {
                step: -4,
                at_percent: 100
            }
        );
    }
}
