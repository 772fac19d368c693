//! The local-directory backend: one file per object under a root directory.

use crate::digests::Digests;
use crate::{BlobError, BlobInfo, ByteStream};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Objects stored as files under `root`.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// Opens (and creates) the directory.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        tokio::fs::create_dir_all(&root).await?;
        Ok(Self { root })
    }

    /// The file that holds `key`, after checking that the key cannot escape the root.
    pub fn path_of(&self, key: &str) -> Result<PathBuf, BlobError> {
        crate::key::check_key(key)?;
        Ok(self.root.join(key))
    }

    /// Streams `body` into the object `key`, hashing as it goes. At most `limit` bytes are
    /// accepted; past that the partial file is removed and [`BlobError::TooLarge`] returned.
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
        let path = self.path_of(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let partial = partial_path(&path);
        let result = write_hashed(&partial, body, limit).await;
        match result {
            Ok((size, md5, sha256)) => {
                tokio::fs::rename(&partial, &path).await?;
                Ok(BlobInfo {
                    key: key.to_owned(),
                    size,
                    md5,
                    sha256,
                })
            }
            Err(err) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(err)
            }
        }
    }

    /// The stored file, opened for reading, or NotFound.
    pub async fn open_file(&self, key: &str) -> Result<std::fs::File, BlobError> {
        match tokio::fs::File::open(self.path_of(key)?).await {
            Ok(file) => Ok(file.into_std().await),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Size of the object, or NotFound.
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        match tokio::fs::metadata(self.path_of(key)?).await {
            Ok(meta) => Ok(meta.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BlobError::NotFound(key.to_owned()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads `len` bytes at `offset` (fewer at the end of the object).
    pub async fn read_range(&self, key: &str, offset: u64, len: usize) -> Result<Bytes, BlobError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = match tokio::fs::File::open(self.path_of(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(key.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        let mut buf = Vec::with_capacity(len);
        file.take(len as u64).read_to_end(&mut buf).await?;
        Ok(Bytes::from(buf))
    }

    /// The whole object as a stream of chunks.
    pub async fn read_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        let file = match tokio::fs::File::open(self.path_of(key)?).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(key.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        let chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
        Ok(chunks.map(|c| c.map_err(BlobError::from)).boxed())
    }

    /// Removes the object; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(key)?).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.partial", uuid::Uuid::new_v4().simple()));
    path.with_file_name(name)
}

async fn write_hashed<S, E>(
    partial: &Path,
    mut body: S,
    limit: u64,
) -> Result<(u64, String, String), BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file = tokio::fs::File::create(partial).await?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut digests = Digests::default();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?;
        digests.update_within(&chunk, limit)?;
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    out.into_inner().sync_all().await?;
    Ok(digests.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let parts: Vec<_> = data
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures::stream::iter(parts)
    }

    #[tokio::test]
    async fn over_limit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).await.unwrap();
        let err = store
            .put_stream("big.bin", chunks(&[7u8; 1000], 64), 999)
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge { limit: 999 }));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(
            leftovers.is_empty(),
            "partial file left behind: {leftovers:?}"
        );
    }

    #[tokio::test]
    async fn interrupted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).await.unwrap();
        let body = futures::stream::iter(vec![Ok(Bytes::from("abc")), Err("reset".to_owned())]);
        let err = store.put_stream("x.bin", body, 100).await.unwrap_err();
        assert!(matches!(err, BlobError::Interrupted(_)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
