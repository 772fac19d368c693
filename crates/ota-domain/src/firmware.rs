//! Packages ("firmware"): what is delivered to devices and how its integrity is proven.

use crate::{FirmwareId, Millis, ProductKey};
use serde::{Deserialize, Serialize};

/// Full image or a delta from one source version (`Type` 0/1 on the Aliyun API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirmwareType {
    Full,
    Differential,
}

impl FirmwareType {
    pub fn code(self) -> i32 {
        match self {
            FirmwareType::Full => 0,
            FirmwareType::Differential => 1,
        }
    }
}

/// The digest algorithm of `FirmwareSign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignMethod {
    Md5,
    Sha256,
}

impl SignMethod {
    /// The literal the official device SDKs accept in a push (`Md5` / `SHA256`).
    pub fn device_literal(self) -> &'static str {
        match self {
            SignMethod::Md5 => "Md5",
            SignMethod::Sha256 => "SHA256",
        }
    }

    /// The literal the management API documents (`MD5` / `SHA256`).
    pub fn api_literal(self) -> &'static str {
        match self {
            SignMethod::Md5 => "MD5",
            SignMethod::Sha256 => "SHA256",
        }
    }

    /// Accepts any case of `MD5` / `SHA256`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "MD5" => Some(SignMethod::Md5),
            "SHA256" => Some(SignMethod::Sha256),
            _ => None,
        }
    }
}

/// Verification status of a package. Batch updates need `Verified` or `NotRequired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FirmwareStatus {
    NotRequired,
    Unverified,
    Verified,
    Verifying,
    VerifyFailed,
}

impl FirmwareStatus {
    /// The integer the Aliyun API reports (-1, 0, 1, 2, 3).
    pub fn code(self) -> i32 {
        match self {
            FirmwareStatus::NotRequired => -1,
            FirmwareStatus::Unverified => 0,
            FirmwareStatus::Verified => 1,
            FirmwareStatus::Verifying => 2,
            FirmwareStatus::VerifyFailed => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            -1 => FirmwareStatus::NotRequired,
            0 => FirmwareStatus::Unverified,
            1 => FirmwareStatus::Verified,
            2 => FirmwareStatus::Verifying,
            3 => FirmwareStatus::VerifyFailed,
            _ => return None,
        })
    }

    /// Whether upgrade batches may use a package in this status.
    pub fn allows_batches(self) -> bool {
        matches!(self, FirmwareStatus::NotRequired | FirmwareStatus::Verified)
    }
}

/// One file of a package. Single-file packages have exactly one, named after the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareFile {
    pub name: String,
    /// Key of the object in package storage.
    pub blob_key: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    /// `SignValue`: the digest in the package's sign method, or what the operator gave.
    pub sign_value: String,
}

/// A package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firmware {
    pub firmware_id: FirmwareId,
    pub product_key: ProductKey,
    pub firmware_name: String,
    pub firmware_desc: Option<String>,
    pub module_name: String,
    pub firmware_type: FirmwareType,
    pub src_version: Option<String>,
    pub dest_version: String,
    pub sign_method: SignMethod,
    pub status: FirmwareStatus,
    /// 0–100, the share of the verify batch's devices that succeeded.
    pub verify_progress: i32,
    pub udi: Option<String>,
    /// Multi-file packages carry up to 20 files and are pushed as `files`.
    pub multi_file: bool,
    pub files: Vec<FirmwareFile>,
    pub created_at: Millis,
    pub modified_at: Millis,
}

impl Firmware {
    /// The single file of a single-file package.
    pub fn main_file(&self) -> Option<&FirmwareFile> {
        self.files.first()
    }
}
