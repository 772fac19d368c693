//! One whole update, with the reports the platform relies on (spec §2.4): progress while
//! downloading, a negative step on failure, and the new version on `inform` at the end
//! (the platform decides success by that version alone).
//!
//! What touches the device — where files go, how they are installed, what version runs
//! afterwards — is injected through [`UpdateHandler`], so a real device, a test and the
//! simulator share this code.

use std::future::Future;
use std::io::Cursor;

use ota_protocol::{UpgradeData, UpgradePush};

use crate::download::{
    Abort, DiscardSink, DownloadOptions, DownloadTarget, DownloadedFile, FileSpec, Progress,
    StoredFile,
};
use crate::{Device, SdkError};

/// Why installing failed, and which step to report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("install failed with step {step}: {desc}")]
pub struct InstallError {
    /// `-1` (general failure) or `-4` (burning failed); other negative values pass through.
    pub step: i32,
    /// Reported as the progress `desc`.
    pub desc: String,
}

impl InstallError {
    /// Step -1: the update failed.
    pub fn general(desc: impl Into<String>) -> Self {
        Self {
            step: -1,
            desc: desc.into(),
        }
    }

    /// Step -4: writing the image failed.
    pub fn burn(desc: impl Into<String>) -> Self {
        Self {
            step: -4,
            desc: desc.into(),
        }
    }
}

/// The device-specific half of an update.
pub trait UpdateHandler: Send + Sync + 'static {
    /// Where to put `file` of the package `data`. Default: memory.
    fn target(&self, data: &UpgradeData, file: &FileSpec) -> DownloadTarget {
        let _ = (data, file);
        DownloadTarget::Memory
    }

    /// The version `data`'s module runs now, for rollback protection when the device
    /// trusts signing keys. Default: unknown (no rollback check).
    fn running_version(&self, data: &UpgradeData) -> Option<String> {
        let _ = data;
        None
    }

    /// Download tuning. Default: [`DownloadOptions::default`].
    fn download_options(&self) -> DownloadOptions {
        DownloadOptions::default()
    }

    /// Called after every received chunk with the package-wide `percent` (0..=100) and bytes.
    /// An error stops the update and is reported with its step. Default: carry on.
    fn on_progress(
        &self,
        data: &UpgradeData,
        percent: u8,
        bytes: u64,
    ) -> impl Future<Output = Result<(), Abort>> + Send {
        let _ = (data, percent, bytes);
        async { Ok(()) }
    }

    /// Installs the verified files and returns the version now running (reported on
    /// `inform`; the platform fails the task unless it equals `data.version`).
    fn install(
        &self,
        data: &UpgradeData,
        files: Vec<DownloadedFile>,
    ) -> impl Future<Output = Result<String, InstallError>> + Send;
}

/// A finished update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOutcome {
    /// The version reported on `inform`.
    pub version: String,
}

/// A failed update; the failure step has already been reported.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Fetching or verifying failed (step from [`SdkError::step`]: -2, -3 or a hook's).
    #[error("download failed: {0}")]
    Download(SdkError),
    /// The handler failed to install.
    #[error(transparent)]
    Install(InstallError),
    /// A report could not be published (the device is closed).
    #[error("report failed: {0}")]
    Report(SdkError),
}

impl UpdateError {
    /// The step that was reported, if any.
    pub fn step(&self) -> Option<i32> {
        match self {
            UpdateError::Download(e) => Some(e.step()),
            UpdateError::Install(e) => Some(e.step),
            UpdateError::Report(_) => None,
        }
    }
}

/// Turns byte counts into package-wide percentages and reports each new tenth.
struct Tracker<'a, H> {
    device: &'a Device<H>,
    data: &'a UpgradeData,
    /// Sum of the announced sizes (0 if unknown).
    total: u64,
    /// Bytes of the files already finished.
    base: u64,
    /// Last percentage reported.
    reported: u8,
}

impl<H: UpdateHandler> Progress for Tracker<'_, H> {
    async fn on_bytes(&mut self, done: u64, file_total: Option<u64>) -> Result<(), Abort> {
        let bytes = self.base + done;
        let total = if self.total > 0 {
            self.total
        } else {
            file_total.unwrap_or(0) + self.base
        };
        let percent = (bytes.min(total) * 100).checked_div(total).unwrap_or(0) as u8;
        let tenth = percent / 10 * 10;
        if tenth > self.reported {
            self.reported = tenth;
            let module = self.data.module.as_deref();
            let sent = self
                .device
                .report_progress(module, i32::from(tenth), "downloading")
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "progress report not sent");
            }
        }
        self.device
            .handler
            .on_progress(self.data, percent, bytes)
            .await
    }
}

