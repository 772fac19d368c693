//! Expanded images: what the inner delta of the `LzmaStreams` method works on.
//!
//! Why this layout: the bytes outside the streams come first, in order (they change like
//! any image), then per stream its plaintext followed by its serialised decisions
//! ([`crate::lzma::tokens`]). Plaintexts of similar versions match long stretches of each
//! other, and so do their decision columns.
//!
//! Memory: apply holds an expanded image, so both directions avoid further copies of it.
//! [`expand`] decodes each stream's plaintext straight into the expansion and collects its
//! decisions as columns; [`Rebuilder`] takes the expanded new image as it is written, holding
//! back only the bytes outside the streams (they come first but are written around the
//! streams) and a stream that arrives in pieces.

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
    /// Most memory held at once while expanding, the expansion included (the image not).
    pub peak: usize,
}

/// Expands `img` with the given streams (in order, inside the image). Fails if a stream does
/// not decode to its plaintext length within its coded bytes.
pub fn expand(img: &[u8], streams: &[Stream]) -> Result<Expanded> {
    let coded: usize = streams.iter().map(|s| s.coded_len).sum();
    let mut plain_left: usize = streams.iter().map(|s| s.plain_len).sum();
    // Room for everything but the decisions, whose size is known once a stream is decoded.
    let mut bytes = Vec::with_capacity(img.len() - coded + plain_left);
    let mut prev = 0;
    for s in streams {
        bytes.extend_from_slice(&img[prev..s.start]);
        prev = s.end();
    }
    bytes.extend_from_slice(&img[prev..]);
    let mut token_lens = Vec::with_capacity(streams.len());
    let mut token_counts = Vec::with_capacity(streams.len());
    let mut peak = bytes.capacity();
    for s in streams {
        let mut cols = tokens::Columns::default();
        decode::decode_into(
            &img[s.start..s.end()],
            s.props,
            s.plain_len as u64,
            super::MAX_PLAIN_TOTAL,
            &mut bytes,
            |t| cols.push(t),
        )?;
        plain_left -= s.plain_len;
        let work = cols.memory() + s.props.model_memory();
        let before = bytes.capacity();
        let ser = cols.serialized_len();
        bytes.reserve_exact(ser + plain_left);
        // A growing buffer may be copied: old and new at once.
        let grown = if bytes.capacity() > before { before } else { 0 };
        peak = peak.max(before + grown + work);
        cols.write_to(&mut bytes);
        token_lens.push(ser);
        token_counts.push(cols.count());
    }
    Ok(Expanded {
        peak: peak.max(bytes.capacity()),
        bytes,
        token_lens,
        token_counts,
    })
}

/// Rebuilds an image from its expansion as the expansion is written to it, re-encoding every
/// stream, and writes the image to the inner writer.
///
/// The bytes outside the streams come first in the expansion; those before the first stream
/// are written through, the others are held until their place in the image. A stream's
/// plaintext and decisions are coded straight from the written data when one write holds
/// them whole, else gathered first. An error is kept for [`Rebuilder::take_error`] (a writer
/// can only report I/O errors).
pub struct Rebuilder<'a> {
    streams: &'a [Stream],
    token_lens: &'a [usize],
    out: &'a mut dyn Write,
    /// Bytes outside the streams in all.
    gaps: usize,
    /// Bytes outside the streams received so far.
    got_gaps: usize,
    /// Those after the first stream's start, until written.
    held: Vec<u8>,
    /// Of `held`, bytes written.
    held_out: usize,
    /// The next stream to rebuild.
    next: usize,
    /// Its plaintext and decisions, when they arrive in pieces.
    pending: Vec<u8>,
    error: Option<Error>,
    /// Most memory held at once.
    pub peak: usize,
}

