//! The `Raw`, `ZstdRef` and `LzmaRef` methods: the fallbacks that guarantee we are never
//! worse than compressing the new image alone, or than `zstd --patch-from`, and the strongest
//! coder for images whose old version fits in memory.
//!
//! `ZstdRef` and `LzmaRef` body: the tables (serialised [`Transform`] of the old image and the
//! new image's code regions for the absolute-target form, see [`absolute`]), then the new
//! image as one frame, or one frame per piece (split form), whose reference is the
//! transformed old image: a zstd frame (magic removed) with it as prefix, or an LZMA frame
//! ([`lzref`]) with it as preset dictionary. The decoder must hold the whole old image and the
//! whole new image in memory, which the header flags.

use crate::apply::Usage;
use crate::container::{self, PacketSource, StreamReader, ZstdParams};
use crate::error::{Error, Result};
use crate::header::Method;
use crate::lzref::{self, LzmaParams};
use crate::oldview::transform_in_place;
use crate::transform::dwarf::Dwarf;
use crate::transform::{Region, Transform, absolute, elf};
use crate::varint;
use std::borrow::Cow;
use std::io::{Read, Write};
use zstd::zstd_safe::{self, DCtx};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// First byte of an `LzmaRef` frame that holds a zstd frame instead of LZMA data (LZMA
/// properties bytes are below 225).
const ZSTD_FRAME: u8 = 0xFF;

/// zstd level of the tables stream when the frames are LZMA.
const LZMA_TABLE_LEVEL: i32 = 19;

/// Window log that lets a frame reference the whole old image while producing the new one.
pub fn ref_window_log(old_len: usize, new_len: usize) -> u32 {
    let total = (old_len + new_len).max(1) as u64;
    (64 - (total - 1).leading_zeros()).clamp(17, 31)
}

/// How the frames of a reference-coded body are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefCoder {
    /// zstd at this level, the reference as prefix (`ZstdRef`).
    Zstd(i32),
    /// LZMA, the reference as preset dictionary (`LzmaRef`): each frame is coded with
    /// [`LzmaParams::WORD`], with [`LzmaParams::BYTE`] and with zstd at this level, and the
    /// smallest kept (zstd wins on some text, e.g. `.debug_str` full of symbol hashes).
    Lzma(i32),
}

impl RefCoder {
    /// The patch method this coder produces.
    pub fn method(self) -> Method {
        match self {
            RefCoder::Zstd(_) => Method::ZstdRef,
            RefCoder::Lzma(_) => Method::LzmaRef,
        }
    }

    fn table_level(self) -> i32 {
        match self {
            RefCoder::Zstd(level) => level,
            RefCoder::Lzma(_) => LZMA_TABLE_LEVEL,
        }
    }

    fn compress(self, part: &[u8], reference: &[u8]) -> Result<Vec<u8>> {
        match self {
            RefCoder::Zstd(level) => {
                let p = ZstdParams {
                    level,
                    window_log: ref_window_log(reference.len(), part.len()),
                };
                container::zstd_compress(part, p, Some(reference))
            }
            RefCoder::Lzma(level) => {
                let mut zstd = vec![ZSTD_FRAME];
                zstd.extend_from_slice(&RefCoder::Zstd(level).compress(part, reference)?);
                let word = lzref::compress(part, reference, LzmaParams::WORD)?;
                let byte = lzref::compress(part, reference, LzmaParams::BYTE)?;
                Ok([zstd, word, byte]
                    .into_iter()
                    .min_by_key(Vec::len)
                    .expect("three codings"))
            }
        }
    }
}

