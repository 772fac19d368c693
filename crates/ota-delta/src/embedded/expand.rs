//! Expanded images: what the inner delta of the `LzmaStreams` method works on.
//!
//! Why this layout: the bytes outside the streams come first, in order (they change like
//! any image), then per stream its plaintext followed by its serialised decisions
//! ([`crate::lzma::tokens`]). Plaintexts of similar versions match long stretches of each
//! other, and so do their decision columns.

use super::Stream;
use crate::error::{Error, Result};
use crate::lzma::{decode, encode, tokens};
use std::io::Write;

/// An expanded image and, per stream, the length of its serialised decisions.
pub struct Expanded {
    /// Gap bytes, then per stream plaintext and decisions.
    pub bytes: Vec<u8>,
    /// Bytes of each stream's serialised decisions.
    pub token_lens: Vec<usize>,
    /// Decisions of each stream.
    pub token_counts: Vec<usize>,
    /// Largest working set of decoding one stream (plaintext, decisions, their
    /// serialisation, probability tables), held next to the growing expansion.
    pub decode_work: usize,
}

/// Working set of re-encoding one stream: its decisions, coded bytes and probability tables.
pub fn encode_work(s: &Stream, token_count: usize) -> usize {
    token_count * std::mem::size_of::<crate::lzma::Token>() + s.coded_len + s.props.model_memory()
}

/// Expands `img` with the given streams (in order, inside the image). Fails if a stream does
/// not decode to its plaintext length within its coded bytes.
pub fn expand(img: &[u8], streams: &[Stream]) -> Result<Expanded> {
    let mut bytes = Vec::new();
    let mut prev = 0;
    for s in streams {
        bytes.extend_from_slice(&img[prev..s.start]);
        prev = s.end();
    }
    bytes.extend_from_slice(&img[prev..]);
    let mut token_lens = Vec::with_capacity(streams.len());
    let mut token_counts = Vec::with_capacity(streams.len());
    let mut decode_work = 0;
    for s in streams {
        let d = decode::decode(
            &img[s.start..s.end()],
            s.props,
            s.plain_len as u64,
            super::MAX_PLAIN_TOTAL,
        )?;
        bytes.extend_from_slice(&d.plain);
        let t = tokens::serialize(&d.tokens);
        let token_mem = d.tokens.len() * std::mem::size_of::<crate::lzma::Token>();
        decode_work = decode_work.max(d.plain.len() + token_mem + t.len() + s.props.model_memory());
        token_lens.push(t.len());
        token_counts.push(d.tokens.len());
        bytes.extend_from_slice(&t);
    }
    Ok(Expanded {
        bytes,
        token_lens,
        token_counts,
        decode_work,
    })
}

/// Rebuilds the image of `new_size` bytes from its expansion, re-encoding every stream, and
/// writes it to `out`. Returns the largest re-encoding working set (decisions and coded
/// bytes of one stream, probability tables).
pub fn rebuild(
    expanded: &[u8],
    streams: &[Stream],
    token_lens: &[usize],
    new_size: u64,
    out: &mut impl Write,
) -> Result<usize> {
    let bad = |m: &str| Error::corrupt(format!("expanded image: {m}"));
    let coded: usize = streams.iter().map(|s| s.coded_len).sum();
    let gaps = usize::try_from(new_size)
        .ok()
        .and_then(|n| n.checked_sub(coded))
        .ok_or_else(|| bad("streams exceed the image"))?;
    let mut tail = expanded.get(gaps..).ok_or_else(|| bad("too short"))?;
    let (mut g, mut prev, mut peak) = (0usize, 0usize, 0usize);
    for (s, &tl) in streams.iter().zip(token_lens) {
        let gap = s.start - prev;
        out.write_all(&expanded[g..g + gap])?;
        g += gap;
        prev = s.end();
        if tail.len() < s.plain_len + tl {
            return Err(bad("too short"));
        }
        let (plain, rest) = tail.split_at(s.plain_len);
        let (ser, rest) = rest.split_at(tl);
        tail = rest;
        let toks = tokens::deserialize(ser)?;
        let coded = encode::encode(plain, &toks, s.props)?;
        if coded.len() != s.coded_len {
            return Err(bad("stream length differs from its table"));
        }
        out.write_all(&coded)?;
        peak = peak.max(encode_work(s, toks.len()));
    }
    if !tail.is_empty() || gaps - g != new_size as usize - prev {
        return Err(bad("length differs from the table"));
    }
    out.write_all(&expanded[g..gaps])?;
    Ok(peak)
}
