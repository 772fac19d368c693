//! The `Bsd` method: control/difference/extra streams over a transformed old image.
//!
//! Stream 0 (control) starts with the serialised [`Transform`], then holds one record per
//! aligned block: `diff_len`, `extra_len` (LEB128) and `seek` (zig-zag LEB128). Stream 1 holds
//! the bytewise differences `new - old'`, stream 2 the literal bytes. Apply walks the records,
//! reading old bytes through [`OldView`] and writing the new image strictly sequentially.

use crate::container::{
    self, Coding, EncodedStream, PacketSource, Recorder, StreamReader, ZstdParams,
};
use crate::error::{Error, Result};
use crate::matcher::Matches;
use crate::oldview::OldView;
use crate::transform::Transform;
use crate::varint;
use std::io::{Read, Seek, Write};

const CHUNK: usize = 4096;
/// Largest serialised transform a decoder accepts.
pub const MAX_TRANSFORM_BYTES: u64 = 1 << 20;

/// Encoder output: body bytes and the decoder working memory it measured while verifying.
pub struct Encoded {
    /// Stream table followed by packets.
    pub body: Vec<u8>,
    /// Working memory of the simulated decoder in bytes.
    pub apply_memory: u64,
}

/// Builds the three streams from matches between transformed old `old_t` and `new`.
pub fn build_streams(
    transform: &Transform,
    old_t: &[u8],
    new: &[u8],
    m: &Matches,
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut ctrl = Vec::new();
    let mut spec = Vec::new();
    transform.encode(&mut spec);
    varint::put_u64(&mut ctrl, spec.len() as u64);
    ctrl.extend_from_slice(&spec);
    let mut diff = Vec::with_capacity(new.len());
    let mut extra = Vec::new();
    let (mut op, mut np) = (0i64, 0usize);
    for r in &m.records {
        varint::put_u64(&mut ctrl, r.diff_len);
        varint::put_u64(&mut ctrl, r.extra_len);
        varint::put_i64(&mut ctrl, r.seek);
        let dl = r.diff_len as usize;
        let o = op as usize;
        diff.extend(
            new[np..np + dl]
                .iter()
                .zip(&old_t[o..o + dl])
                .map(|(a, b)| a.wrapping_sub(*b)),
        );
        np += dl;
        extra.extend_from_slice(&new[np..np + r.extra_len as usize]);
        np += r.extra_len as usize;
        op += r.diff_len as i64 + r.seek;
    }
    (ctrl, diff, extra)
}

/// Compresses the streams and orders their packets by simulating the decoder on `old`.
pub fn encode(
    old: &[u8],
    new_len: u64,
    streams: [Vec<u8>; 3],
    params: ZstdParams,
) -> Result<Encoded> {
    let enc: Vec<EncodedStream> = streams
        .iter()
        .map(|s| container::encode_stream(s, params))
        .collect::<Result<_>>()?;
    let mut body = Vec::new();
    container::write_stream_table(&mut body, &enc);
    let codings: Vec<Coding> = enc.iter().map(|s| s.coding).collect();
    let mut rec = Recorder::new(&enc);
    let mut sink = std::io::sink();
    let mem = apply_body(
        std::io::Cursor::new(old),
        old.len() as u64,
        &codings,
        &mut rec,
        new_len,
        &mut sink,
    )?;
    body.extend_from_slice(&rec.finish());
    Ok(Encoded {
        body,
        apply_memory: mem as u64,
    })
}

/// Reconstructs `new_len` bytes into `out`; returns the working memory used.
pub fn apply_body<R: Read + Seek>(
    old: R,
    old_len: u64,
    codings: &[Coding],
    src: &mut dyn PacketSource,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
    if codings.len() != 3 {
        return Err(Error::corrupt("bsd method needs 3 streams"));
    }
    let mut readers: Vec<StreamReader> = codings
        .iter()
        .enumerate()
        .map(|(i, c)| StreamReader::new(i, *c))
        .collect::<Result<_>>()?;
    let [ctrl, diff, extra] = &mut readers[..] else {
        unreachable!()
    };
    let spec_len = read_varint(ctrl, src)?;
    if spec_len > MAX_TRANSFORM_BYTES {
        return Err(Error::corrupt("transform too large"));
    }
    let mut spec = vec![0u8; spec_len as usize];
    ctrl.read_exact(src, &mut spec)?;
    let transform = Transform::decode(&spec)?;
    drop(spec);
    let mut view = OldView::new(old, old_len, &transform);
    let mut a = vec![0u8; CHUNK];
    let mut b = vec![0u8; CHUNK];
    let (mut written, mut op) = (0u64, 0i64);
    while written < new_len {
        let dl = read_varint(ctrl, src)?;
        let el = read_varint(ctrl, src)?;
        let seek = varint::unzigzag(read_varint(ctrl, src)?);
        if dl.checked_add(el).is_none_or(|t| t > new_len - written) {
            return Err(Error::corrupt("record overruns the new image"));
        }
        if op < 0 {
            return Err(Error::corrupt("old cursor before start"));
        }
        let mut left = dl;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            view.read_at(op as u64, &mut a[..n])?;
            diff.read_exact(src, &mut b[..n])?;
            for (x, y) in a[..n].iter_mut().zip(&b[..n]) {
                *x = x.wrapping_add(*y);
            }
            out.write_all(&a[..n])?;
            op += n as i64;
            left -= n as u64;
        }
        let mut left = el;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            extra.read_exact(src, &mut a[..n])?;
            out.write_all(&a[..n])?;
            left -= n as u64;
        }
        written += dl + el;
        op = op
            .checked_add(seek)
            .ok_or_else(|| Error::corrupt("seek overflow"))?;
    }
    let mem = readers.iter().map(StreamReader::memory).sum::<usize>()
        + view.memory()
        + 2 * CHUNK
        + transform.memory();
    Ok(mem)
}

fn read_varint(r: &mut StreamReader, src: &mut dyn PacketSource) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8; 1];
        r.read_exact(src, &mut b)?;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Error::corrupt("varint too long"))
}