/// Encodes a `ZstdRef` or `LzmaRef` body (by `coder`). With `code` regions of the new image
/// non-empty, code in both images is compared in absolute-target form; with `dwarf`, the old
/// image's `.debug_info` fields are predicted through its maps.
pub fn encode_ref(
    old_t: &[u8],
    t: &Transform,
    new: &[u8],
    coder: RefCoder,
    code: &[Region],
    dwarf: Option<&Dwarf>,
    pieces: &[Piece],
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let spec = encode_tables(t, code, dwarf, pieces);
    // The transform table is stored or zstd-compressed, whichever is smaller.
    let zp = ZstdParams {
        level: coder.table_level(),
        window_log: 20,
    };
    let s = container::encode_stream(&spec, zp)?;
    container::write_stream_table(&mut body, std::slice::from_ref(&s));
    varint::put_u64(&mut body, spec.len() as u64);
    varint::put_u64(&mut body, s.data.len() as u64);
    body.extend_from_slice(&s.data);
    let dwarfed;
    let old_t = match dwarf {
        Some(d) => {
            let mut v = old_t.to_vec();
            d.apply(&mut v, t);
            dwarfed = v;
            &dwarfed[..]
        }
        None => old_t,
    };
    let (old_a, new_a);
    let (old_a, new_a) = if code.is_empty() {
        (old_t, new)
    } else {
        let mut o = old_t.to_vec();
        absolute::forward(&mut o, &t.regions, &|x| t.map.map(x));
        let mut n = new.to_vec();
        absolute::forward(&mut n, code, &|x| x);
        (old_a, new_a) = (o, n);
        (&old_a[..], &new_a[..])
    };
    if pieces.is_empty() {
        body.extend_from_slice(&coder.compress(new_a, old_a)?);
        return Ok(body);
    }
    let mut at = 0usize;
    for pc in pieces {
        let (rs, re) = pc.ref_range(old_a.len())?;
        let n = usize::try_from(pc.new_len).map_err(|_| Error::corrupt("piece"))?;
        let part = new_a
            .get(at..at + n)
            .ok_or_else(|| Error::corrupt("pieces exceed the new image"))?;
        let f = coder.compress(part, &old_a[rs..re])?;
        varint::put_u64(&mut body, f.len() as u64);
        body.extend_from_slice(&f);
        at += n;
    }
    if at != new_a.len() {
        return Err(Error::corrupt("pieces do not cover the new image"));
    }
    Ok(body)
}

/// One separately coded piece of the new image (`ZstdRef` split form): the next `new_len`
/// bytes of the new image, coded with `old'[ref_start..ref_start + ref_len]` as reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Bytes of the new image in this piece.
    pub new_len: u64,
    /// Start of the reference in the (converted) old image.
    pub ref_start: u64,
    /// Length of the reference.
    pub ref_len: u64,
}

/// Most pieces a patch may carry.
pub const MAX_PIECES: usize = 4096;

impl Piece {
    fn ref_range(&self, old_len: usize) -> Result<(usize, usize)> {
        let s = usize::try_from(self.ref_start).map_err(|_| Error::corrupt("piece ref"))?;
        let l = usize::try_from(self.ref_len).map_err(|_| Error::corrupt("piece ref"))?;
        let e = s
            .checked_add(l)
            .filter(|&e| e <= old_len)
            .ok_or_else(|| Error::corrupt("piece reference outside the old image"))?;
        Ok((s, e))
    }
}

