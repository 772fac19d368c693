//! Package parameters (GenerateOTAUploadURL, CreateOTAFirmware, ModifyOTAFirmware;
//! spec §1.1 and §4), validated as a whole because several rules span fields: a delta
//! package needs a SrcVersion other than its DestVersion, and a package is either one file
//! (`FirmwareUrl`…) or several (`MultiFiles.N`), never both.

use super::indexed_sub;
use super::module::ModuleName;
use super::text::{FirmwareName, Version, firmware_desc, udi};
use crate::firmware::{FirmwareStatus, FirmwareType, SignMethod};
use crate::{DomainError, ErrorCode};

/// Package file suffixes GenerateOTAUploadURL accepts, longest first so `tar.gz` wins over
/// `gz`.
pub const PACKAGE_SUFFIXES: [&str; 8] = ["tar.gz", "gzip", "bin", "dav", "apk", "tar", "zip", "gz"];
/// Largest package file: 1,000 MB.
pub const MAX_FILE_BYTES: u64 = 1000 * 1024 * 1024;
/// Most files in a multi-file package.
pub const MAX_MULTI_FILES: usize = 20;
/// Most packages per account (instance).
pub const MAX_FIRMWARE_PACKAGES: usize = 500;

/// The allowed suffix `filename` ends with (any case, after a non-empty stem), in its
/// canonical lower-case spelling.
pub fn allowed_package_suffix(filename: &str) -> Option<&'static str> {
    let lower = filename.to_ascii_lowercase();
    PACKAGE_SUFFIXES.into_iter().find(|suffix| {
        lower.len() > suffix.len() + 1
            && lower.ends_with(suffix)
            && lower.as_bytes()[lower.len() - suffix.len() - 1] == b'.'
    })
}

/// GenerateOTAUploadURL's `FileSuffix` (default `bin`).
pub fn file_suffix(value: Option<&str>) -> Result<&'static str, DomainError> {
    let Some(value) = value else { return Ok("bin") };
    PACKAGE_SUFFIXES
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            DomainError::invalid(
                "FileSuffix",
                "must be one of bin, dav, apk, tar, gz, tar.gz, zip, gzip",
            )
        })
}

/// Fails with `QuotaExceeded` when an account that already has `count` packages may not
/// create another under `limit` (normally [`MAX_FIRMWARE_PACKAGES`]).
pub fn check_firmware_quota(count: usize, limit: usize) -> Result<(), DomainError> {
    if count >= limit {
        return Err(DomainError::new(
            ErrorCode::QuotaExceeded,
            None,
            format!("at most {limit} packages per account"),
        ));
    }
    Ok(())
}

/// Raw `MultiFiles.N.*` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiFileInput {
    pub name: Option<String>,
    pub url: Option<String>,
    pub size: Option<i64>,
    pub file_md5: Option<String>,
    pub sign_value: Option<String>,
}

/// Raw CreateOTAFirmware parameters, as the API received them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewFirmware {
    pub firmware_name: Option<String>,
    pub dest_version: Option<String>,
    pub src_version: Option<String>,
    /// `Type`: 0 full (default), 1 differential.
    pub firmware_type: Option<i64>,
    pub firmware_desc: Option<String>,
    pub module_name: Option<String>,
    pub firmware_url: Option<String>,
    pub firmware_size: Option<i64>,
    pub firmware_sign: Option<String>,
    pub sign_method: Option<String>,
    pub need_to_verify: Option<bool>,
    pub udi: Option<String>,
    pub multi_files: Vec<MultiFileInput>,
}

/// The single file of a package. Absent size and sign default to the stored object's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleFile {
    pub url: String,
    pub size: Option<u64>,
    /// Lower-case hex digest in the package's sign method.
    pub sign: Option<String>,
}

/// One file of a multi-file package. Absent size and digests default to the stored
/// object's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiFile {
    pub name: String,
    pub url: String,
    pub size: Option<u64>,
    /// Lower-case hex MD5.
    pub md5: Option<String>,
    /// Lower-case hex digest in the package's sign method.
    pub sign_value: Option<String>,
}

/// Where a package's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageFiles {
    Single(SingleFile),
    Multi(Vec<MultiFile>),
}

/// A validated CreateOTAFirmware request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareSpec {
    pub firmware_name: FirmwareName,
    pub dest_version: Version,
    /// Required for a differential package, optional (informational) for a full one.
    pub src_version: Option<Version>,
    pub firmware_type: FirmwareType,
    pub firmware_desc: Option<String>,
    /// `default` when not given.
    pub module_name: ModuleName,
    pub sign_method: SignMethod,
    /// The initial status: `Unverified`, or `NotRequired` with `NeedToVerify=false`.
    pub status: FirmwareStatus,
    pub udi: Option<String>,
    pub files: PackageFiles,
}

