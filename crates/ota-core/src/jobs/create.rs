//! Creating a batch: validated against its package, stored, its tasks created set-based.

use super::*;
use crate::error::Found;
use crate::{CoreResult, Jobs, ids};
use ota_domain::firmware::FirmwareStatus;
use ota_domain::job::{DynamicMode, Job, JobStatus, JobType, SelectionType, TargetSelection};
use ota_domain::validate::{self};
use ota_domain::{DomainError, ErrorCode, FirmwareId, JobId, ProductKey};
use ota_store::{CreatedTasks, TaskCreation, TaskTarget};

impl Jobs<'_> {
    /// Creates a batch and its tasks (set-based), then lets the dispatcher push.
    pub async fn create(
        &self,
        firmware_id: &FirmwareId,
        product_key: Option<&ProductKey>,
        request: JobRequest,
    ) -> CoreResult<(Job, CreatedTasks)> {
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
        let job = validated.into_job(JobId(ids::job_id()), &firmware, now);
        store.insert_job(&job).await?;
        let target = match (
            &job.selection_type,
            &job.target_selection,
            job.policy.dynamic_mode,
        ) {
            (SelectionType::Dynamic, _, Some(DynamicMode::OnlyNewReports)) => None,
            (_, TargetSelection::All, _) => Some(TaskTarget::All),
            (_, TargetSelection::Specific { device_names }, _) => {
                Some(TaskTarget::Names(device_names))
            }
            (_, TargetSelection::Gray { milli_percent }, _) => Some(TaskTarget::Gray {
                milli_percent: *milli_percent,
            }),
            (_, TargetSelection::Group { group_id }, _) => Some(TaskTarget::Group(group_id)),
        };
        let created = match target {
            Some(target) => {
                store
                    .create_tasks(&TaskCreation {
                        job: &job,
                        module_name: &firmware.module_name,
                        dest_version: &firmware.dest_version,
                        required_src_version: required_src(&firmware),
                        target,
                        now,
                    })
                    .await?
            }
            None => CreatedTasks::default(),
        };
        if created.overwritten > 0 {
            // The store cancelled tasks of other batches (OVERWRITTEN): they may be done now.
            for other in store.list_jobs_by_status(&[JobStatus::InProgress]).await? {
                if other.job_id != job.job_id && other.product_key == job.product_key {
                    self.settle(&other.job_id).await?;
                }
            }
        }
        if job.job_type == JobType::VerifyFirmware {
            firmware.status = FirmwareStatus::Verifying;
            firmware.verify_progress = 0;
            firmware.modified_at = now;
            store.update_firmware(&firmware).await?;
            self.inner.cache.evict_firmware(&firmware.firmware_id);
        }
        metrics::counter!("ota_jobs_created_total", "type" => job.job_type.as_str()).increment(1);
        self.wake_dispatcher();
        self.settle(&job.job_id).await?;
        let job = store
            .get_job(&job.job_id)
            .await
            .found("JobId", format!("batch {}", job.job_id))?;
        Ok((job, created))
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
