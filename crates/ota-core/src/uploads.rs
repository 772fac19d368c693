//! Granted uploads: the browser-form (OSS PostObject) flow behind GenerateOTAUploadURL and
//! GenerateDeviceNameListURL. A grant fixes the object key, the size range and how long the
//! credentials last (one minute); the bytes must arrive within both. Like every upload, a
//! granted file that no package references within 60 minutes is collected.

use crate::firmwares::UploadedFile;
use crate::{Core, CoreResult, Firmwares, ids};
use bytes::Bytes;
use futures::Stream;
use ota_domain::time::MINUTE;
use ota_domain::validate::{self, MAX_DEVICE_LIST_BYTES};
use ota_domain::{DomainError, ErrorCode, Millis};
use ota_store::UploadToken;

/// How long upload credentials stay valid (Aliyun: 1 minute).
pub const UPLOAD_CREDENTIAL_TTL: Millis = MINUTE;
/// How long an uploaded file waits for a package or batch to reference it.
pub const UPLOAD_REFERENCE_TTL: Millis = 60 * MINUTE;

/// What a granted upload is for; it decides the key's suffix and the size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadPurpose {
    /// A package file with one of the allowed suffixes (`FileSuffix`).
    Package { suffix: &'static str },
    /// A device-name list (CSV, at most 5 MB) for `DnListFileUrl`.
    DeviceList,
}

/// Permission to upload one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    /// The object key; also what `FirmwareUrl` / `DnListFileUrl` resolve to.
    pub key: String,
    pub created_at: Millis,
    /// The credentials are refused after this instant.
    pub expires_at: Millis,
    /// Accepted sizes in bytes, inclusive.
    pub min_size: u64,
    pub max_size: u64,
}

impl Firmwares<'_> {
    /// Grants an upload: reserves a key and records it, so the file is collected if it is
    /// never referenced.
    pub async fn grant_upload(&self, purpose: UploadPurpose) -> CoreResult<UploadGrant> {
        let (suffix, max_size) = match purpose {
            UploadPurpose::Package { suffix } => (suffix, self.config().max_file_size),
            UploadPurpose::DeviceList => ("csv", MAX_DEVICE_LIST_BYTES as u64),
        };
        let now = self.now();
        let key = format!("uploads/{}.{suffix}", ids::object_name());
        self.store()
            .insert_upload_token(&UploadToken {
                token: key.clone(),
                created_at: now,
                expires_at: now + UPLOAD_REFERENCE_TTL,
                max_size: i64::try_from(max_size).unwrap_or(i64::MAX),
                used: false,
            })
            .await?;
        Ok(UploadGrant {
            key,
            created_at: now,
            expires_at: now + UPLOAD_CREDENTIAL_TTL,
            min_size: 0,
            max_size,
        })
    }

    /// Stores the bytes of a granted upload. `expires_at` and `sizes` come from the signed
    /// grant the client presents; the key must have been granted, not yet referenced and
    /// not collected. The size limit is enforced while streaming.
    pub async fn receive_granted_upload<S, E>(
        &self,
        key: &str,
        expires_at: Millis,
        sizes: (u64, u64),
        body: S,
    ) -> CoreResult<UploadedFile>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let now = self.now();
        if now > expires_at {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("policy"),
                "the upload credentials expired (they are valid for 1 minute)",
            )
            .into());
        }
        let Some(token) = self.store().get_upload_token(key).await? else {
            return Err(DomainError::not_found("key", "no upload was granted for this key").into());
        };
        if token.used || token.expires_at < now {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("key"),
                "this upload was already referenced or has expired",
            )
            .into());
        }
        let limit = sizes.1.min(u64::try_from(token.max_size).unwrap_or(0));
        let info = self.blobs().put_stream(key, body, limit).await?;
        if info.size < sizes.0 {
            self.blobs().delete(key).await?;
            return Err(DomainError::invalid(
                "file",
                format!("must be at least {} bytes", sizes.0),
            )
            .into());
        }
        Ok(UploadedFile {
            key: info.key,
            size: info.size,
            md5: info.md5,
            sha256: info.sha256,
        })
    }
}

/// GenerateOTAUploadURL's `FileSuffix` as an upload purpose.
pub fn package_upload(file_suffix: Option<&str>) -> Result<UploadPurpose, DomainError> {
    Ok(UploadPurpose::Package {
        suffix: validate::file_suffix(file_suffix)?,
    })
}

/// The collection of uploads no package referenced in time: one node of several at a time.
pub(crate) struct UploadCollector;

impl crate::engine::worker::Worker for UploadCollector {
    const NAME: &'static str = "upload-collector";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<crate::engine::worker::Pace> {
        let removed = core.firmwares().collect_expired_uploads().await?;
        if removed > 0 {
            tracing::info!(removed, "expired uploads collected");
        }
        Ok(crate::engine::worker::Pace::Idle)
    }

    async fn until_next(&mut self, _core: &Core) {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }

    fn exclusive(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(150))
    }
}
