//! Package storage: where uploaded firmware files live and how devices are allowed to fetch
//! them.
//!
//! Uploads are streamed to disk while their SHA-256 and MD5 are computed, so a 1,000 MB
//! package never sits in memory and its digests are known the moment the last byte lands.
//! A size limit is enforced while streaming; an upload that breaks it, or fails for any other
//! reason, leaves nothing behind. Devices download through URLs signed with an expiry
//! ([`UrlSigner`]), so no API credential ever reaches a device.
//!
//! This crate knows nothing of firmware, batches or the database.

mod dir;
mod error;
mod signer;

pub use dir::{BlobInfo, DirStore, digest_stream};
pub use error::BlobError;
pub use signer::UrlSigner;
