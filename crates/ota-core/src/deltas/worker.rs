//! The background generation of deltas: claim a pending row, diff the two images off the
//! async runtime, store the patch if it pays off, record the outcome.
//!
//! Progress is visible while a generation runs: the diff reports how far it is (after each
//! candidate encoding) through a shared counter, and a ticker writes changes to the row at most every
//! [`PROGRESS_EVERY_MS`], which also renews the claim so a long diff is not mistaken for a
//! dead worker's.

use super::{PAYOFF_PERCENT, STALE_CLAIM_MS};
use crate::{Core, CoreResult};
use ota_domain::firmware::FirmwareFile;
use ota_domain::{DomainError, FirmwareId};
use ota_store::DeltaRow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// How often a running generation's progress is written.
const PROGRESS_EVERY_MS: u64 = 1_000;
/// Progress once both images are read; the diff covers the range up to [`DIFFED`].
const READ: u8 = 5;
/// Progress once the patch is computed; storing it completes the generation.
const DIFFED: u8 = 95;

/// The delta generator: one pending delta per round; wakes when deltas are requested and
/// looks for pending ones (left by a restart, or by another node) every half minute.
pub(crate) struct DeltaGenerator;

impl crate::engine::worker::Worker for DeltaGenerator {
    const NAME: &'static str = "delta-generator";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<crate::engine::worker::Pace> {
        Ok(if core.generate_next_delta().await? {
            crate::engine::worker::Pace::More
        } else {
            crate::engine::worker::Pace::Idle
        })
    }

    async fn until_next(&mut self, core: &Core) {
        let _ =
            tokio::time::timeout(Duration::from_secs(30), core.inner.deltas.wake.notified()).await;
    }
}

impl Core {
    /// Wakes the delta generator (deltas were requested).
    pub(super) fn kick_delta_workers(&self) {
        self.inner.deltas.wake.notify_one();
    }

    /// Claims one pending delta and generates it; false when none was pending.
    async fn generate_next_delta(&self) -> CoreResult<bool> {
        let now = self.now();
        let Some(claimed) = self.store().claim_delta(now - STALE_CLAIM_MS, now).await? else {
            return Ok(false);
        };
        let progress = Arc::new(AtomicU8::new(0));
        let ticker = self.progress_ticker(&claimed, Arc::clone(&progress));
        let outcome = self.generate(&claimed, &progress).await;
        ticker.abort();
        let mut d = claimed;
        match outcome {
            Ok(Some((file, header))) => {
                d.status = "READY".into();
                d.blob_key = Some(file.blob_key);
                d.size = Some(file.size as i64);
                d.md5 = Some(file.md5);
                d.sha256 = Some(file.sha256);
                d.progress = 100;
                d.format = i64::from(header.version);
                // What a device needs to apply it, compared with the limit it announced.
                d.apply_need = Some(i64::try_from(header.apply_need()).unwrap_or(i64::MAX));
            }
            Ok(None) => {
                d.status = "SKIPPED".into();
                d.error = Some(format!("patch over {PAYOFF_PERCENT}% of the full image"));
                d.progress = 100;
            }
            Err(e) => {
                d.status = "FAILED".into();
                d.error = Some(e.to_string());
                d.progress = i64::from(progress.load(Ordering::Relaxed));
            }
        }
        d.finished_at = Some(self.now());
        tracing::info!(firmware_id = %d.firmware_id, src_version = %d.src_version, status = %d.status, "delta generated");
        // A ready delta's event commits with its row (ADR 0016).
        let ready = (d.status == "READY").then(|| {
            crate::webhooks::event(
                ota_domain::webhook::EventType::DeltaReady,
                self.now(),
                "",
                serde_json::json!({
                    "firmware_id": d.firmware_id,
                    "src_version": d.src_version,
                    "size": d.size,
                    "sha256": d.sha256,
                }),
            )
        });
        if !self.store().finish_delta(&d, ready.as_slice()).await? {
            // The package was deleted while its delta was generated.
            if let Some(key) = &d.blob_key
                && let Err(e) = self.blobs().delete(key).await
            {
                tracing::warn!(error = %e, "deleting an orphaned delta failed");
            }
        } else if ready.is_some() {
            self.wake_webhooks();
        }
        self.deltas().forget_ready_deltas(&d.firmware_id);
        Ok(true)
    }

