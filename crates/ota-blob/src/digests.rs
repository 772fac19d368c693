//! Size, MD5 and SHA-256 computed over a byte stream as it passes, so an upload's digests are
//! known the moment its last byte is stored, on any backend.

use crate::BlobError;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::Md5;
use sha2::{Digest, Sha256};

/// Running size and digests.
#[derive(Default)]
pub(crate) struct Digests {
    size: u64,
    md5: Md5,
    sha: Sha256,
}

impl Digests {
    pub fn update(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        self.md5.update(chunk);
        self.sha.update(chunk);
    }

    /// Takes the next chunk of an upload limited to `limit` bytes in all; past that,
    /// [`BlobError::TooLarge`] (the caller discards what it stored).
    pub fn update_within(&mut self, chunk: &[u8], limit: u64) -> Result<(), BlobError> {
        self.update(chunk);
        if self.size > limit {
            return Err(BlobError::TooLarge { limit });
        }
        Ok(())
    }

    /// Size, lower-case hex MD5 and lower-case hex SHA-256.
    pub fn finish(self) -> (u64, String, String) {
        (
            self.size,
            hex::encode(self.md5.finalize()),
            hex::encode(self.sha.finalize()),
        )
    }
}

/// Size, lower-case hex MD5 and SHA-256 of a byte stream.
pub async fn digest_stream<S, E>(mut body: S) -> Result<(u64, String, String), BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut digests = Digests::default();
    while let Some(chunk) = body.next().await {
        digests.update(&chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?);
    }
    Ok(digests.finish())
}
