//! Creating a batch: validated against its package and stored; its tasks are created by
//! the batch creator (`creator`).

use super::*;
use crate::error::Found;
use crate::{CoreResult, Jobs, ids};
use ota_domain::firmware::FirmwareStatus;
use ota_domain::job::{Job, JobStatus, JobType, SelectionType, TargetSelection};
use ota_domain::validate::{self};
use ota_domain::{DomainError, ErrorCode, FirmwareId, JobId, ProductKey};

impl Jobs<'_> {
    /// Creates a batch, then waits for its tasks to be created (set-based, by the batch
    /// creator) for up to `creation_wait`: the batch is returned as it is then, with how
    /// far creation got. The dispatcher pushes once the last task is created.
    pub async fn create(
        &self,
        firmware_id: &FirmwareId,
        product_key: Option<&ProductKey>,
        request: JobRequest,
    ) -> CoreResult<Job> {
        let store = self.store();
        let now = self.now();
        let mut firmware = store
            .get_firmware(firmware_id)
            .await
            .found("FirmwareId", format!("package {firmware_id}"))?;
        if product_key.is_some_and(|pk| pk != &firmware.product_key) {
            return Err(DomainError::invalid("ProductKey", "is not the package's product").into());
        }
        let validated = match request {
            JobRequest::Verify(r) => {
                validate::check_firmware_verifiable(&firmware)?;
                r.validate(&firmware, now)?
            }
            JobRequest::Static(r) => {
                validate::check_firmware_usable_for_batch(&firmware)?;
                r.validate(&firmware, now)?
            }
            JobRequest::Dynamic(r) => {
                validate::check_firmware_usable_for_batch(&firmware)?;
                r.validate(&firmware, now)?
            }
        };
        let mut validated = validated;
        if let Some(url) = validated.dn_list_file_url.take() {
            let names = self.device_list_file(&url).await?;
            validated.target_selection = TargetSelection::Specific {
                device_names: names,
            };
        }
        if validated.selection_type == SelectionType::Dynamic
            && store
                .list_jobs_by_status(&[JobStatus::InProgress, JobStatus::Planned])
                .await?
                .iter()
                .any(|j| {
                    j.firmware_id == firmware.firmware_id
                        && j.selection_type == SelectionType::Dynamic
                })
        {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("FirmwareId"),
                "the package already has an active dynamic batch; cancel its policy first",
            )
            .into());
        }
        if let TargetSelection::Specific { device_names } = &validated.target_selection {
            self.require_devices(&firmware.product_key, device_names)
                .await?;
        }
        if let TargetSelection::Group { group_id } = &validated.target_selection {
            self.registry().group(group_id).await?;
        }
        let mut job = validated.into_job(JobId(ids::job_id()), &firmware, now);
        if creator::creation_target(&job).is_none()
            && let Some(creation) = job.creation.as_mut()
        {
            // Nothing to create: only devices reporting from now on join it.
            creation.finish(now);
        }
        store
            .insert_job_with_events(&job, &crate::webhooks::created_events(&job, now))
            .await?;
        self.wake_webhooks();
        if job.job_type == JobType::VerifyFirmware {
            firmware.status = FirmwareStatus::Verifying;
            firmware.verify_progress = 0;
            firmware.modified_at = now;
            store.update_firmware(&firmware).await?;
            self.inner.cache.evict_firmware(&firmware.firmware_id);
        }
        metrics::counter!("ota_jobs_created_total", "type" => job.job_type.as_str()).increment(1);
        if job.is_creating() {
            self.kick_creator();
            return self
                .wait_created(&job.job_id, self.config().creation_wait)
                .await;
        }
        self.wake_dispatcher();
        self.settle(&job.job_id).await?;
        self.get(&job.job_id).await
    }

    /// Reads an uploaded device-list CSV (GenerateDeviceNameListURL / DnListFileUrl).
    async fn device_list_file(&self, url: &str) -> CoreResult<Vec<String>> {
        let key = crate::firmwares::upload_key_from_url(url);
        let limit = validate::MAX_DEVICE_LIST_BYTES as u64;
        let size = self.blobs().size(key).await.map_err(|_| {
            DomainError::not_found("DnListFileUrl", "no uploaded device list under this URL")
        })?;
        if size > limit {
            return Err(DomainError::invalid(
                "DnListFileUrl",
                "the device list must be at most 5 MB",
            )
            .into());
        }
        let bytes = self.blobs().read_range(key, 0, size as usize).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            DomainError::invalid("DnListFileUrl", "the device list must be UTF-8 text")
        })?;
        Ok(validate::parse_device_list_csv(text)?)
    }

    async fn require_devices(&self, pk: &ProductKey, names: &[String]) -> CoreResult<()> {
        let missing = self.store().missing_device_names(pk, names).await?;
        if let Some(name) = missing.first() {
            return Err(DomainError::not_found(
                "TargetDeviceName",
                format!(
                    "device {name:?} does not exist in product {pk} ({} unknown names)",
                    missing.len()
                ),
            )
            .into());
        }
        Ok(())
    }
}
