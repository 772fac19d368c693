//! Apply: verify the old image, rebuild the new one sequentially, verify the result.
//!
//! The old image is hashed first (one streaming pass), so a wrong old image is refused before
//! a single byte is written. The output is hashed as it is written; a mismatch is reported as
//! [`Error::OutputMismatch`] and the caller must discard what was written (the `cli` helpers
//! write to a temporary file and only rename it on success).
//!
//! Methods that need the whole old image get it by value: they transform it in place and may
//! release it part way, so the image is never held twice (the `LzmaStreams` method applies its
//! inner patch to the expanded old image this way, see [`apply_in_memory`]).

use crate::container::{self, Demux};
use crate::error::{Error, Result};
use crate::header::{Method, PatchHeader, sha256};
use crate::{bsd, embedded, joined, zref};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};

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
    /// Working memory of the decoder in bytes: buffers, decompression contexts and tables.
    /// For methods that need the whole old image, the most held at once (old image
    /// included) less the old image's size, so the old image plus this figure is the peak.
    pub working_memory: usize,
}

/// Memory held by a decoder that was given the whole old image: the most held at once, and
/// the most held from its first output byte on (what a consumer of the output may add to).
/// Both count the old image while the decoder holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Most bytes held at once.
    pub peak: usize,
    /// Most bytes held at once from the first byte written on.
    pub writing: usize,
}

impl Usage {
    /// A decoder that holds `n` bytes throughout, writing as it goes.
    pub fn flat(n: usize) -> Self {
        Usage {
            peak: n,
            writing: n,
        }
    }

    /// Both figures raised by `n` bytes held alongside.
    pub fn plus(self, n: usize) -> Self {
        Usage {
            peak: self.peak + n,
            writing: self.writing + n,
        }
    }
}

struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Flushes and checks the output against the header's size and digest.
    fn finish(mut self, h: &PatchHeader) -> Result<u64> {
        self.flush()?;
        if self.count != h.new_size {
            return Err(Error::corrupt("output size differs from header"));
        }
        let actual: [u8; 32] = self.hasher.finalize().into();
        if actual != h.new_sha256 {
            return Err(Error::OutputMismatch {
                expected: hex::encode(h.new_sha256),
                actual: hex::encode(actual),
            });
        }
        Ok(self.count)
    }
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

/// True for the methods whose decoder holds the whole old image.
fn holds_whole_old(m: Method) -> bool {
    matches!(m, Method::ZstdRef | Method::LzmaRef | Method::LzmaStreams)
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
    let mut w = HashWriter::new(out);
    let (mem, old_read) = if holds_whole_old(h.method) {
        let n = usize::try_from(h.old_size).map_err(|_| Error::TooLarge("old".into()))?;
        let mut buf = vec![0u8; n];
        old.seek(SeekFrom::Start(0))?;
        old.read_exact(&mut buf)?;
        let u = apply_whole(&h, Cow::Owned(buf), &mut patch, &mut w)?;
        (u.peak.saturating_sub(n), h.old_size)
    } else {
        apply_streaming(&h, &mut old, &mut patch, &mut w)?
    };
    let written = w.finish(&h)?;
    Ok(ApplyReport {
        method: h.method,
        bytes_written: written,
        old_bytes_read: old_read,
        working_memory: mem + HASH_BUF,
    })
}

/// Applies `patch` to an old image already in memory, taking it by value so that methods
/// needing the whole old image use it without a copy. Returns the memory held, counting the
/// old image while it is held.
pub(crate) fn apply_in_memory(old: Vec<u8>, mut patch: &[u8], out: impl Write) -> Result<Usage> {
    let h = PatchHeader::read_from(&mut patch)?;
    if old.len() as u64 != h.old_size {
        return Err(Error::WrongOldImage(format!(
            "size is {} bytes, patch expects {}",
            old.len(),
            h.old_size
        )));
    }
    check_old_digest(sha256(&old), &h)?;
    let mut w = HashWriter::new(out);
    let u = if holds_whole_old(h.method) {
        apply_whole(&h, Cow::Owned(old), &mut patch, &mut w)?
    } else {
        let (m, _) = apply_streaming(&h, Cursor::new(&old[..]), &mut patch, &mut w)?;
        Usage::flat(old.len() + m)
    };
    w.finish(&h)?;
    Ok(u)
}

/// Decodes the body of a method that holds the whole old image.
fn apply_whole(
    h: &PatchHeader,
    old: Cow<'_, [u8]>,
    patch: &mut dyn Read,
    w: &mut dyn Write,
) -> Result<Usage> {
    // The `ZstdRef` and `LzmaRef` decoders build the whole new image in memory before
    // writing it, so the memory a header announces covers the new image in every patch the
    // encoder writes. A header announcing less lies about the one figure a device checks
    // before applying: refuse it before allocating, or a patch of a few bytes could make a
    // device that passed the check allocate gigabytes.
    if matches!(h.method, Method::ZstdRef | Method::LzmaRef) && h.new_size > h.apply_memory {
        return Err(Error::corrupt(format!(
            "the new image ({} bytes) exceeds the memory the header announces ({} bytes)",
            h.new_size, h.apply_memory
        )));
    }
    match h.method {
        Method::LzmaStreams => {
            let mut body = Vec::new();
            patch.read_to_end(&mut body)?;
            embedded::method::apply(old, &body, h.new_size, w)
        }
        m => zref::apply_ref(m, old, patch, h.new_size, w),
    }
}

/// Decodes the body of a streaming method, reading the old image by seeking. Returns the
/// working memory and the bytes read from the old image.
fn apply_streaming<R: Read + Seek>(
    h: &PatchHeader,
    mut old: R,
    mut patch: &mut dyn Read,
    w: &mut dyn Write,
) -> Result<(usize, u64)> {
    match h.method {
        Method::Raw => {
            let codings = container::read_stream_table(&mut patch)?;
            let mut demux = Demux::new(&mut patch, codings.len());
            let m = zref::apply_raw(&codings, &mut demux, h.new_size, w)?;
            Ok((m + demux.peak_pending, 0))
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
                joined::apply_inline(&mut counting, h.old_size, &mut patch, h.new_size, w)?
            } else {
                let codings = container::read_stream_codings(&mut patch, first[0])?;
                let mut demux = Demux::new(&mut patch, codings.len());
                let m = bsd::apply_body(
                    &mut counting,
                    h.old_size,
                    &codings,
                    &mut demux,
                    h.new_size,
                    w,
                )?;
                m + demux.peak_pending
            };
            Ok((m, counting.read))
        }
        m => Err(Error::corrupt(format!(
            "{} is not a streaming method",
            m.name()
        ))),
    }
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
    check_old_digest(hasher.finalize().into(), h)
}

fn check_old_digest(d: [u8; 32], h: &PatchHeader) -> Result<()> {
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
