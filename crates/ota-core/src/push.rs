//! What a device is told: the upgrade message for a task, the pull reply, and MQTT block
//! download. All three read the same package description, so a device sees one truth
//! whichever way it asks.

use crate::{CoreResult, Delivery};
use bytes::Bytes;
use ota_domain::firmware::{Firmware, FirmwareFile, FirmwareType, SignMethod};
use ota_domain::job::{DownloadProtocol, Job};
use ota_domain::registry::DEFAULT_MODULE;
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, DomainError, Millis};
use ota_protocol::{ExtData, FileEntry, TopicKind, UpgradeData, UpgradePush};

/// The MQTT stream file id of a server-generated delta (the full package is file 1).
pub const DELTA_FILE_ID: u64 = 2;

/// The stream id of a package for MQTT block download: stable, derived from its id.
pub fn stream_id(firmware: &Firmware) -> u64 {
    // FNV-1a, folded to 31 bits: small enough for every SDK's integer parsing.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in firmware.firmware_id.as_str().bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash ^ (hash >> 31)) & 0x7fff_ffff
}

fn wire_sign_method(method: SignMethod) -> ota_protocol::SignMethod {
    match method {
        SignMethod::Md5 => ota_protocol::SignMethod::Md5,
        SignMethod::Sha256 => ota_protocol::SignMethod::Sha256,
    }
}

/// Times a pull reads its task again after finding it changed by a concurrent save.
const PULL_ATTEMPTS: u32 = 3;