    /// Writes `progress` of the running `d` whenever it changed, until aborted.
    fn progress_ticker(
        &self,
        d: &DeltaRow,
        progress: Arc<AtomicU8>,
    ) -> tokio::task::JoinHandle<()> {
        let core = self.clone();
        let (firmware_id, src_version) = (d.firmware_id.clone(), d.src_version.clone());
        tokio::spawn(async move {
            let mut written = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(PROGRESS_EVERY_MS)).await;
                let now = progress.load(Ordering::Relaxed);
                if now == written {
                    continue;
                }
                written = now;
                let stored = core
                    .store()
                    .delta_progress(&firmware_id, &src_version, i64::from(now), core.now())
                    .await;
                if let Err(e) = stored {
                    tracing::debug!(error = %e, "delta progress not recorded");
                }
            }
        })
    }

    /// Diffs the two images; `None` when the patch does not pay off.
    async fn generate(
        &self,
        d: &DeltaRow,
        progress: &Arc<AtomicU8>,
    ) -> CoreResult<Option<(FirmwareFile, ota_delta::PatchHeader)>> {
        let target = self
            .firmwares()
            .get(&FirmwareId(d.firmware_id.clone()))
            .await?;
        let base = self
            .firmwares()
            .get(&FirmwareId(d.src_firmware_id.clone()))
            .await?;
        let (Some(new_file), Some(old_file)) = (target.main_file(), base.main_file()) else {
            return Err(DomainError::invalid("FirmwareId", "package has no file").into());
        };
        // The new image is read by the diff from its file: a large one in slices, so the
        // server holds one image in memory, not two.
        let mut new = self.blobs().open_file(&new_file.blob_key).await?;
        let new_len = new_file.size;
        let old = self
            .blobs()
            .read_range(&old_file.blob_key, 0, old_file.size as usize)
            .await?;
        progress.store(READ, Ordering::Relaxed);
        let diff_progress = Arc::clone(progress);
        let patch = tokio::task::spawn_blocking(move || {
            let opts = ota_delta::DiffOptions {
                progress: Some(ota_delta::DiffProgress(Arc::new(move |p| {
                    let scaled = READ + (u16::from(p) * u16::from(DIFFED - READ) / 100) as u8;
                    diff_progress.store(scaled, Ordering::Relaxed);
                }))),
                ..ota_delta::DiffOptions::default()
            };
            ota_delta::diff_reader(&old, &mut new, new_len, &opts)
        })
        .await
        .map_err(|e| DomainError::invalid("delta", e.to_string()))?
        .map_err(|e| DomainError::invalid("delta", e.to_string()))?;
        if patch.len() as u64 * 100 > new_file.size * PAYOFF_PERCENT {
            return Ok(None);
        }
        // Patches are written in the oldest format version that has their method; devices
        // that only read older versions get the full package instead. The header also says
        // how much memory applying it takes.
        let header = ota_delta::inspect(&patch[..])
            .map_err(|e| DomainError::invalid("delta", e.to_string()))?;
        let key = format!(
            "delta-{}-{}",
            d.firmware_id,
            hex::encode(d.src_version.as_bytes())
        );
        let info = self.blobs().put_bytes(&key, patch.into()).await?;
        let file = FirmwareFile {
            name: new_file.name.clone(),
            blob_key: info.key,
            size: info.size,
            md5: info.md5,
            sha256: info.sha256,
            sign_value: String::new(),
        };
        Ok(Some((file, header)))
    }
}
