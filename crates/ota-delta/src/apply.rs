//! Apply: verify the old image, rebuild the new one sequentially, verify the result.
//!
//! The old image is hashed first (one streaming pass), so a wrong old image is refused before
//! a single byte is written. The output is hashed as it is written; a mismatch is reported as
//! [`Error::OutputMismatch`] and the caller must discard what was written (the `cli` helpers
//! write to a temporary file and only rename it on success).

use crate::container::{self, Demux};
use crate::error::{Error, Result};
use crate::header::{Method, PatchHeader};
use crate::{bsd, embedded, joined, zref};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom, Write};

/// Buffer of the old image's verification pass, part of every apply's working memory.
pub(crate) const HASH_BUF: usize = 16 * 1024;

/// What apply did and how much memory it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// Method of the patch.
    pub method: Method,
    /// Bytes written to the output.
    pub bytes_written: u64,
    /// Bytes read from the old image while reconstructing (after the verification pass).
    pub old_bytes_read: u64,
    /// Peak working memory of the decoder in bytes: buffers, decompression contexts and
    /// tables, excluding the old image itself (which full-old methods must also hold).
    pub working_memory: usize,
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Applies `patch` to `old`, writing the new image to `out`. See the crate docs.
pub fn apply<R: Read + Seek, W: Write>(
    mut old: R,
    patch: impl Read,
    out: W,
) -> Result<ApplyReport> {
    let mut patch = patch;
    let h = PatchHeader::read_from(&mut patch)?;
    verify_old(&mut old, &h)?;
    let mut w = HashWriter {
        inner: out,
        hasher: Sha256::new(),
        count: 0,
    };
    let (mem, old_read) = match h.method {
        Method::Raw => {
            let codings = container::read_stream_table(&mut patch)?;
            let mut demux = Demux::new(&mut patch, codings.len());
            let m = zref::apply_raw(&codings, &mut demux, h.new_size, &mut w)?;
            (m + demux.peak_pending, 0)
        }
        Method::Bsd => {
            let mut first = [0u8; 1];
            patch
                .read_exact(&mut first)
                .map_err(|_| Error::corrupt("truncated stream table"))?;
            let mut counting = CountingSeek {
                inner: &mut old,
                read: 0,
            };
            let m = if first[0] == joined::INLINE {
                joined::apply_inline(&mut counting, h.old_size, &mut patch, h.new_size, &mut w)?
            } else {
                let codings = container::read_stream_codings(&mut patch, first[0])?;
                let mut demux = Demux::new(&mut patch, codings.len());
                let m = bsd::apply_body(
                    &mut counting,
                    h.old_size,
                    &codings,
                    &mut demux,
                    h.new_size,
                    &mut w,
                )?;
                m + demux.peak_pending
            };
            (m, counting.read)
        }
        Method::ZstdRef | Method::LzmaRef => {
            let n = usize::try_from(h.old_size).map_err(|_| Error::TooLarge("old".into()))?;
            let mut buf = vec![0u8; n];
            old.seek(SeekFrom::Start(0))?;
            old.read_exact(&mut buf)?;
            let m = zref::apply_ref(h.method, &buf, &mut patch, h.new_size, &mut w)?;
            (m, h.old_size)
        }
        Method::LzmaStreams => {
            let n = usize::try_from(h.old_size).map_err(|_| Error::TooLarge("old".into()))?;
            let mut buf = vec![0u8; n];
            old.seek(SeekFrom::Start(0))?;
            old.read_exact(&mut buf)?;
            let mut body = Vec::new();
            patch.read_to_end(&mut body)?;
            let m = embedded::method::apply(&buf, &body, h.new_size, &mut w)?;
            (m, h.old_size)
        }
    };
    w.flush()?;
    if w.count != h.new_size {
        return Err(Error::corrupt("output size differs from header"));
    }
    let actual: [u8; 32] = w.hasher.finalize().into();
    if actual != h.new_sha256 {
        return Err(Error::OutputMismatch {
            expected: hex::encode(h.new_sha256),
            actual: hex::encode(actual),
        });
    }
    Ok(ApplyReport {
        method: h.method,
        bytes_written: w.count,
        old_bytes_read: old_read,
        working_memory: mem + HASH_BUF,
    })
}

fn verify_old<R: Read + Seek>(old: &mut R, h: &PatchHeader) -> Result<()> {
    let len = old.seek(SeekFrom::End(0))?;
    if len != h.old_size {
        return Err(Error::WrongOldImage(format!(
            "size is {len} bytes, patch expects {}",
            h.old_size
        )));
    }
    old.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_BUF];
    loop {
        let n = old.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let d: [u8; 32] = hasher.finalize().into();
    if d != h.old_sha256 {
        return Err(Error::WrongOldImage(format!(
            "sha256 is {}, patch expects {}",
            hex::encode(d),
            hex::encode(h.old_sha256)
        )));
    }
    Ok(())
}

struct CountingSeek<'a, R> {
    inner: &'a mut R,
    read: u64,
}

impl<R: Read> Read for CountingSeek<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Seek> Seek for CountingSeek<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
