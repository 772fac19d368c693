//! Body of the `LzmaStreams` method: stream tables of both images, then an inner patch from
//! the expanded old image to the expanded new one.
//!
//! Why an inner patch: the expanded images are ordinary byte strings, so every existing
//! method (and its choice of the smallest) applies to them unchanged; only the inner method
//! `LzmaStreams` itself is refused, so expansion never nests.

use super::expand::{self, Rebuilder};
use super::{read_table, scan, write_table};
use crate::apply::Usage;
use crate::encode::{DiffOptions, diff_nested};
use crate::error::{Error, Result};
use crate::header::{Method, PatchHeader};
use crate::varint;
use std::borrow::Cow;
use std::io::Write;

/// A built body and the decoder's working memory (besides the old image).
pub struct Body {
    /// The body bytes.
    pub body: Vec<u8>,
    /// Working memory of [`apply`] besides the old image.
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
    // Apply once: proves the candidate rebuilds `new`, and measures the decoder's memory.
    let mut out = Vec::with_capacity(new.len());
    let usage = apply(old.into(), &body, new.len() as u64, &mut out)?;
    if out != new {
        return Ok(None);
    }
    let apply_memory = (usage.peak.saturating_sub(old.len()) + crate::apply::HASH_BUF) as u64;
    Ok(Some(Body { body, apply_memory }))
}

/// Applies a body: `old` is the verified old image; writes the new image of `new_size`
/// bytes to `out`.
///
/// Returns the memory held (the body included, the old image while held). The steps overlap
/// little, so the peak is the largest of: expanding (the old image, the growing expansion,
/// one stream's decoding); the inner apply, which takes the expanded old image by value (it
/// may release it part way); and the inner apply from its first output on together with the
/// rebuilding of the new streams, which takes that output as it comes.
pub fn apply(old: Cow<'_, [u8]>, body: &[u8], new_size: u64, out: &mut dyn Write) -> Result<Usage> {
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
    let mut rebuild = Rebuilder::new(&new_streams, &token_lens, new_size, h.new_size, out)?;
    let old_x = expand::expand(&old, &old_streams)?;
    let expanding = old.len() + old_x.peak;
    drop(old);
    let inner_use = match crate::apply::apply_in_memory(old_x.bytes, inner, &mut rebuild) {
        Ok(u) => u,
        Err(e) => return Err(rebuild.take_error().unwrap_or(e)),
    };
    let rebuilding = rebuild.finish()?;
    let applying = inner_use.peak.max(inner_use.writing + rebuilding);
    Ok(Usage {
        peak: body.len() + expanding.max(applying),
        writing: body.len() + inner_use.writing + rebuilding,
    })
}
