//! The `Bsd` method: control/difference/extra streams over a transformed old image.
//!
//! Four streams (see `FORMAT.md`): 0 control (the serialised [`Transform`], then one record per
//! aligned block: `diff_len`, `extra_len` as LEB128 and `seek` zig-zag), 1 the non-zero runs
//! of the difference bytes `new - old'`, 2 the literal ("extra") bytes, 3 the run lengths of
//! the difference bytes (alternating zero-run and non-zero-run lengths, LEB128).
//!
//! Why split the differences into runs and values: after the executable-aware transform the
//! difference bytes are overwhelmingly zero. Coding the lengths of zero runs separately from
//! the few non-zero bytes compresses better than zstd on the raw zeros and is far faster.
//! Apply walks the records, reading old bytes through [`OldView`] and writing the new image
//! strictly sequentially.

use crate::container::{
    self, Coding, EncodedStream, PacketSource, Recorder, StreamReader, ZstdParams,
};
use crate::error::{Error, Result};
use crate::joined;
use crate::matcher::{Matches, Record};
use crate::oldview::OldView;
use crate::transform::Transform;
use crate::varint;
use std::io::{Read, Seek, Write};

const CHUNK: usize = 4096;
/// Largest serialised transform a decoder accepts.
pub const MAX_TRANSFORM_BYTES: u64 = 1 << 20;
/// Records per control group (stored column by column: lengths, extras, seeks).
pub const GROUP: usize = 256;
/// Number of streams of this method.
pub const STREAMS: usize = 4;

/// Encoder output: body bytes and the decoder working memory it measured while verifying.
pub struct Encoded {
    /// Stream table followed by packets.
    pub body: Vec<u8>,
    /// Working memory of the simulated decoder in bytes.
    pub apply_memory: u64,
}

/// Splits difference bytes into run lengths (alternating zero-run and literal-run lengths)
/// and the literal bytes, fed in pieces of any size.
///
/// A literal run absorbs single zeros between non-zero bytes; two zeros in a row end it.
#[derive(Default)]
struct Sparse {
    runs: Vec<u8>,
    vals: Vec<u8>,
    zeros: u64,
    lits: u64,
    /// A zero seen inside a literal run, not yet known to be single.
    held_zero: bool,
}

impl Sparse {
    fn push(&mut self, diff: &[u8]) {
        let mut rest = diff;
        while let Some((&b, tail)) = rest.split_first() {
            if self.lits == 0 {
                // In a zero run: skip to its end in one step.
                let zeros = rest.iter().take_while(|&&x| x == 0).count();
                self.zeros += zeros as u64;
                rest = &rest[zeros..];
                if let Some((&first, tail)) = rest.split_first() {
                    self.vals.push(first);
                    self.lits = 1;
                    rest = tail;
                }
                continue;
            }
            rest = tail;
            match (b, self.held_zero) {
                (0, false) => self.held_zero = true,
                (0, true) => {
                    self.end_run();
                    self.zeros = 2;
                    self.held_zero = false;
                }
                (_, held) => {
                    if held {
                        self.vals.push(0);
                        self.lits += 1;
                        self.held_zero = false;
                    }
                    self.vals.push(b);
                    self.lits += 1;
                }
            }
        }
    }

    fn end_run(&mut self) {
        varint::put_u64(&mut self.runs, self.zeros);
        varint::put_u64(&mut self.runs, self.lits);
        self.zeros = 0;
        self.lits = 0;
    }

    /// Ends the last run; returns (run lengths, literal bytes).
    fn finish(mut self) -> (Vec<u8>, Vec<u8>) {
        if self.held_zero {
            self.end_run();
            self.zeros = 1;
        }
        if self.zeros > 0 || self.lits > 0 {
            self.end_run();
        }
        (self.runs, self.vals)
    }
}

/// Builds the four streams piece by piece: records and the new bytes they cover can be
/// pushed one slice of the new image at a time, so a large image need not be in memory.
pub struct StreamBuilder {
    spec: Vec<u8>,
    records: Vec<Record>,
    sparse: Sparse,
    extra: Vec<u8>,
    diff: Vec<u8>,
    /// Old cursor after the records pushed so far.
    old_pos: i64,
}

impl StreamBuilder {
    /// Starts the streams of a patch made with `transform`.
    pub fn new(transform: &Transform) -> StreamBuilder {
        let mut spec = Vec::new();
        transform.encode(&mut spec);
        StreamBuilder {
            spec,
            records: Vec::new(),
            sparse: Sparse::default(),
            extra: Vec::new(),
            diff: Vec::new(),
            old_pos: 0,
        }
    }

