//! Package use cases: streamed upload, creation from uploaded files, queries and changes.

use crate::error::Found;
use crate::{CoreResult, Firmwares, ids};
use bytes::Bytes;
use futures::Stream;
use ota_domain::firmware::{Firmware, FirmwareFile, SignMethod};
use ota_domain::validate::{self as rules, FirmwareChanges, FirmwareSpec, PackageFiles};
use ota_domain::{DomainError, ErrorCode, FirmwareId, ProductKey};
use ota_store::{Page, UploadToken};

/// A file that was uploaded and can become part of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The reference to pass as `FirmwareUrl` / `MultiFiles.N.Url`.
    pub key: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
}

/// What a client said about one file of a new package.
struct FileClaim {
    /// Parameter prefix for error messages (`FirmwareUrl`, `MultiFiles.2`).
    field: String,
    name: Option<String>,
    url: String,
    size: Option<u64>,
    md5: Option<String>,
    sign: Option<String>,
}

/// Extracts the storage key from what a client passes as a file URL: either the bare key
/// or any URL whose path ends in `/uploads/<key>`.
pub fn upload_key_from_url(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    match path.rfind("uploads/") {
        Some(i) => &path[i..],
        None => path,
    }
}

impl Firmwares<'_> {
    /// Streams an upload into package storage: a package file (its name's suffix one of
    /// the allowed package suffixes) or a device-name list for `device_list_url` (`.csv`,
    /// at most 5 MB). The size limit is enforced while streaming.
    pub async fn upload_file<S, E>(&self, file_name: &str, body: S) -> CoreResult<UploadedFile>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let (suffix, limit) = if file_name.to_ascii_lowercase().ends_with(".csv") {
            ("csv", ota_domain::validate::MAX_DEVICE_LIST_BYTES as u64)
        } else {
            let suffix = rules::allowed_package_suffix(file_name).ok_or_else(|| {
                DomainError::invalid(
                    "FileSuffix",
                    "must be one of bin, dav, apk, tar, gz, tar.gz, zip, gzip (a package) \
                     or csv (a device list)",
                )
            })?;
            (suffix, self.config().max_file_size)
        };
        let key = format!("uploads/{}.{suffix}", ids::object_name());
        let info = self.blobs().put_stream(&key, body, limit).await?;
        let now = self.now();
        self.store()
            .insert_upload_token(&UploadToken {
                token: key.clone(),
                created_at: now,
                expires_at: now + 60 * 60_000,
                max_size: i64::try_from(limit).unwrap_or(i64::MAX),
                used: false,
            })
            .await?;
        Ok(UploadedFile {
            key: info.key,
            size: info.size,
            md5: info.md5,
            sha256: info.sha256,
        })
    }

    /// Creates a package from uploaded files (CreateOTAFirmware). What the client claimed
    /// about each file (size, digests) must match the stored bytes.
    pub async fn create(&self, pk: &ProductKey, spec: FirmwareSpec) -> CoreResult<Firmware> {
        let store = self.store();
        self.registry().product(pk).await?;
        let limit = usize::try_from(self.config().firmware_quota).unwrap_or(usize::MAX);
        rules::check_firmware_quota(
            usize::try_from(store.count_firmwares().await?).unwrap_or(0),
            limit,
        )?;
        let module_name = spec.module_name.into_string();
        if store.get_module(pk, &module_name).await?.is_none() {
            return Err(DomainError::not_found(
                "ModuleName",
                format!("module {module_name:?} does not exist in the product"),
            )
            .into());
        }
        // Two packages of one version of a module would leave "version X" ambiguous to
        // devices, deltas and operators alike (a differential package is told apart by its
        // source version).
        let (same_version, _) = store
            .list_firmwares(
                Some(pk),
                Some(spec.dest_version.as_str()),
                Page::new(0, 100),
            )
            .await?;
        let src = spec.src_version.as_ref().map(|v| v.as_str());
        if let Some(existing) = same_version.iter().find(|f| {
            f.module_name == module_name
                && f.firmware_type == spec.firmware_type
                && f.src_version.as_deref() == src
        }) {
            return Err(DomainError::new(
                ErrorCode::AlreadyExists,
                Some("DestVersion"),
                format!(
                    "module {module_name:?} already has a package of version {} ({}, {:?}); \
                     delete it or give another version",
                    existing.dest_version, existing.firmware_id, existing.firmware_name
                ),
            )
            .into());
        }
        if store
            .firmware_name_exists(spec.firmware_name.as_str())
            .await?
        {
            return Err(DomainError::new(
                ErrorCode::AlreadyExists,
                Some("FirmwareName"),
                "a package with this name exists",
            )
            .into());
        }
        let (multi_file, claims) = match spec.files {
            PackageFiles::Single(file) => (
                false,
                vec![FileClaim {
                    field: "FirmwareUrl".to_owned(),
                    name: None,
                    url: file.url,
                    size: file.size,
                    md5: None,
                    sign: file.sign,
                }],
            ),
            PackageFiles::Multi(files) => (
                true,
                files
                    .into_iter()
                    .enumerate()
                    .map(|(i, f)| FileClaim {
                        field: format!("MultiFiles.{}", i + 1),
                        name: Some(f.name),
                        url: f.url,
                        size: f.size,
                        md5: f.md5,
                        sign: f.sign_value,
                    })
                    .collect(),
            ),
        };
        let mut files = Vec::with_capacity(claims.len());
        for claim in claims {
            files.push(self.resolve_file(claim, spec.sign_method).await?);
        }
        let now = self.now();
        let firmware = Firmware {
            firmware_id: FirmwareId(ids::firmware_id()),
            product_key: pk.clone(),
            firmware_name: spec.firmware_name.into_string(),
            firmware_desc: spec.firmware_desc,
            module_name,
            firmware_type: spec.firmware_type,
            src_version: spec.src_version.map(|v| v.into_string()),
            dest_version: spec.dest_version.into_string(),
            sign_method: spec.sign_method,
            status: spec.status,
            verify_progress: 0,
            udi: spec.udi,
            multi_file,
            files,
            created_at: now,
            modified_at: now,
        };
        store.insert_firmware(&firmware).await?;
        for file in &firmware.files {
            store.mark_upload_used(&file.blob_key).await?;
        }
        Ok(firmware)
    }

    /// Looks up an uploaded file and checks what the client claimed about it.
    async fn resolve_file(&self, claim: FileClaim, method: SignMethod) -> CoreResult<FirmwareFile> {
        let key = upload_key_from_url(&claim.url).to_owned();
        let field = |sub: &str| {
            if claim.name.is_some() {
                format!("{}.{sub}", claim.field)
            } else {
                sub.to_owned()
            }
        };
        if self
            .store()
            .get_upload_token(&key)
            .await?
            .is_none_or(|t| t.expires_at < self.now() && !t.used)
        {
            return Err(DomainError::not_found(
                if claim.name.is_some() {
                    field("Url")
                } else {
                    "FirmwareUrl".to_owned()
                },
                "no uploaded file under this URL (uploads expire after 60 minutes)",
            )
            .into());
        }
        let info = self.blob_digests(&key).await?;
        if claim.size.is_some_and(|s| s != info.size) {
            let f = if claim.name.is_some() {
                field("Size")
            } else {
                "FirmwareSize".to_owned()
            };
            return Err(DomainError::invalid(
                f,
                format!("does not match the uploaded file ({} bytes)", info.size),
            )
            .into());
        }
        if claim
            .md5
            .as_ref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(&info.md5))
        {
            return Err(
                DomainError::invalid(field("FileMd5"), "does not match the uploaded file").into(),
            );
        }
        let digest = match method {
            SignMethod::Md5 => info.md5.clone(),
            SignMethod::Sha256 => info.sha256.clone(),
        };
        if claim
            .sign
            .as_ref()
            .is_some_and(|s| !s.eq_ignore_ascii_case(&digest))
        {
            let f = if claim.name.is_some() {
                field("SignValue")
            } else {
                "FirmwareSign".to_owned()
            };
            return Err(DomainError::invalid(
                f,
                format!(
                    "does not match the uploaded file's {} digest",
                    method.api_literal()
                ),
            )
            .into());
        }
        let name = claim
            .name
            .unwrap_or_else(|| key.rsplit('/').next().unwrap_or(&key).to_owned());
        Ok(FirmwareFile {
            name,
            blob_key: key,
            size: info.size,
            md5: info.md5,
            sha256: info.sha256,
            sign_value: digest,
        })
    }

    /// Size and digests of a stored upload, recomputed from the stored bytes.
    async fn blob_digests(&self, key: &str) -> CoreResult<UploadedFile> {
        let stream = match self.blobs().read_stream(key).await {
            Ok(stream) => stream,
            Err(ota_blob::BlobError::NotFound(_)) => {
                return Err(
                    DomainError::not_found("FirmwareUrl", "the uploaded file is gone").into(),
                );
            }
            Err(err) => return Err(err.into()),
        };
        let info = ota_blob::digest_stream(stream).await?;
        Ok(UploadedFile {
            key: key.to_owned(),
            size: info.0,
            md5: info.1,
            sha256: info.2,
        })
    }

    pub async fn get(&self, id: &FirmwareId) -> CoreResult<Firmware> {
        self.store()
            .get_firmware(id)
            .await
            .found("FirmwareId", format!("package {id}"))
    }

    pub async fn list(
        &self,
        pk: Option<&ProductKey>,
        dest_version: Option<&str>,
        page: Page,
    ) -> CoreResult<(Vec<Firmware>, i64)> {
        Ok(self.store().list_firmwares(pk, dest_version, page).await?)
    }

    /// ModifyOTAFirmware: name, description and Udi may change.
    pub async fn modify(&self, id: &FirmwareId, changes: FirmwareChanges) -> CoreResult<Firmware> {
        let mut firmware = self.get(id).await?;
        if let Some(name) = changes.firmware_name {
            let name = name.into_string();
            if name != firmware.firmware_name && self.store().firmware_name_exists(&name).await? {
                return Err(DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("FirmwareName"),
                    "a package with this name exists",
                )
                .into());
            }
            firmware.firmware_name = name;
        }
        if changes.firmware_desc.is_some() {
            firmware.firmware_desc = changes.firmware_desc;
        }
        if changes.firmware_udi.is_some() {
            firmware.udi = changes.firmware_udi;
        }
        firmware.modified_at = self.now();
        self.store().update_firmware(&firmware).await?;
        self.inner.cache.evict_firmware(id);
        Ok(firmware)
    }

    /// DeleteOTAFirmware. A package with an active batch cannot be deleted.
    pub async fn delete(&self, id: &FirmwareId) -> CoreResult<()> {
        let firmware = self.get(id).await?;
        let active = self
            .store()
            .list_jobs_by_status(&[
                ota_domain::job::JobStatus::Planned,
                ota_domain::job::JobStatus::InProgress,
            ])
            .await?;
        if active.iter().any(|j| &j.firmware_id == id) {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("FirmwareId"),
                "the package has an active batch; cancel it first",
            )
            .into());
        }
        self.store().delete_firmware(id).await?;
        self.inner.cache.evict_firmware(id);
        for file in &firmware.files {
            self.blobs().delete(&file.blob_key).await?;
        }
        // Its deltas go with it; deltas *from* it stay valid for devices on that version.
        for key in self.store().delete_deltas_of(id.as_str()).await? {
            self.blobs().delete(&key).await?;
        }
        self.deltas().forget_ready_deltas(id.as_str());
        Ok(())
    }

    /// Deletes uploads never referenced by a package within their 60 minutes.
    pub async fn collect_expired_uploads(&self) -> CoreResult<usize> {
        let keys = self.store().expired_unused_uploads(self.now()).await?;
        for key in &keys {
            self.blobs().delete(key).await?;
            self.store().delete_upload_token(key).await?;
        }
        Ok(keys.len())
    }
}
