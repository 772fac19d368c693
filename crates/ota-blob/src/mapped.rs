//! Stored files served without copying them into the server's memory.
//!
//! A download answers with slices of the file mapped into memory: the bytes go from the
//! page cache to the socket, and a connection whose device reads slowly, which has several
//! chunks queued, holds references into the map, not copies of it. A thousand concurrent
//! downloads then cost the server almost no memory of its own, however large the package.
//!
//! Each chunk's pages are read in on a blocking thread before the chunk is handed out, so a
//! file that is not in the page cache yet never stalls the async workers on the disk.
//!
//! Mapping is sound because a stored file never changes once it is in place: the directory
//! store writes every file under a temporary name and renames it into place, never writes a
//! stored file again, and a delete only unlinks it (a map keeps an unlinked file's pages).
//! Truncating a file of the package directory from outside while it is being downloaded
//! is not supported.

use crate::BlobError;
use bytes::Bytes;
use futures::Stream;
use std::collections::HashMap;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Bytes handed out per chunk: large enough that paging in costs one blocking hop per
/// quarter mebibyte, small enough that a slow device's queued chunks stay few.
pub const CHUNK: usize = 256 * 1024;

/// Chunks being paged in at once, over all downloads.
static PAGE_INS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// A stored file, mapped read-only.
#[derive(Clone)]
pub struct MappedFile {
    bytes: Bytes,
}

/// The maps in use, by file (device and inode), so concurrent downloads of one package share
/// one map: the file's pages then count once in the server's resident memory, not once per
/// download that touched them.
static MAPS: LazyLock<Mutex<HashMap<FileId, Weak<memmap2::Mmap>>>> =
    LazyLock::new(Default::default);

/// A file by its device and inode number.
type FileId = (u64, u64);

/// A map shared by the downloads of one file; unmapped when the last of them ends.
struct SharedMap(Arc<memmap2::Mmap>);

impl AsRef<[u8]> for SharedMap {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl MappedFile {
    /// Maps the file at `path`, or shares the map other downloads of it hold.
    pub async fn open(path: PathBuf) -> Result<MappedFile, BlobError> {
        tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&path)?;
            let meta = file.metadata()?;
            if meta.len() == 0 {
                return Ok(MappedFile {
                    bytes: Bytes::new(),
                });
            }
            let id = (meta.dev(), meta.ino());
            let mut maps = MAPS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let map = match maps.get(&id).and_then(Weak::upgrade) {
                Some(map) => map,
                None => {
                    let map = Arc::new(map_file(&file)?);
                    maps.retain(|_, weak| weak.strong_count() > 0);
                    maps.insert(id, Arc::downgrade(&map));
                    map
                }
            };
            Ok(MappedFile {
                bytes: Bytes::from_owner(SharedMap(map)),
            })
        })
        .await
        .map_err(|err| BlobError::Io(std::io::Error::other(err)))?
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes of `range` (clamped to the file) in chunks of at most `chunk` bytes, each
    /// paged in on a blocking thread before it is yielded.
    pub fn chunks(
        &self,
        range: Range<u64>,
        chunk: usize,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        let end = range.end.min(self.len()) as usize;
        let start = (range.start as usize).min(end);
        let chunk = chunk.max(1);
        futures::stream::try_unfold((self.bytes.clone(), start), move |(bytes, at)| async move {
            if at >= end {
                return Ok(None);
            }
            let next = bytes.slice(at..(at + chunk).min(end));
            let touched = next.clone();
            // A few at a time: a thousand downloads would otherwise each claim a blocking
            // thread for work that takes microseconds when the pages are already in memory.
            let _permit = PAGE_INS.acquire().await.map_err(std::io::Error::other)?;
            tokio::task::spawn_blocking(move || page_in(&touched))
                .await
                .map_err(std::io::Error::other)?;
            let len = next.len();
            Ok(Some((next, (bytes, at + len))))
        })
    }
}

/// Maps `file` read-only, asking for read-ahead: downloads read front to back.
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: a stored file is never written or truncated once it is in place (see the
    // module documentation), so the mapped bytes do not change under the map. The crate's
    // only unsafe code (docs/adr/0011-downloads-from-mapped-files.md).
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(file)? };
    let _ = map.advise(memmap2::Advice::Sequential);
    Ok(map)
}

/// Reads one byte of every page of `bytes`, so the kernel brings them into memory here and
/// not in the socket write that later sends them.
fn page_in(bytes: &[u8]) {
    const PAGE: usize = 4096;
    let mut sum = 0u8;
    for at in (0..bytes.len()).step_by(PAGE) {
        sum = sum.wrapping_add(bytes[at]);
    }
    std::hint::black_box(sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn mapped(data: &[u8]) -> (tempfile::TempDir, MappedFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        std::fs::write(&path, data).unwrap();
        let file = MappedFile::open(path).await.unwrap();
        (dir, file)
    }

    #[tokio::test]
    async fn chunks_cover_exactly_the_range() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, file) = mapped(&data).await;
        assert_eq!(file.len(), 10_000);
        let cases: [(Range<u64>, usize, usize); 6] = [
            // (range, chunk, chunks expected)
            (0..10_000, 4096, 3),
            (0..10_000, 10_000, 1),
            (1..2, 4096, 1),
            (4_095..8_193, 4096, 2),
            // Clamped to the file.
            (9_000..20_000, 4096, 1),
            (5..5, 4096, 0),
        ];
        for (range, chunk, count) in cases {
            let chunks: Vec<Bytes> = file
                .chunks(range.clone(), chunk)
                .try_collect()
                .await
                .unwrap();
            assert_eq!(chunks.len(), count, "{range:?} by {chunk}");
            assert!(chunks.iter().all(|c| c.len() <= chunk && !c.is_empty()));
            let joined: Vec<u8> = chunks.concat();
            let end = (range.end as usize).min(data.len());
            assert_eq!(joined, &data[range.start as usize..end], "{range:?}");
        }
    }

    #[tokio::test]
    async fn an_empty_file_maps_to_no_bytes() {
        let (_dir, file) = mapped(b"").await;
        assert!(file.is_empty());
        let chunks: Vec<Bytes> = file.chunks(0..10, 4).try_collect().await.unwrap();
        assert!(chunks.is_empty());
    }

    #[tokio::test]
    async fn a_map_outlives_the_unlinked_file() {
        let (dir, file) = mapped(b"still here").await;
        std::fs::remove_file(dir.path().join("blob")).unwrap();
        let chunks: Vec<Bytes> = file.chunks(0..10, 4).try_collect().await.unwrap();
        assert_eq!(chunks.concat(), b"still here");
    }

    #[tokio::test]
    async fn downloads_of_one_file_share_its_map_until_the_last_ends() {
        let (dir, first) = mapped(b"shared").await;
        let path = dir.path().join("blob");
        let second = MappedFile::open(path.clone()).await.unwrap();
        assert_eq!(first.bytes.as_ptr(), second.bytes.as_ptr(), "one map");
        drop((first, second));
        // Another file is another map; the first one's entry is gone with its last user.
        std::fs::write(dir.path().join("other"), b"other").unwrap();
        let other = MappedFile::open(dir.path().join("other")).await.unwrap();
        assert_eq!(
            other.chunks(0..5, 5).try_collect::<Vec<_>>().await.unwrap()[0],
            "other"
        );
        let again = MappedFile::open(path).await.unwrap();
        assert_eq!(
            again.chunks(0..6, 6).try_collect::<Vec<_>>().await.unwrap()[0],
            "shared"
        );
    }

    #[tokio::test]
    async fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(MappedFile::open(dir.path().join("none")).await.is_err());
    }
}
