//! The one error type of the service layer. Every face maps it to its own wire form through
//! [`CoreError::code`] and [`CoreError::is_client_error`], so the classification lives here once.

use ota_blob::BlobError;
use ota_domain::{DomainError, ErrorCode};
use ota_store::StoreError;

/// A failed service call.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request broke a rule: bad parameter, wrong state, quota, missing entity.
    #[error("{0}")]
    Domain(#[from] DomainError),
    /// The store failed.
    #[error("store: {0}")]
    Store(StoreError),
    /// Package storage failed.
    #[error("package storage: {0}")]
    Blob(BlobError),
}

impl From<StoreError> for CoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => {
                CoreError::Domain(DomainError::new(ErrorCode::NotFound, None, "not found"))
            }
            StoreError::Conflict(what) => {
                CoreError::Domain(DomainError::new(ErrorCode::AlreadyExists, None, what))
            }
            other => CoreError::Store(other),
        }
    }
}

impl From<BlobError> for CoreError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::TooLarge { limit } => CoreError::Domain(DomainError::new(
                ErrorCode::InvalidParameter,
                Some("File"),
                format!("must not exceed {limit} bytes"),
            )),
            BlobError::InvalidKey(key) => CoreError::Domain(DomainError::invalid(
                "FileName",
                format!("{key:?} is not a valid file name"),
            )),
            BlobError::NotFound(key) => CoreError::Domain(DomainError::not_found(
                "FirmwareUrl",
                format!("no uploaded file {key:?}"),
            )),
            // The client's body failed (a malformed multipart form, a dropped connection):
            // the request was bad, the storage is fine.
            BlobError::Interrupted(why) => CoreError::Domain(DomainError::invalid(
                "Body",
                format!("the upload did not complete: {why}"),
            )),
            other => CoreError::Blob(other),
        }
    }
}

impl CoreError {
    /// Whether the operation may succeed if tried again (see [`StoreError::is_transient`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, CoreError::Store(err) if err.is_transient())
    }

    /// Whether a conditional save found its task changed meanwhile (by a device report
    /// beside a push, or another node): expected under load, the work is read again.
    pub fn is_stale(&self) -> bool {
        matches!(self, CoreError::Store(ota_store::StoreError::Stale))
    }

    /// The stable code shown to API clients.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Domain(e) => e.code.as_str(),
            CoreError::Store(_) | CoreError::Blob(_) => "InternalError",
        }
    }

    /// Whether the caller is at fault (4xx) rather than the server (5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(self, CoreError::Domain(_))
    }

    /// The domain error, if this is one.
    pub fn domain(&self) -> Option<&DomainError> {
        match self {
            CoreError::Domain(e) => Some(e),
            _ => None,
        }
    }
}

/// Result of a service call.
pub type CoreResult<T> = Result<T, CoreError>;

/// Turns a store lookup's `None` into a NotFound error naming the parameter.
pub(crate) trait Found<T> {
    fn found(self, field: &str, what: impl std::fmt::Display) -> CoreResult<T>;
}

impl<T> Found<T> for Result<Option<T>, StoreError> {
    fn found(self, field: &str, what: impl std::fmt::Display) -> CoreResult<T> {
        match self {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(DomainError::not_found(field, format!("{what} does not exist")).into()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_errors_caused_by_the_request_are_domain_errors() {
        let cases = [
            (BlobError::TooLarge { limit: 1 }, Some("File")),
            (BlobError::InvalidKey("k".into()), Some("FileName")),
            (BlobError::NotFound("k".into()), Some("FirmwareUrl")),
            // Found by the oss_post_object fuzz target: a multipart body that ended early
            // was an internal error (500).
            (BlobError::Interrupted("stream ended".into()), Some("Body")),
            (BlobError::Backend("down".into()), None),
        ];
        for (err, field) in cases {
            let text = err.to_string();
            let core = CoreError::from(err);
            assert_eq!(
                core.domain().and_then(|d| d.field.as_deref()),
                field,
                "{text}"
            );
            assert_eq!(core.code() == "InternalError", field.is_none(), "{text}");
        }
    }
}