impl NewFirmware {
    pub fn validate(self) -> Result<FirmwareSpec, DomainError> {
        let name = required("FirmwareName", self.firmware_name)?;
        let firmware_name = FirmwareName::parse(&name)?;
        let dest_version =
            Version::parse("DestVersion", &required("DestVersion", self.dest_version)?)?;
        let firmware_type = match self.firmware_type {
            None | Some(0) => FirmwareType::Full,
            Some(1) => FirmwareType::Differential,
            Some(_) => {
                return Err(DomainError::invalid(
                    "Type",
                    "must be 0 (full) or 1 (differential)",
                ));
            }
        };
        let src_version = self
            .src_version
            .map(|v| Version::parse("SrcVersion", &v))
            .transpose()?;
        if firmware_type == FirmwareType::Differential {
            match &src_version {
                None => {
                    return Err(DomainError::invalid(
                        "SrcVersion",
                        "is required when Type is 1",
                    ));
                }
                Some(src) if src == &dest_version => {
                    return Err(DomainError::invalid(
                        "SrcVersion",
                        "must differ from DestVersion",
                    ));
                }
                Some(_) => {}
            }
        }
        let sign_method = match self.sign_method {
            None => SignMethod::Md5,
            Some(m) => SignMethod::parse(&m)
                .ok_or_else(|| DomainError::invalid("SignMethod", "must be MD5 or SHA256"))?,
        };
        let module_name = match self.module_name {
            None => ModuleName::default_module(),
            Some(m) => ModuleName::parse(&m)?,
        };
        let files = if self.multi_files.is_empty() {
            PackageFiles::Single(SingleFile {
                url: required("FirmwareUrl", self.firmware_url)?,
                size: self
                    .firmware_size
                    .map(|s| file_size("FirmwareSize", s))
                    .transpose()?,
                sign: self
                    .firmware_sign
                    .map(|s| hex_digest("FirmwareSign", &s, sign_method))
                    .transpose()?,
            })
        } else {
            for (field, given) in [
                ("FirmwareUrl", self.firmware_url.is_some()),
                ("FirmwareSize", self.firmware_size.is_some()),
                ("FirmwareSign", self.firmware_sign.is_some()),
            ] {
                if given {
                    return Err(DomainError::invalid(
                        field,
                        "is for single-file packages only; not allowed with MultiFiles",
                    ));
                }
            }
            PackageFiles::Multi(multi_files(self.multi_files, sign_method)?)
        };
        Ok(FirmwareSpec {
            firmware_name,
            dest_version,
            src_version,
            firmware_type,
            firmware_desc: firmware_desc(self.firmware_desc)?,
            module_name,
            sign_method,
            status: if self.need_to_verify.unwrap_or(true) {
                FirmwareStatus::Unverified
            } else {
                FirmwareStatus::NotRequired
            },
            udi: udi("Udi", self.udi)?,
            files,
        })
    }
}

fn multi_files(
    inputs: Vec<MultiFileInput>,
    method: SignMethod,
) -> Result<Vec<MultiFile>, DomainError> {
    if inputs.len() > MAX_MULTI_FILES {
        return Err(DomainError::invalid(
            "MultiFiles",
            format!("must have at most {MAX_MULTI_FILES} files"),
        ));
    }
    let mut files: Vec<MultiFile> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let name_field = indexed_sub("MultiFiles", i, "Name");
        let name = required(&name_field, input.name)?;
        let len = name.chars().count();
        if !(1..=32).contains(&len) {
            return Err(DomainError::invalid(name_field, "must be 1-32 characters"));
        }
        if let Some(j) = files.iter().position(|f| f.name == name) {
            let first = indexed_sub("MultiFiles", j, "Name");
            return Err(DomainError::invalid(
                name_field,
                format!("must be unique; duplicates {first}"),
            ));
        }
        files.push(MultiFile {
            name,
            url: required(&indexed_sub("MultiFiles", i, "Url"), input.url)?,
            size: input
                .size
                .map(|s| file_size(&indexed_sub("MultiFiles", i, "Size"), s))
                .transpose()?,
            md5: input
                .file_md5
                .map(|s| {
                    hex_digest(
                        &indexed_sub("MultiFiles", i, "FileMd5"),
                        &s,
                        SignMethod::Md5,
                    )
                })
                .transpose()?,
            sign_value: input
                .sign_value
                .map(|s| hex_digest(&indexed_sub("MultiFiles", i, "SignValue"), &s, method))
                .transpose()?,
        });
    }
    Ok(files)
}

fn required(field: &str, value: Option<String>) -> Result<String, DomainError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(DomainError::invalid(field, "is required")),
    }
}

fn file_size(field: &str, size: i64) -> Result<u64, DomainError> {
    u64::try_from(size)
        .ok()
        .filter(|s| (1..=MAX_FILE_BYTES).contains(s))
        .ok_or_else(|| DomainError::invalid(field, format!("must be 1-{MAX_FILE_BYTES} bytes")))
}

/// Devices compare digests as lower-case hex of the method's length (32 for MD5, 64 for
/// SHA256), so anything else would fail on every device: reject it here.
fn hex_digest(field: &str, value: &str, method: SignMethod) -> Result<String, DomainError> {
    let len = match method {
        SignMethod::Md5 => 32,
        SignMethod::Sha256 => 64,
    };
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be the {len}-digit hex {} digest",
                method.api_literal()
            ),
        ));
    }
    Ok(value.to_ascii_lowercase())
}

/// Raw ModifyOTAFirmware parameters: only what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModifyFirmware {
    pub firmware_name: Option<String>,
    pub firmware_desc: Option<String>,
    pub firmware_udi: Option<String>,
}

/// Validated ModifyOTAFirmware changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareChanges {
    pub firmware_name: Option<FirmwareName>,
    pub firmware_desc: Option<String>,
    pub firmware_udi: Option<String>,
}

impl ModifyFirmware {
    pub fn validate(self) -> Result<FirmwareChanges, DomainError> {
        Ok(FirmwareChanges {
            firmware_name: self
                .firmware_name
                .map(|n| FirmwareName::parse(&n))
                .transpose()?,
            firmware_desc: firmware_desc(self.firmware_desc)?,
            firmware_udi: udi("FirmwareUdi", self.firmware_udi)?,
        })
    }
}