impl<'a> Rebuilder<'a> {
    /// A rebuilder of the image of `new_size` bytes with the given streams (as checked by
    /// [`super::read_table`]) and lengths of their serialised decisions, from an expansion of
    /// `expanded_len` bytes (which must match them).
    pub fn new(
        streams: &'a [Stream],
        token_lens: &'a [usize],
        new_size: u64,
        expanded_len: u64,
        out: &'a mut dyn Write,
    ) -> Result<Self> {
        let coded: usize = streams.iter().map(|s| s.coded_len).sum();
        let gaps = usize::try_from(new_size)
            .ok()
            .and_then(|n| n.checked_sub(coded))
            .ok_or_else(|| bad("streams exceed the image"))?;
        let total = streams
            .iter()
            .zip(token_lens)
            .try_fold(gaps as u64, |t, (s, &tl)| {
                t.checked_add(s.plain_len as u64)?.checked_add(tl as u64)
            });
        if token_lens.len() != streams.len() || total != Some(expanded_len) {
            return Err(bad("length differs from the table"));
        }
        Ok(Rebuilder {
            streams,
            token_lens,
            out,
            gaps,
            got_gaps: 0,
            held: Vec::new(),
            held_out: 0,
            next: 0,
            pending: Vec::new(),
            error: None,
            peak: 0,
        })
    }

    /// The error that made a write fail, if it was not an I/O error.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// Checks that the whole expansion was written and writes the image's last bytes.
    pub fn finish(self) -> Result<usize> {
        if self.next != self.streams.len() || self.got_gaps != self.gaps {
            return Err(bad("too short"));
        }
        self.out.write_all(&self.held[self.held_out..])?;
        Ok(self.peak)
    }

    /// Bytes outside the streams before the first stream.
    fn lead(&self) -> usize {
        self.streams.first().map_or(self.gaps, |s| s.start)
    }

    fn take(&mut self, mut buf: &[u8]) -> Result<()> {
        if self.got_gaps < self.gaps {
            let n = buf.len().min(self.gaps - self.got_gaps);
            let lead = self.lead().saturating_sub(self.got_gaps).min(n);
            self.out.write_all(&buf[..lead])?;
            if lead < n {
                if self.held.capacity() == 0 {
                    self.held.reserve_exact(self.gaps - self.lead());
                }
                self.held.extend_from_slice(&buf[lead..n]);
            }
            self.got_gaps += n;
            buf = &buf[n..];
        }
        while !buf.is_empty() {
            let (Some(s), Some(&tl)) =
                (self.streams.get(self.next), self.token_lens.get(self.next))
            else {
                return Err(bad("longer than its streams"));
            };
            let need = s.plain_len + tl;
            if self.pending.is_empty() && buf.len() >= need {
                self.stream(&buf[..need], self.held.capacity())?;
                buf = &buf[need..];
                continue;
            }
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(need);
            }
            let n = buf.len().min(need - self.pending.len());
            self.pending.extend_from_slice(&buf[..n]);
            buf = &buf[n..];
            if self.pending.len() == need {
                let data = std::mem::take(&mut self.pending);
                self.stream(&data, self.held.capacity() + data.capacity())?;
            }
        }
        Ok(())
    }

    /// Rebuilds the next stream from its plaintext and decisions, writing the bytes outside
    /// the streams before it and its coded bytes; `held` is the memory held meanwhile.
    fn stream(&mut self, data: &[u8], held: usize) -> Result<()> {
        let s = self.streams[self.next];
        let prev = match self.next {
            0 => 0,
            i => self.streams[i - 1].end(),
        };
        if self.next > 0 {
            let gap = s.start - prev;
            let from = self.held_out;
            self.out.write_all(&self.held[from..from + gap])?;
            self.held_out += gap;
        }
        let (plain, ser) = data.split_at(s.plain_len);
        let mut toks = tokens::Reader::new(ser)?;
        let coded = encode::encode_tokens(plain, &mut toks, s.props, s.coded_len)?;
        toks.finish()?;
        if coded.len() != s.coded_len {
            return Err(bad("stream length differs from its table"));
        }
        self.peak = self
            .peak
            .max(held + coded.capacity() + s.props.model_memory());
        self.out.write_all(&coded)?;
        self.next += 1;
        Ok(())
    }
}

impl Write for Rebuilder<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Err(std::io::Error::other("rebuild failed"));
        }
        match self.take(buf) {
            Ok(()) => Ok(buf.len()),
            Err(Error::Io(e)) => Err(e),
            Err(e) => {
                self.error = Some(e);
                Err(std::io::Error::other("rebuild failed"))
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn bad(m: &str) -> Error {
    Error::corrupt(format!("expanded image: {m}"))
}
