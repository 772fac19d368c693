//! The `Raw` and `ZstdRef` methods: the fallbacks that guarantee we are never worse than
//! compressing the new image alone, or than `zstd --patch-from`.
//!
//! `ZstdRef` body: the tables (serialised [`Transform`] of the old image and the new image's
//! code regions for the absolute-target form, see [`absolute`]), then one zstd frame (magic
//! removed) whose reference prefix is the transformed old image. The decoder must hold the
//! whole old image and the whole new image in memory, which the header flags.

use crate::container::{self, PacketSource, StreamReader, ZstdParams};
use crate::error::{Error, Result};
use crate::oldview::transform_image;
use crate::transform::dwarf::Dwarf;
use crate::transform::{Region, Transform, absolute};
use crate::varint;
use std::io::{Read, Write};
use zstd::zstd_safe::{self, DCtx};

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Window log that lets a frame reference the whole old image while producing the new one.
pub fn ref_window_log(old_len: usize, new_len: usize) -> u32 {
    let total = (old_len + new_len).max(1) as u64;
    (64 - (total - 1).leading_zeros()).clamp(17, 31)
}

/// Encodes the `ZstdRef` body. With `code` regions of the new image non-empty, code in both
/// images is compared in absolute-target form; with `dwarf`, the old image's `.debug_info`
/// fields are predicted through its maps.
pub fn encode_ref(
    old_t: &[u8],
    t: &Transform,
    new: &[u8],
    level: i32,
    code: &[Region],
    dwarf: Option<&Dwarf>,
) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    let spec = encode_tables(t, code, dwarf);
    // The transform table is stored or zstd-compressed, whichever is smaller.
    let zp = ZstdParams {
        level,
        window_log: 20,
    };
    let s = container::encode_stream(&spec, zp)?;
    container::write_stream_table(&mut body, std::slice::from_ref(&s));
    varint::put_u64(&mut body, spec.len() as u64);
    varint::put_u64(&mut body, s.data.len() as u64);
    body.extend_from_slice(&s.data);
    let p = ZstdParams {
        level,
        window_log: ref_window_log(old_t.len(), new.len()),
    };
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
    let frame = if code.is_empty() {
        container::zstd_compress(new, p, Some(old_t))?
    } else {
        let mut old_a = old_t.to_vec();
        absolute::forward(&mut old_a, &t.regions, &|x| t.map.map(x));
        let mut new_a = new.to_vec();
        absolute::forward(&mut new_a, code, &|x| x);
        container::zstd_compress(&new_a, p, Some(&old_a))?
    };
    body.extend_from_slice(&frame);
    Ok(body)
}

/// Tables of the body: `transform_len: uvar`, the transform, the code regions, then `0` or
/// `1` and the DWARF table.
fn encode_tables(t: &Transform, code: &[Region], dwarf: Option<&Dwarf>) -> Vec<u8> {
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
    out
}

type Tables = (Transform, Vec<Region>, Option<Dwarf>);

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
    if p != buf.len() {
        return Err(Error::corrupt("trailing table bytes"));
    }
    Ok((t, code, dwarf))
}

/// Decodes a `ZstdRef` body given the whole old image.
pub fn apply_ref(
    old: &[u8],
    body: &mut dyn Read,
    new_len: u64,
    out: &mut dyn Write,
) -> Result<usize> {
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
    let (t, code, dwarf) = decode_tables(&spec)?;
    let mut old_t = transform_image(old, &t);
    if let Some(d) = &dwarf {
        d.apply(&mut old_t, &t);
    }
    if !code.is_empty() {
        absolute::forward(&mut old_t, &t.regions, &|x| t.map.map(x));
    }
    let mut frame = ZSTD_MAGIC.to_vec();
    body.read_to_end(&mut frame)?;
    let cap = usize::try_from(new_len).map_err(|_| Error::TooLarge("new image".into()))?;
    let mut dst = Vec::with_capacity(cap);
    let mut dctx = DCtx::create();
    dctx.ref_prefix(&old_t[..])
        .map_err(|c| Error::corrupt(zstd_safe::get_error_name(c)))?;
    let n = dctx
        .decompress(&mut dst, &frame)
        .map_err(|c| Error::corrupt(format!("zstd: {}", zstd_safe::get_error_name(c))))?;
    if n as u64 != new_len {
        return Err(Error::corrupt("decoded size differs from header"));
    }
    absolute::inverse(&mut dst, &code);
    out.write_all(&dst)?;
    Ok(old.len() + old_t.len() + frame.len() + dst.len() + dctx.sizeof())
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
