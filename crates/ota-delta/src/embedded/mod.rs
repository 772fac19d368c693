//! The `LzmaStreams` method (format version 5): deltas of images that embed LZMA streams.
//!
//! Why: a firmware image that embeds an LZMA-compressed volume (EDK2's OVMF holds a 13.5 MB
//! volume as a 1.5 MB LZMA stream) changes almost everywhere in its compressed bytes when a
//! little of the plaintext changes, so byte-level deltas are as large as the stream, and the
//! device cannot recompress the new plaintext itself (another encoder makes other bytes).
//! This method diffs **expanded** images instead: the bytes outside the streams, then per
//! stream its plaintext and its serialised coding decisions ([`crate::lzma`]). The device
//! expands the old image, applies an ordinary inner patch to get the expanded new image, and
//! rebuilds each new stream by coding its decisions, which reproduces it byte for byte.
//!
//! * [`scan`] finds reproducible LZMA-alone streams in an image.
//! * [`expand`] defines the expanded image and rebuilds an image from one.
//! * [`method`] writes and applies the patch body.

pub mod expand;
pub mod method;
pub mod scan;

use crate::error::{Error, Result};
use crate::lzma::Props;
use crate::varint;

/// Most streams one image may list.
pub const MAX_STREAMS: usize = 64;
/// Most plaintext bytes of all streams of one image together.
pub const MAX_PLAIN_TOTAL: u64 = 256 << 20;

/// Where one LZMA stream sits in an image and how it is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    /// Offset of the first range-coder byte (after any header, which stays a plain byte).
    pub start: usize,
    /// Compressed bytes, range-coder flush included.
    pub coded_len: usize,
    /// `lc`, `lp`, `pb`.
    pub props: Props,
    /// Plaintext bytes.
    pub plain_len: usize,
}

impl Stream {
    /// One past the last compressed byte.
    pub fn end(&self) -> usize {
        self.start + self.coded_len
    }
}

/// Writes a stream table: `count: uvar`, per stream `start` (gap after the previous stream's
/// end), `coded_len`, `props: u8`, `plain_len`.
pub fn write_table(out: &mut Vec<u8>, streams: &[Stream]) {
    varint::put_u64(out, streams.len() as u64);
    let mut prev = 0;
    for s in streams {
        varint::put_u64(out, (s.start - prev) as u64);
        varint::put_u64(out, s.coded_len as u64);
        out.push(s.props.byte());
        varint::put_u64(out, s.plain_len as u64);
        prev = s.end();
    }
}

/// Reads a stream table for an image of `image_len` bytes, checking that the streams are in
/// order, inside the image, within [`MAX_STREAMS`] and [`MAX_PLAIN_TOTAL`].
pub fn read_table(buf: &[u8], pos: &mut usize, image_len: u64) -> Result<Vec<Stream>> {
    let bad = |m: &str| Error::corrupt(format!("LZMA stream table: {m}"));
    let count = varint::get_u64(buf, pos)?;
    if count > MAX_STREAMS as u64 {
        return Err(bad("too many streams"));
    }
    let mut out = Vec::with_capacity(count as usize);
    let (mut prev, mut plain_total) = (0u64, 0u64);
    for _ in 0..count {
        let start = prev
            .checked_add(varint::get_u64(buf, pos)?)
            .ok_or_else(|| bad("offset"))?;
        let coded_len = varint::get_u64(buf, pos)?;
        let end = start.checked_add(coded_len).ok_or_else(|| bad("length"))?;
        if end > image_len || coded_len < 5 {
            return Err(bad("stream outside the image"));
        }
        let props = Props::from_byte(*buf.get(*pos).ok_or_else(|| bad("truncated"))?)?;
        *pos += 1;
        if props.lc > 8 || props.lc + props.lp > 12 {
            return Err(bad("properties"));
        }
        let plain_len = varint::get_u64(buf, pos)?;
        plain_total = plain_total.saturating_add(plain_len);
        if plain_total > MAX_PLAIN_TOTAL {
            return Err(bad("plaintext over the limit"));
        }
        out.push(Stream {
            start: start as usize,
            coded_len: coded_len as usize,
            props,
            plain_len: plain_len as usize,
        });
        prev = end;
    }
    Ok(out)
}