    /// Adds `records`, which cover `new` (the next bytes of the new image) exactly, against
    /// the transformed old image `old_t`.
    pub fn push(&mut self, old_t: &[u8], new: &[u8], records: &[Record]) {
        let mut np = 0usize;
        for r in records {
            let (o, dl) = (self.old_pos as usize, r.diff_len as usize);
            for (n, b) in new[np..np + dl]
                .chunks(DIFF_PIECE)
                .zip(old_t[o..o + dl].chunks(DIFF_PIECE))
            {
                self.diff.clear();
                self.diff
                    .extend(n.iter().zip(b).map(|(a, b)| a.wrapping_sub(*b)));
                self.sparse.push(&self.diff);
            }
            np += dl;
            self.extra
                .extend_from_slice(&new[np..np + r.extra_len as usize]);
            np += r.extra_len as usize;
            self.old_pos += r.diff_len as i64 + r.seek;
        }
        self.records.extend_from_slice(records);
    }

    /// Makes the last record pushed seek the old cursor back to position 0, where the
    /// records of the next slice start.
    pub fn rewind(&mut self) {
        if let Some(last) = self.records.last_mut() {
            last.seek -= self.old_pos;
            self.old_pos = 0;
        }
    }

    /// Literal bytes so far: what the matcher could not find in the old image.
    pub fn extra_len(&self) -> usize {
        self.extra.len()
    }

    /// The control, values, extra and run-length streams.
    pub fn finish(self) -> [Vec<u8>; 4] {
        let mut ctrl = Vec::new();
        varint::put_u64(&mut ctrl, self.spec.len() as u64);
        ctrl.extend_from_slice(&self.spec);
        for g in self.records.chunks(GROUP) {
            varint::put_u64(&mut ctrl, g.len() as u64);
            g.iter()
                .for_each(|r| varint::put_u64(&mut ctrl, r.diff_len));
            g.iter()
                .for_each(|r| varint::put_u64(&mut ctrl, r.extra_len));
            g.iter().for_each(|r| varint::put_i64(&mut ctrl, r.seek));
        }
        let (runs, vals) = self.sparse.finish();
        [ctrl, vals, self.extra, runs]
    }
}

/// Difference bytes computed at a time while building the streams.
const DIFF_PIECE: usize = 64 * 1024;

/// Builds the four streams from matches between transformed old `old_t` and `new`.
pub fn build_streams(transform: &Transform, old_t: &[u8], new: &[u8], m: &Matches) -> [Vec<u8>; 4] {
    let mut b = StreamBuilder::new(transform);
    b.push(old_t, new, &m.records);
    b.finish()
}

/// Window log per stream: small for the control and run-length streams.
pub(crate) fn stream_params(i: usize, p: ZstdParams) -> ZstdParams {
    match i {
        0 | 3 => ZstdParams {
            window_log: p.window_log.min(16),
            ..p
        },
        _ => p,
    }
}

/// Compresses the streams and orders their packets by simulating the decoder on `old`.
pub fn encode(
    old: &[u8],
    new_len: u64,
    streams: [Vec<u8>; 4],
    params: ZstdParams,
) -> Result<Encoded> {
    let enc: Vec<EncodedStream> = streams
        .iter()
        .enumerate()
        .map(|(i, s)| {
            container::encode_stream_chunked(s, stream_params(i, params))
                .map(EncodedStream::in_place)
        })
        .collect::<Result<_>>()?;
    let mut body = Vec::new();
    container::write_stream_table(&mut body, &enc);
    let codings: Vec<Coding> = enc.iter().map(|s| s.coding).collect();
    let mut rec = Recorder::new(&enc);
    let mem = apply_body(
        std::io::Cursor::new(old),
        old.len() as u64,
        &codings,
        &mut rec,
        new_len,
        &mut std::io::sink(),
    )?;
    body.extend_from_slice(&rec.finish());
    let best = Encoded {
        body,
        apply_memory: mem as u64,
    };
    joined::smallest(old, new_len, &streams, params, best)
}

/// Decodes difference bytes from the run-length and value streams.
struct DiffReader {
    zeros: u64,
    lits: u64,
}

impl DiffReader {
    fn read(
        &mut self,
        runs: &mut StreamReader,
        vals: &mut StreamReader,
        src: &mut dyn PacketSource,
        mut buf: &mut [u8],
    ) -> Result<()> {
        while !buf.is_empty() {
            if self.zeros > 0 {
                let n = (self.zeros.min(buf.len() as u64)) as usize;
                buf[..n].fill(0);
                self.zeros -= n as u64;
                buf = &mut buf[n..];
            } else if self.lits > 0 {
                let n = (self.lits.min(buf.len() as u64)) as usize;
                vals.read_exact(src, &mut buf[..n])?;
                self.lits -= n as u64;
                buf = &mut buf[n..];
            } else {
                self.zeros = read_varint(runs, src)?;
                self.lits = read_varint(runs, src)?;
                if self.zeros == 0 && self.lits == 0 {
                    return Err(Error::corrupt("empty difference run"));
                }
            }
        }
        Ok(())
    }
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
    if codings.len() != 1 {
        return apply_streams(old, old_len, codings, src, new_len, out);
    }
    let mut r = StreamReader::new(0, codings[0])?;
    let bufs = joined::read_packetised(&mut r, src)?;
    let mem = r.memory() + joined::JOIN_MAX;
    drop(r);
    let m = apply_in_memory(old, old_len, bufs, new_len, out)?;
    Ok(m + mem)
}