/// Split form for ELF images: one piece per section of the new image with file bytes of at
/// least 4 KiB (runs of smaller sections and gaps form pieces of their own), referencing the
/// old section of the same name, or the whole old image if there is none. Empty if either
/// image is not ELF.
pub fn elf_pieces(old: &[u8], new: &[u8]) -> Vec<Piece> {
    let (Some(eo), Some(en)) = (elf::parse(old), elf::parse(new)) else {
        return Vec::new();
    };
    const BIG: u64 = 4096;
    let mut secs: Vec<_> = en
        .sections
        .iter()
        .filter(|s| s.typ != 8 && s.size >= BIG)
        .filter(|s| {
            s.off
                .checked_add(s.size)
                .is_some_and(|e| e <= new.len() as u64)
        })
        .collect();
    secs.sort_by_key(|s| s.off);
    let whole = |len: u64| Piece {
        new_len: len,
        ref_start: 0,
        ref_len: old.len() as u64,
    };
    let counterpart = |s: &elf::Section| {
        eo.sections
            .iter()
            .find(|o| o.name == s.name && o.typ != 8 && o.size > 0)
            .filter(|o| {
                o.off
                    .checked_add(o.size)
                    .is_some_and(|e| e <= old.len() as u64)
            })
    };
    // Bytes between two big sections (headers, small sections) reference the old bytes
    // between their counterparts, where the same small sections sit; the whole old image
    // only when the order of the counterparts gives no such range. A short reference keeps
    // the coders from indexing the whole old image once per gap.
    let gap = |len: u64, from: Option<u64>, to: Option<u64>| match (from, to) {
        (Some(from), Some(to)) if from < to => Piece {
            new_len: len,
            ref_start: from,
            ref_len: to - from,
        },
        _ => whole(len),
    };
    let mut out = Vec::new();
    let mut cur = 0u64;
    let mut old_cur = Some(0u64);
    for s in secs {
        if s.off < cur {
            continue;
        }
        let r = counterpart(s);
        if s.off > cur {
            out.push(gap(s.off - cur, old_cur, r.map(|o| o.off)));
        }
        out.push(match r {
            Some(o) => Piece {
                new_len: s.size,
                ref_start: o.off,
                ref_len: o.size,
            },
            None => whole(s.size),
        });
        old_cur = r.map(|o| o.off + o.size);
        cur = s.off + s.size;
    }
    if cur < new.len() as u64 {
        out.push(gap(new.len() as u64 - cur, old_cur, Some(old.len() as u64)));
    }
    if out.len() < 2 || out.len() > MAX_PIECES {
        return Vec::new();
    }
    out
}

/// Tables of the body: `transform_len: uvar`, the transform, the code regions, then `0` or
/// `1` and the DWARF table.
fn encode_tables(
    t: &Transform,
    code: &[Region],
    dwarf: Option<&Dwarf>,
    pieces: &[Piece],
) -> Vec<u8> {
    let mut spec = Vec::new();
    t.encode(&mut spec);
    let mut out = Vec::new();
    varint::put_u64(&mut out, spec.len() as u64);
    out.extend_from_slice(&spec);
    absolute::encode_regions(code, &mut out);
    match dwarf {
        Some(d) => {
            out.push(1);
            d.encode(&mut out);
        }
        None => out.push(0),
    }
    varint::put_u64(&mut out, pieces.len() as u64);
    for pc in pieces {
        varint::put_u64(&mut out, pc.new_len);
        varint::put_u64(&mut out, pc.ref_start);
        varint::put_u64(&mut out, pc.ref_len);
    }
    out
}

type Tables = (Transform, Vec<Region>, Option<Dwarf>, Vec<Piece>);

fn decode_tables(buf: &[u8]) -> Result<Tables> {
    let mut p = 0usize;
    let n = usize::try_from(varint::get_u64(buf, &mut p)?).unwrap_or(usize::MAX);
    let end = p
        .checked_add(n)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| Error::corrupt("truncated transform"))?;
    let t = Transform::decode(&buf[p..end])?;
    p = end;
    let code = absolute::decode_regions(buf, &mut p)?;
    let dwarf = match buf.get(p) {
        Some(0) => {
            p += 1;
            None
        }
        Some(1) => {
            p += 1;
            Some(Dwarf::decode(buf, &mut p)?)
        }
        _ => return Err(Error::corrupt("bad DWARF flag")),
    };
    let n = varint::get_u64(buf, &mut p)? as usize;
    if n > MAX_PIECES {
        return Err(Error::corrupt("too many pieces"));
    }
    let mut pieces = Vec::with_capacity(n);
    for _ in 0..n {
        let mut g = || varint::get_u64(buf, &mut p);
        pieces.push(Piece {
            new_len: g()?,
            ref_start: g()?,
            ref_len: g()?,
        });
    }
    if p != buf.len() {
        return Err(Error::corrupt("trailing table bytes"));
    }
    Ok((t, code, dwarf, pieces))
}

