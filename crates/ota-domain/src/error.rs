//! Domain errors: a stable machine-readable code, the field at fault and the rule it broke.
//! Every operator face renders these the same way, so the message a user reads in the REST
//! API, the Aliyun-compatible API and the console is identical.

use serde::Serialize;
use std::fmt;

/// Stable error codes. The string forms are part of the public API: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorCode {
    /// A parameter is missing, malformed or out of range.
    InvalidParameter,
    /// The named entity does not exist.
    NotFound,
    /// The entity already exists (unique name, version or id).
    AlreadyExists,
    /// The operation is not allowed in the entity's current state.
    InvalidState,
    /// A quota (packages per account, devices per call, …) would be exceeded.
    QuotaExceeded,
    /// The package must be verified before a batch may use it.
    FirmwareNotVerified,
    /// The device already has an unfinished task for this module.
    DeviceInTask,
}

impl ErrorCode {
    /// The stable string form used on every API.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::NotFound => "NotFound",
            ErrorCode::AlreadyExists => "AlreadyExists",
            ErrorCode::InvalidState => "InvalidState",
            ErrorCode::QuotaExceeded => "QuotaExceeded",
            ErrorCode::FirmwareNotVerified => "FirmwareNotVerified",
            ErrorCode::DeviceInTask => "DeviceInTask",
        }
    }
}

/// A rule violation: which field, which rule, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainError {
    pub code: ErrorCode,
    /// The parameter at fault, in the Aliyun spelling (`DestVersion`, `Tag.1.Key`), if any.
    pub field: Option<String>,
    /// What the rule is, e.g. "must be 1-64 characters of [A-Za-z0-9._-]".
    pub message: String,
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidParameter,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn not_found(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::NotFound,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn new(code: ErrorCode, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{}: {} {}", self.code.as_str(), field, self.message),
            None => write!(f, "{}: {}", self.code.as_str(), self.message),
        }
    }
}

impl std::error::Error for DomainError {}
