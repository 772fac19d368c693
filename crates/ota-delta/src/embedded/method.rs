//! Body of the `LzmaStreams` method: stream tables of both images, then an inner patch from
//! the expanded old image to the expanded new one.
//!
//! Why an inner patch: the expanded images are ordinary byte strings, so every existing
//! method (and its choice of the smallest) applies to them unchanged; only the inner method
//! `LzmaStreams` itself is refused, so expansion never nests.

use super::expand::{self, Expanded};
use super::{read_table, scan, write_table};
use crate::encode::{DiffOptions, diff_nested};
use crate::error::{Error, Result};
use crate::header::{Method, PatchHeader};
use crate::varint;
use std::io::{Cursor, Write};

/// A built body and the decoder's working memory (besides the old image).
pub struct Body {
    /// The body bytes.
    pub body: Vec<u8>,
    /// Working memory of [`apply`].
    pub apply_memory: u64,
}

/// Builds the body if both images embed reproducible LZMA streams; `None` otherwise.
pub fn encode(old: &[u8], new: &[u8], opts: &DiffOptions) -> Result<Option<Body>> {
    let new_streams = scan::find_streams(new);
    if new_streams.is_empty() {
        return Ok(None);
    }
    let old_streams = scan::find_streams(old);
    if old_streams.is_empty() {
        return Ok(None);
    }
    let old_x = expand::expand(old, &old_streams)?;
    let new_x = expand::expand(new, &new_streams)?;
    let inner_opts = DiffOptions {
        progress: None,
        ..opts.clone()
    };
    let inner = diff_nested(&old_x.bytes, &new_x.bytes, &inner_opts)?;
    let mut body = Vec::new();
    write_table(&mut body, &old_streams);
    write_table(&mut body, &new_streams);
    for &l in &new_x.token_lens {
        varint::put_u64(&mut body, l as u64);
    }
    body.extend_from_slice(&inner);
    // Apply once: proves the candidate rebuilds `new`, and measures the decoder's memory
    // (the inner header's figure is an estimate of the inner method's).
    let mut out = Vec::with_capacity(new.len());
    let apply_memory =
        (apply(old, &body, new.len() as u64, &mut out)? + crate::apply::HASH_BUF) as u64;
    if out != new {
        return Ok(None);
    }
    Ok(Some(Body { body, apply_memory }))
}

/// Working memory of [`apply`] besides the old image: decoding one old stream next to the
/// expanded old image, the expanded old image (twice when the inner method holds its whole old
/// image), the inner decoder, the expanded new image, and re-encoding one new stream; counted
/// as if all were held at once.
fn memory(old_x: &Expanded, inner: &PatchHeader, new_len: usize, encode_work: usize) -> usize {
    let copies = if inner.needs_full_old() { 2 } else { 1 };
    old_x.decode_work
        + old_x.bytes.len() * copies
        + inner.apply_memory as usize
        + new_len
        + encode_work
}

/// Applies a body: `old` is the verified old image; writes the new image of `new_size`
/// bytes to `out` and returns the working memory used (the body included).
pub fn apply(old: &[u8], body: &[u8], new_size: u64, out: &mut impl Write) -> Result<usize> {
    let mut pos = 0;
    let old_streams = read_table(body, &mut pos, old.len() as u64)?;
    let new_streams = read_table(body, &mut pos, new_size)?;
    let mut token_lens = Vec::with_capacity(new_streams.len());
    for _ in &new_streams {
        let l = varint::get_u64(body, &mut pos)?;
        token_lens.push(usize::try_from(l).map_err(|_| Error::corrupt("token length"))?);
    }
    let inner = &body[pos..];
    let h = PatchHeader::read_from(&mut &inner[..])?;
    if h.method == Method::LzmaStreams {
        return Err(Error::corrupt("nested LzmaStreams patch"));
    }
    let old_x = expand::expand(old, &old_streams)?;
    let mut new_x = Vec::new();
    let rep = crate::apply(Cursor::new(&old_x.bytes[..]), inner, &mut new_x)?;
    let mut inner_h = h;
    inner_h.apply_memory = rep.working_memory as u64;
    let held = memory(&old_x, &inner_h, new_x.len(), 0);
    drop(old_x);
    let work = expand::rebuild(&new_x, &new_streams, &token_lens, new_size, out)?;
    Ok(held + work + body.len())
}
