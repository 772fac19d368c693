//! [`BlobStore`]: the package-storage port, one type over both backends, so the service layer
//! never asks which one it runs on except where downloads are concerned.

use crate::{BlobError, DirStore, S3Store};
use bytes::Bytes;
use futures::Stream;
use futures::stream::BoxStream;
use std::path::PathBuf;
use std::time::Duration;

/// Size and digests of a stored object, computed while it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: String,
    pub size: u64,
    /// Lower-case hex MD5.
    pub md5: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// An object's bytes, chunk by chunk.
pub type ByteStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Where packages are stored.
#[derive(Debug, Clone)]
pub enum BlobStore {
    /// Files under a local directory; the server serves downloads itself.
    Dir(DirStore),
    /// An S3 bucket; devices download from it through presigned URLs.
    S3(S3Store),
}

impl From<DirStore> for BlobStore {
    fn from(store: DirStore) -> Self {
        BlobStore::Dir(store)
    }
}

impl From<S3Store> for BlobStore {
    fn from(store: S3Store) -> Self {
        BlobStore::S3(store)
    }
}

impl BlobStore {
    /// Streams `body` into `key`, computing its digests; at most `limit` bytes, and nothing is
    /// kept when the upload fails or is too large.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        body: S,
        limit: u64,
    ) -> Result<BlobInfo, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        match self {
            BlobStore::Dir(s) => s.put_stream(key, body, limit).await,
            BlobStore::S3(s) => s.put_stream(key, body, limit).await,
        }
    }

    /// Stores a small object from memory.
    pub async fn put_bytes(&self, key: &str, data: Bytes) -> Result<BlobInfo, BlobError> {
        let limit = data.len() as u64;
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(data)]);
        self.put_stream(key, stream, limit).await
    }

    /// Size of the object, or NotFound.
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        match self {
            BlobStore::Dir(s) => s.size(key).await,
            BlobStore::S3(s) => s.size(key).await,
        }
    }

    /// Reads `len` bytes at `offset`: fewer at the end of the object, none past it.
    pub async fn read_range(&self, key: &str, offset: u64, len: usize) -> Result<Bytes, BlobError> {
        match self {
            BlobStore::Dir(s) => s.read_range(key, offset, len).await,
            BlobStore::S3(s) => s.read_range(key, offset, len).await,
        }
    }

    /// The whole object as a stream of chunks, or NotFound.
    pub async fn read_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        match self {
            BlobStore::Dir(s) => s.read_stream(key).await,
            BlobStore::S3(s) => s.read_stream(key).await,
        }
    }

    /// The object as a readable, seekable file: the stored file itself in a directory store;
    /// from S3, a temporary copy (deleted when the file is closed). For work that reads an
    /// object more than once, or in pieces, without holding it in memory.
    pub async fn open_file(&self, key: &str) -> Result<std::fs::File, BlobError> {
        match self {
            BlobStore::Dir(s) => s.open_file(key).await,
            BlobStore::S3(s) => s.open_file(key).await,
        }
    }

    /// Removes the object; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self {
            BlobStore::Dir(s) => s.delete(key).await,
            BlobStore::S3(s) => s.delete(key).await,
        }
    }

    /// The local file of `key` when the server serves downloads itself; `None` when devices
    /// download from the storage service.
    pub fn local_path(&self, key: &str) -> Option<Result<PathBuf, BlobError>> {
        match self {
            BlobStore::Dir(s) => Some(s.path_of(key)),
            BlobStore::S3(_) => None,
        }
    }

    /// A URL on the storage service that downloads `key` for `ttl`; `None` when the server
    /// serves downloads itself.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Option<Result<String, BlobError>> {
        match self {
            BlobStore::Dir(_) => None,
            BlobStore::S3(s) => Some(s.presigned_get(key, ttl).await),
        }
    }
}
