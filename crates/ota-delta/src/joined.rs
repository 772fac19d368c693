//! Layouts of the `Bsd` method for tiny patches, where per-stream framing would dominate.
//!
//! * **Packetised joined**: one stream (in place or zstd) whose decoded bytes are the four
//!   streams, each as `len: uvar` + bytes.
//! * **Inline**: no stream table and no packets: a `0` byte, the lengths of streams 0–2 as
//!   `uvar`, then the bytes of all four streams; stream 3 runs to the end of the patch.
//!
//! Both are read completely (at most [`JOIN_MAX`] bytes) before applying.

use crate::bsd::{Encoded, STREAMS, apply_in_memory, read_varint, stream_params};
use crate::container::{self, PacketSource, Recorder, StreamReader, ZstdParams};
use crate::error::{Error, Result};
use crate::varint;
use std::io::{Read, Seek, Write};

/// Largest decoded size of a joined layout.
pub const JOIN_MAX: usize = 64 * 1024;
/// First body byte of the inline layout (a stream table never has 0 streams).
pub const INLINE: u8 = 0;

/// Returns the smallest of `best` and the joined layouts of `streams`.
pub fn smallest(
    old: &[u8],
    new_len: u64,
    streams: &[Vec<u8>; STREAMS],
    params: ZstdParams,
    mut best: Encoded,
) -> Result<Encoded> {
    let total: usize = streams.iter().map(|s| s.len() + 10).sum();
    if total > JOIN_MAX {
        return Ok(best);
    }
    let mut joined = Vec::with_capacity(total);
    for s in streams {
        varint::put_u64(&mut joined, s.len() as u64);
        joined.extend_from_slice(s);
    }
    let js = container::encode_stream(&joined, stream_params(0, params))?.in_place();
    let mut body = Vec::new();
    container::write_stream_table(&mut body, std::slice::from_ref(&js));
    let mut rec = Recorder::new(std::slice::from_ref(&js));
    let mem = crate::bsd::apply_body(
        std::io::Cursor::new(old),
        old.len() as u64,
        &[js.coding],
        &mut rec,
        new_len,
        &mut std::io::sink(),
    )?;
    body.extend_from_slice(&rec.finish());
    if body.len() < best.body.len() {
        best = Encoded {
            body,
            apply_memory: mem as u64,
        };
    }

    let mut body = vec![INLINE];
    for s in &streams[..STREAMS - 1] {
        varint::put_u64(&mut body, s.len() as u64);
    }
    streams.iter().for_each(|s| body.extend_from_slice(s));
    if body.len() < best.body.len() {
        let mut rest = &body[1..];
        let mem = apply_inline(
            std::io::Cursor::new(old),
            old.len() as u64,
            &mut rest,
            new_len,
            &mut std::io::sink(),
        )?;
        best = Encoded {
            body,
            apply_memory: mem as u64,
        };
    }
    Ok(best)
}

/// Reads the four streams of the packetised joined layout from its single stream.
pub fn read_packetised(r: &mut StreamReader, src: &mut dyn PacketSource) -> Result<Vec<Vec<u8>>> {
    let mut bufs = Vec::with_capacity(STREAMS);
    let mut total = 0usize;
    for _ in 0..STREAMS {
        let n = read_varint(r, src)? as usize;
        total = total.saturating_add(n);
        if total > JOIN_MAX {
            return Err(Error::corrupt("joined streams too large"));
        }
        let mut b = vec![0u8; n];
        r.read_exact(src, &mut b)?;
        bufs.push(b);
    }
    Ok(bufs)
}

/// Applies the inline layout; `body` is positioned just after the [`INLINE`] byte.
pub fn apply_inline<R: Read + Seek>(
    old: R,
    old_len: u64,
    body: &mut dyn Read,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
    let mut lens = [0usize; STREAMS - 1];
    for l in &mut lens {
        *l = usize::try_from(varint::read_u64(body)?).unwrap_or(usize::MAX);
    }
    let mut all = Vec::new();
    body.take(JOIN_MAX as u64 + 1).read_to_end(&mut all)?;
    if all.len() > JOIN_MAX {
        return Err(Error::corrupt("inline streams too large"));
    }
    let mut bufs = Vec::with_capacity(STREAMS);
    let mut rest = &all[..];
    for l in lens {
        if l > rest.len() {
            return Err(Error::corrupt("truncated inline streams"));
        }
        let (a, b) = rest.split_at(l);
        bufs.push(a.to_vec());
        rest = b;
    }
    bufs.push(rest.to_vec());
    drop(all);
    let m = apply_in_memory(old, old_len, bufs, new_len, out)?;
    Ok(m + JOIN_MAX)
}