/// Decodes a `ZstdRef` or `LzmaRef` body (by `method`) given the whole old image.
///
/// An old image passed by value is prepared in place and released as soon as the frames no
/// longer need it (a whole-image LZMA frame: once the decoder has copied it into its window;
/// otherwise: before the output is written). The returned [`Usage`] counts the old image as
/// held in that way whether it was passed by value or borrowed (a borrowed image that must
/// be prepared is copied, which only the encoder does, and stays with the caller).
pub fn apply_ref<'a>(
    method: Method,
    old: impl Into<Cow<'a, [u8]>>,
    body: &mut dyn Read,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<Usage> {
    let mut old = old.into();
    let codings = container::read_stream_table(body)?;
    let spec_len = varint::read_u64(body)?;
    let coded_len = varint::read_u64(body)?;
    if spec_len > crate::bsd::MAX_TRANSFORM_BYTES
        || coded_len > crate::bsd::MAX_TRANSFORM_BYTES
        || codings.len() != 1
    {
        return Err(Error::corrupt("bad transform table"));
    }
    let mut coded = vec![0u8; coded_len as usize];
    body.read_exact(&mut coded)
        .map_err(|_| Error::corrupt("truncated transform"))?;
    let mut spec = vec![0u8; spec_len as usize];
    let mut one = OnePacket(Some(coded));
    let mut r = StreamReader::new(0, codings[0])?;
    r.read_exact(&mut one, &mut spec)?;
    let (t, code, dwarf, pieces) = decode_tables(&spec)?;
    drop((one, r, spec));
    if !t.is_identity() {
        transform_in_place(old.to_mut(), &t);
    }
    if let Some(d) = &dwarf {
        d.apply(old.to_mut(), &t);
    }
    if !code.is_empty() {
        absolute::forward(old.to_mut(), &t.regions, &|x| t.map.map(x));
    }
    let old_len = old.len();
    let mut rest = Vec::new();
    body.read_to_end(&mut rest)?;
    let cap = usize::try_from(new_len).map_err(|_| Error::TooLarge("new image".into()))?;
    let (mut dst, peak) = if pieces.is_empty() {
        let (dst, mem, held) = decode_frame(method, &rest, old, cap)?;
        (dst, rest.len() + mem + if held { old_len } else { 0 })
    } else {
        let mut dst = Vec::with_capacity(cap);
        let mut most = 0usize;
        let mut p = 0usize;
        for pc in &pieces {
            let (rs, re) = pc.ref_range(old_len)?;
            let coded = usize::try_from(varint::get_u64(&rest, &mut p)?).unwrap_or(usize::MAX);
            let frame = p
                .checked_add(coded)
                .and_then(|e| rest.get(p..e))
                .ok_or_else(|| Error::corrupt("truncated piece"))?;
            p += coded;
            let n = usize::try_from(pc.new_len)
                .ok()
                .filter(|&n| n <= cap - dst.len())
                .ok_or_else(|| Error::corrupt("pieces exceed the new image"))?;
            let (part, mem, _) = decode_frame(method, frame, Cow::Borrowed(&old[rs..re]), n)?;
            most = most.max(mem);
            dst.extend_from_slice(&part);
        }
        if p != rest.len() || dst.len() != cap {
            return Err(Error::corrupt("pieces do not match the new image"));
        }
        drop(old);
        (dst, old_len + rest.len() + cap + most)
    };
    drop(rest);
    absolute::inverse(&mut dst, &code);
    out.write_all(&dst)?;
    Ok(Usage {
        peak,
        writing: dst.capacity(),
    })
}

/// Decodes one frame of a `ZstdRef` or `LzmaRef` body; returns its bytes, the most memory
/// the decoder held at once besides the prefix (output included), and whether it held the
/// prefix throughout (an LZMA decoder releases a prefix passed by value once it copied it).
fn decode_frame(
    method: Method,
    frame: &[u8],
    prefix: Cow<'_, [u8]>,
    len: usize,
) -> Result<(Vec<u8>, usize, bool)> {
    let zstd = match method {
        Method::LzmaRef => match frame.split_first() {
            Some((&ZSTD_FRAME, zstd)) => Some(zstd),
            _ => None,
        },
        _ => Some(frame),
    };
    match zstd {
        Some(z) => zstd_decompress(z, &prefix, len).map(|(d, m)| (d, m, true)),
        None => lzref::decompress(frame, prefix, len).map(|(d, m)| (d, m, false)),
    }
}