/// Applies from four in-memory streams (the joined layouts).
pub(crate) fn apply_in_memory<R: Read + Seek>(
    old: R,
    old_len: u64,
    bufs: Vec<Vec<u8>>,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
    let mut mem_src = MemSource(bufs.into_iter().map(Some).collect());
    let stored = [Coding::Stored; STREAMS];
    apply_streams(old, old_len, &stored, &mut mem_src, new_len, out)
}

/// Serves in-memory streams, each as one packet.
struct MemSource(Vec<Option<Vec<u8>>>);

impl PacketSource for MemSource {
    fn next_packet(&mut self, stream: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get_mut(stream).and_then(Option::take))
    }
}

fn apply_streams<R: Read + Seek>(
    old: R,
    old_len: u64,
    codings: &[Coding],
    src: &mut dyn PacketSource,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
    if codings.len() != STREAMS {
        return Err(Error::corrupt("bsd method needs 1 or 4 streams"));
    }
    let mut readers: Vec<StreamReader> = codings
        .iter()
        .enumerate()
        .map(|(i, c)| StreamReader::new(i, *c))
        .collect::<Result<_>>()?;
    let [ctrl, vals, extra, runs] = &mut readers[..] else {
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
    let mut dr = DiffReader { zeros: 0, lits: 0 };
    let mut a = vec![0u8; CHUNK];
    let mut b = vec![0u8; CHUNK];
    let (mut written, mut op) = (0u64, 0i64);
    let mut group: Vec<(u64, u64, i64)> = Vec::with_capacity(GROUP);
    let mut gi = 0;
    while written < new_len {
        if gi == group.len() {
            read_group(ctrl, src, &mut group)?;
            gi = 0;
        }
        let (dl, el, seek) = group[gi];
        gi += 1;
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
            dr.read(runs, vals, src, &mut b[..n])?;
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
    let chunked = codings.contains(&Coding::ZstdChunked);
    let mem = readers.iter().map(StreamReader::memory).sum::<usize>()
        + if chunked { container::dctx_memory() } else { 0 }
        + group.capacity() * 24
        + view.memory()
        + 2 * CHUNK
        + transform.memory();
    Ok(mem)
}

fn read_group(
    ctrl: &mut StreamReader,
    src: &mut dyn PacketSource,
    group: &mut Vec<(u64, u64, i64)>,
) -> Result<()> {
    let n = read_varint(ctrl, src)? as usize;
    if n == 0 || n > GROUP {
        return Err(Error::corrupt("bad control group size"));
    }
    group.clear();
    for _ in 0..n {
        group.push((read_varint(ctrl, src)?, 0, 0));
    }
    for g in group.iter_mut() {
        g.1 = read_varint(ctrl, src)?;
    }
    for g in group.iter_mut() {
        g.2 = varint::unzigzag(read_varint(ctrl, src)?);
    }
    Ok(())
}

pub(crate) fn read_varint(r: &mut StreamReader, src: &mut dyn PacketSource) -> Result<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The split in one piece, written as its rule reads: a literal run goes on while the
    /// byte, or the byte after it, is not zero.
    fn split_whole(diff: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut runs, mut vals) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < diff.len() {
            let z0 = i;
            while i < diff.len() && diff[i] == 0 {
                i += 1;
            }
            let l0 = i;
            while i < diff.len() && (diff[i] != 0 || (i + 1 < diff.len() && diff[i + 1] != 0)) {
                i += 1;
            }
            varint::put_u64(&mut runs, (l0 - z0) as u64);
            varint::put_u64(&mut runs, (i - l0) as u64);
            vals.extend_from_slice(&diff[l0..i]);
        }
        (runs, vals)
    }

    proptest! {
        #[test]
        fn split_in_pieces_equals_split_whole(
            diff in proptest::collection::vec(prop_oneof![4 => Just(0u8), 1 => 1u8..], 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(diff.len())).collect();
            cuts.sort_unstable();
            let mut sparse = Sparse::default();
            let mut at = 0;
            for c in cuts.into_iter().chain([diff.len()]) {
                sparse.push(&diff[at..c]);
                at = c;
            }
            prop_assert_eq!(sparse.finish(), split_whole(&diff));
        }
    }
}