impl Delivery<'_> {
    /// A signed, expiring download URL for a stored file: presigned on the storage service
    /// when packages are in a bucket, else the server's own download route.
    pub async fn download_url(&self, file: &FirmwareFile, now: Millis) -> CoreResult<String> {
        let ttl = std::time::Duration::from_millis(self.config().download_url_ttl.max(0) as u64);
        if let Some(presigned) = self.blobs().presigned_get(&file.blob_key, ttl).await {
            return Ok(presigned?);
        }
        Ok(self.server_download_url(file, now))
    }

    /// The server's own signed download URL (`/dl/…`) for a stored file.
    fn server_download_url(&self, file: &FirmwareFile, now: Millis) -> String {
        let path = format!("/dl/{}", file.blob_key);
        let expires = (now + self.config().download_url_ttl) / 1000;
        let query = self.signer().sign(&path, expires);
        format!(
            "{}{}?{}",
            self.config().public_url.trim_end_matches('/'),
            path,
            query
        )
    }

    /// The `data` object describing `firmware` to a device, under `job`'s delivery rules.
    pub async fn upgrade_data(
        &self,
        firmware: &Firmware,
        job: &Job,
        now: Millis,
    ) -> CoreResult<UpgradeData> {
        let mut data = UpgradeData {
            version: firmware.dest_version.clone(),
            sign_method: wire_sign_method(firmware.sign_method),
            module: (firmware.module_name != DEFAULT_MODULE).then(|| firmware.module_name.clone()),
            is_diff: firmware.firmware_type == FirmwareType::Differential,
            ..UpgradeData::default()
        };
        let ext = ExtData {
            tags: job.tags.clone(),
            package_udi: firmware.udi.clone(),
            manifest: None,
        };
        data.ext_data = (!ext.tags.is_empty() || ext.package_udi.is_some()).then_some(ext);
        if firmware.multi_file {
            let mut files = Vec::with_capacity(firmware.files.len());
            for f in &firmware.files {
                files.push(FileEntry {
                    file_name: f.name.clone(),
                    file_size: f.size,
                    file_url: self.download_url(f, now).await?,
                    file_sign: f.sign_value.clone(),
                    file_md5: Some(f.md5.clone()),
                });
            }
            data.files = Some(files);
            return Ok(data);
        }
        if let Some(file) = firmware.main_file() {
            data.size = Some(file.size);
            data.md5 = Some(file.md5.clone());
            data.sign = Some(file.sign_value.clone());
            match job.policy.download_protocol {
                DownloadProtocol::Https => data.url = Some(self.download_url(file, now).await?),
                DownloadProtocol::Mqtt => {
                    data.d_protocol = Some("mqtt".to_owned());
                    data.stream_id = Some(stream_id(firmware));
                    data.stream_file_id = Some(1);
                }
            }
        }
        Ok(data)
    }

    /// [`Delivery::upgrade_data`](crate::Delivery::upgrade_data) with the signed manifest in `extData._manifest` and its
    /// Ed25519 signature in `digestsign` (see `signing.rs`).
    pub async fn signed_upgrade_data(
        &self,
        firmware: &Firmware,
        job: &Job,
        now: Millis,
    ) -> CoreResult<UpgradeData> {
        let mut data = self.upgrade_data(firmware, job, now).await?;
        if let Some((manifest, signature)) = self.signing().signed_manifest(firmware, now).await? {
            data.ext_data.get_or_insert_with(ExtData::default).manifest = Some(manifest);
            data.digestsign = Some(signature);
        }
        Ok(data)
    }

    /// The signed description of `firmware` for `task`'s device: the delta from the version
    /// it reported when one is ready (over MQTT as stream file [`DELTA_FILE_ID`]), else the
    /// full package.
    async fn task_upgrade_data(
        &self,
        firmware: &Firmware,
        job: &Job,
        task: &Task,
        now: Millis,
    ) -> CoreResult<UpgradeData> {
        let delta = self.deltas().delta_variant(firmware, task, now).await?;
        let mut data = self
            .signed_upgrade_data(delta.as_ref().unwrap_or(firmware), job, now)
            .await?;
        if delta.is_some() && data.stream_id.is_some() {
            data.stream_file_id = Some(DELTA_FILE_ID);
        }
        Ok(data)
    }

    /// The topic and payload of the upgrade push for `task`.
    pub(crate) async fn upgrade_message(
        &self,
        firmware: &Firmware,
        job: &Job,
        task: &Task,
        now: Millis,
    ) -> CoreResult<(String, Vec<u8>)> {
        let data = self.task_upgrade_data(firmware, job, task, now).await?;
        let push = UpgradePush::new(data, now.max(0) as u64);
        let topic = TopicKind::Upgrade.topic(task.product_key.as_str(), task.device_name.as_str());
        Ok((topic, push.to_vec()))
    }

    /// Answers a device's pull (`thing/ota/firmware/get`): the package of its pending task
    /// for `module`, marking the task NOTIFIED. `None` when there is nothing to update.
    ///
    /// A pull can race the push of the same task: the dispatcher sends the push before it
    /// saves the task NOTIFIED, and a device that pulls as soon as the push arrives finds the
    /// task still QUEUED and marks it NOTIFIED too. The later of the two saves finds the row
    /// changed; the pull then reads the task again, now NOTIFIED, and answers with it.
    pub async fn firmware_get(
        &self,
        device: &DeviceKey,
        module: Option<&str>,
    ) -> CoreResult<Option<UpgradePush>> {
        let mut attempts = 0;
        loop {
            match self.firmware_get_once(device, module).await {
                Err(err) if err.is_stale() && attempts < PULL_ATTEMPTS => attempts += 1,
                answer => return answer,
            }
        }
    }

    async fn firmware_get_once(
        &self,
        device: &DeviceKey,
        module: Option<&str>,
    ) -> CoreResult<Option<UpgradePush>> {
        let now = self.now();
        let module = module.filter(|m| !m.is_empty()).unwrap_or(DEFAULT_MODULE);
        let tasks = self
            .store()
            .active_tasks_for_devices(std::slice::from_ref(device))
            .await?;
        let Some(task) = tasks.into_iter().find(|t| {
            t.module_name == module
                && matches!(
                    t.status,
                    TaskStatus::Queued | TaskStatus::Notified | TaskStatus::InProgress
                )
        }) else {
            return Ok(None);
        };
        let job = self.inner.cache.job(self.store(), &task.job_id).await?;
        let firmware = self
            .inner
            .cache
            .firmware(self.store(), &task.firmware_id)
            .await?;
        let mut outcome = crate::engine::apply::TaskChanges::default();
        if task.status == TaskStatus::Queued {
            // A paused batch, or one still being created, starts no new device, on a pull
            // either. Read fresh: the pause may come from another node.
            if self.jobs().get(&task.job_id).await?.is_held() {
                return Ok(None);
            }
            let delivered = outcome
                .apply(self, &task, ota_domain::task::TaskEvent::Delivered, now)
                .await?;
            if delivered.is_none() {
                return Ok(None);
            }
        }
        outcome.commit(self).await?;
        Ok(Some(UpgradePush::new(
            self.task_upgrade_data(&firmware, &job, &task, now).await?,
            now.max(0) as u64,
        )))
    }

    /// One block of a package for MQTT download. The device may only read packages of its
    /// own unfinished tasks; file [`DELTA_FILE_ID`] is the delta from the version the
    /// device reported. Returns the file length and the bytes.
    pub async fn file_block(
        &self,
        device: &DeviceKey,
        stream: u64,
        file_id: u64,
        offset: u64,
        size: u64,
    ) -> CoreResult<(u64, Bytes)> {
        let now = self.now();
        let grants = &self.inner.block_grants;
        let grant = match grants.get(device, stream, file_id, now) {
            Some(grant) => grant,
            None => {
                let grant = self.block_grant(device, stream, file_id, now).await?;
                grants.put(device, stream, file_id, grant.clone(), now);
                grant
            }
        };
        if offset > grant.size {
            return Err(
                DomainError::invalid("fileBlock.offset", "is past the end of the file").into(),
            );
        }
        let len = size.min(self.config().max_block_size as u64) as usize;
        let bytes = self
            .blobs()
            .read_range(&grant.blob_key, offset, len)
            .await?;
        Ok((grant.size, bytes))
    }

    /// The file `stream`/`file_id` names for `device`: the package of one of its unfinished
    /// tasks, or (file [`DELTA_FILE_ID`]) that package's delta from the device's version.
    async fn block_grant(
        &self,
        device: &DeviceKey,
        stream: u64,
        file_id: u64,
        now: Millis,
    ) -> CoreResult<crate::block_grants::Grant> {
        let tasks = self
            .store()
            .active_tasks_for_devices(std::slice::from_ref(device))
            .await?;
        for task in tasks {
            let firmware = self
                .inner
                .cache
                .firmware(self.store(), &task.firmware_id)
                .await?;
            if stream_id(&firmware) != stream {
                continue;
            }
            let delta = if file_id == DELTA_FILE_ID {
                self.deltas().delta_variant(&firmware, &task, now).await?
            } else {
                None
            };
            if file_id == DELTA_FILE_ID && delta.is_none() {
                return Err(DomainError::not_found(
                    "fileInfo.fileId",
                    "no delta for the device's version",
                )
                .into());
            }
            let Some(file) = delta.as_ref().unwrap_or(&firmware).main_file() else {
                continue;
            };
            if file.size > self.config().max_mqtt_download {
                return Err(DomainError::invalid(
                    "streamId",
                    "file size has exceeded the limit 16 MB",
                )
                .into());
            }
            return Ok(crate::block_grants::Grant {
                blob_key: file.blob_key.clone(),
                size: file.size,
            });
        }
        Err(DomainError::not_found(
            "streamId",
            "no pending package with this stream for the device",
        )
        .into())
    }
}
