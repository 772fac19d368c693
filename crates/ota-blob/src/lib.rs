//! Package storage: where uploaded firmware files live and how devices are allowed to fetch
//! them.
//!
//! Two backends behind one [`BlobStore`]: a local directory (the embedded default) and an S3
//! bucket (several nodes, downloads straight from the storage service). Uploads are streamed
//! while their SHA-256 and MD5 are computed, so a 1,000 MB package never sits in memory and its
//! digests are known the moment the last byte lands. A size limit is enforced while streaming;
//! an upload that breaks it, or fails for any other reason, leaves nothing behind. Devices
//! download through URLs signed with an expiry ([`UrlSigner`] for the server's own download
//! route, S3 presigned URLs for a bucket), so no API credential ever reaches a device. The
//! server's own downloads send slices of the mapped file ([`MappedFile`]), not copies.
//!
//! This crate knows nothing of firmware, batches or the database.

mod digests;
mod dir;
mod error;
mod key;
mod mapped;
mod s3;
mod signer;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use digests::digest_stream;
pub use dir::DirStore;
pub use error::BlobError;
pub use key::check_key;
pub use mapped::{CHUNK as MAPPED_CHUNK, MappedFile};
pub use s3::{S3Config, S3Store};
pub use signer::UrlSigner;
pub use store::{BlobInfo, BlobStore, ByteStream};
