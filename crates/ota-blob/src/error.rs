//! Errors of package storage.

/// What can go wrong storing or reading a package file.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The upload is larger than the allowed maximum; nothing was kept.
    #[error("file exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The key is not a safe relative name.
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    /// No object under this key.
    #[error("object {0:?} not found")]
    NotFound(String),
    /// The upload stream itself failed (client went away, body error).
    #[error("upload interrupted: {0}")]
    Interrupted(String),
    /// The storage service refused or failed a request (S3 errors, unreachable endpoint).
    #[error("package storage: {0}")]
    Backend(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