impl<H: UpdateHandler> Device<H> {
    /// Runs the update described by `push`: report 0, download every file into the
    /// handler's targets while reporting each tenth, verify, install, report the new
    /// version. On failure reports -2 (download), -3 (digest or size, or a delta needing
    /// more memory than `DeviceConfig::delta_memory_limit`, refused before installing),
    /// the hook's step (abort) or the installer's step (-1/-4), and returns the error.
    ///
    /// A push of the version the handler says is running (the platform sends a task's push
    /// again after a reconnect, in case the first or the device's answer was lost) is
    /// answered by reporting that version, without downloading anything.
    pub async fn run_update(&self, push: &UpgradePush) -> Result<UpdateOutcome, UpdateError> {
        let data = &push.data;
        let module = data.module.as_deref();
        if self.handler.running_version(data).as_deref() == Some(data.version.as_str()) {
            self.report_version(module, &data.version)
                .await
                .map_err(UpdateError::Report)?;
            return Ok(UpdateOutcome {
                version: data.version.clone(),
            });
        }
        // Mid-update the running version is in flux: a reconnect must not restate the old
        // one after the download (the platform would take it for a failed install).
        self.forget_version(module);
        let files = match FileSpec::from_data(data).and_then(|files| {
            let running = self.handler.running_version(data);
            crate::verify::check_push(self.config(), data, files, running.as_deref())
        }) {
            Ok(files) => files,
            Err(e) => return Err(self.fail_download(module, e).await),
        };
        self.report_progress(module, 0, "download started")
            .await
            .map_err(UpdateError::Report)?;
        let mut tracker = Tracker {
            device: self,
            data,
            total: files.iter().filter_map(|f| f.size).sum(),
            base: 0,
            reported: 0,
        };
        let opts = self.handler.download_options();
        let mut done = Vec::with_capacity(files.len());
        for file in &files {
            let target = self.handler.target(data, file);
            match self.download_into(file, target, opts, &mut tracker).await {
                Ok(d) => {
                    tracker.base += d.size;
                    done.push(d);
                }
                Err(e) => return Err(self.fail_download(module, e).await),
            }
        }
        if tracker.reported < 100 {
            self.report_progress(module, 100, "downloaded")
                .await
                .map_err(UpdateError::Report)?;
        }
        // A delta needing more memory than the device has is refused before the installer
        // touches the running image.
        let limit = self.config().delta_memory_limit;
        let fits = if data.is_diff {
            done.iter()
                .try_for_each(|f| crate::delta::check_downloaded_delta(f, limit))
        } else {
            Ok(())
        };
        let installed = match fits {
            Ok(()) => self.handler.install(data, done).await,
            Err(e) => Err(e),
        };
        match installed {
            Ok(version) => {
                self.report_version(module, &version)
                    .await
                    .map_err(UpdateError::Report)?;
                Ok(UpdateOutcome { version })
            }
            Err(e) => {
                self.report_progress(module, e.step, &e.desc)
                    .await
                    .map_err(UpdateError::Report)?;
                Err(UpdateError::Install(e))
            }
        }
    }

    async fn fail_download(&self, module: Option<&str>, e: SdkError) -> UpdateError {
        let desc = match &e {
            SdkError::Aborted { desc, .. } => desc.clone(),
            other => other.to_string(),
        };
        if let Err(report) = self.report_progress(module, e.step(), &desc).await {
            tracing::debug!(error = %report, "failure report not sent");
        }
        UpdateError::Download(e)
    }

    async fn download_into<P: Progress>(
        &self,
        file: &FileSpec,
        target: DownloadTarget,
        opts: DownloadOptions,
        progress: &mut P,
    ) -> Result<DownloadedFile, SdkError> {
        match target {
            DownloadTarget::Path(path) => {
                self.download_to_path(file, &path, false, opts, progress)
                    .await
            }
            DownloadTarget::Memory => {
                let mut buf = Cursor::new(Vec::new());
                let mut d = self
                    .download_with(file, &mut buf, 0, opts, progress)
                    .await?;
                d.stored = StoredFile::Memory(buf.into_inner());
                Ok(d)
            }
            DownloadTarget::Discard => {
                let mut sink = DiscardSink::default();
                let mut d = self
                    .download_with(file, &mut sink, 0, opts, progress)
                    .await?;
                d.stored = StoredFile::Discarded;
                Ok(d)
            }
        }
    }
}
