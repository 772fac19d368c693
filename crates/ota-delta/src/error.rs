//! Error type shared by diff, apply and inspect.
//!
//! Every failure mode of `apply` maps to a distinct variant so a device can tell "this patch is
//! not for my image" (`WrongOldImage`) from "the download is damaged" (`Corrupt`) and from
//! "this patch needs more than I have" (`Unsupported`).

use std::io;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors returned by diff, apply and inspect.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The data is not an ota-delta patch (bad magic).
    #[error("not an ota-delta patch (bad magic)")]
    NotAPatch,
    /// The patch uses a format version or method this build does not know.
    #[error("unsupported patch: {0}")]
    Unsupported(String),
    /// The patch is damaged or inconsistent.
    #[error("corrupt patch: {0}")]
    Corrupt(String),
    /// The old image given to apply is not the one the patch was made from.
    #[error("wrong old image: {0}")]
    WrongOldImage(String),
    /// Apply finished, but the result does not match the digest in the header.
    #[error("result verification failed: sha256 of output is {actual}, patch expects {expected}")]
    OutputMismatch {
        /// Digest the header promised.
        expected: String,
        /// Digest of what was written.
        actual: String,
    },
    /// Input too large for this implementation (e.g. old image over 4 GiB).
    #[error("input too large: {0}")]
    TooLarge(String),
}

impl Error {
    pub(crate) fn corrupt(msg: impl Into<String>) -> Self {
        Error::Corrupt(msg.into())
    }
}