/// Decodes one zstd frame (magic removed) of exactly `len` bytes with `prefix` as reference;
/// returns it and the memory held besides the prefix (the frame with its magic, the output
/// and the decoder context).
fn zstd_decompress(frame: &[u8], prefix: &[u8], len: usize) -> Result<(Vec<u8>, usize)> {
    let mut dctx = DCtx::create();
    let mut f = ZSTD_MAGIC.to_vec();
    f.extend_from_slice(frame);
    let mut dst = Vec::with_capacity(len);
    dctx.ref_prefix(prefix)
        .map_err(|c| Error::corrupt(zstd_safe::get_error_name(c)))?;
    let n = dctx
        .decompress(&mut dst, &f)
        .map_err(|c| Error::corrupt(format!("zstd: {}", zstd_safe::get_error_name(c))))?;
    if n != len {
        return Err(Error::corrupt("decoded size differs from header"));
    }
    let mem = f.capacity() + dst.capacity() + dctx.sizeof();
    Ok((dst, mem))
}

/// Hands out one buffer as the only packet of stream 0.
struct OnePacket(Option<Vec<u8>>);

impl PacketSource for OnePacket {
    fn next_packet(&mut self, _stream: usize) -> Result<Option<Vec<u8>>> {
        Ok(self.0.take())
    }
}

/// Encodes the `Raw` body: one stream holding the new image.
pub fn encode_raw(new: &[u8], params: ZstdParams) -> Result<(Vec<u8>, u64)> {
    let s = container::encode_stream(new, params)?.in_place();
    let mut body = Vec::new();
    container::write_stream_table(&mut body, std::slice::from_ref(&s));
    let codings = [s.coding];
    let mut rec = container::Recorder::new(std::slice::from_ref(&s));
    let mem = apply_raw(&codings, &mut rec, new.len() as u64, &mut std::io::sink())?;
    body.extend_from_slice(&rec.finish());
    Ok((body, mem as u64))
}

/// Decodes a `Raw` body.
pub fn apply_raw(
    codings: &[container::Coding],
    src: &mut dyn PacketSource,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
    if codings.len() != 1 {
        return Err(Error::corrupt("raw method needs 1 stream"));
    }
    let mut r = StreamReader::new(0, codings[0])?;
    let mut buf = vec![0u8; 4096];
    let mut left = new_len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        r.read_exact(src, &mut buf[..n])?;
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(r.memory() + buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn lzma_ref_frames_are_lzma_or_marked_zstd() {
        let old = noise(30_000, 7);
        let mut new = old[2_000..20_000].to_vec();
        new.extend_from_slice(&noise(1_000, 8));
        // The coder keeps the smallest of its codings, whichever that is.
        let frame = RefCoder::Lzma(3).compress(&new, &old).unwrap();
        let (back, ..) = decode_frame(Method::LzmaRef, &frame, old[..].into(), new.len()).unwrap();
        assert_eq!(back, new);
        // A zstd frame behind the marker decodes too; without it, it is not LZMA.
        let zstd = RefCoder::Zstd(3).compress(&new, &old).unwrap();
        let mut marked = vec![ZSTD_FRAME];
        marked.extend_from_slice(&zstd);
        let (back, ..) = decode_frame(Method::LzmaRef, &marked, old[..].into(), new.len()).unwrap();
        assert_eq!(back, new);
        assert!(decode_frame(Method::LzmaRef, &zstd, old[..].into(), new.len()).is_err());
        // Each frame kind is refused by the other method.
        assert!(decode_frame(Method::ZstdRef, &marked, old[..].into(), new.len()).is_err());
        let lzma = lzref::compress(&new, &old, LzmaParams::WORD).unwrap();
        assert!(decode_frame(Method::ZstdRef, &lzma, old[..].into(), new.len()).is_err());
    }
}
