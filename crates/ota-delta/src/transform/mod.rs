//! Executable-aware transform of the old image ("reference projection").
//!
//! Why: when a build changes, code and data move. Every relative branch or call into moved
//! code, every PC-relative data load and every absolute pointer into moved data changes, so a
//! plain byte diff sees thousands of scattered differences. BCJ filters normalise relative
//! branches to absolute targets, which fixes branches *within* equally shifted code but still
//! leaves every reference to a differently shifted target different. Courgette and Zucchini go
//! further: they learn how addresses moved and rewrite references accordingly.
//!
//! We do the latter, but only on the *old* image: the encoder learns an address map
//! (old virtual address -> new virtual address, piecewise constant shifts, see [`AddrMap`]) from
//! a first matching pass, then rewrites every reference it can find in the old image as if its
//! location and target had moved like the map says. The result predicts the new image's bytes,
//! so shifted code matches exactly. The decoder only repeats this forward rewrite, block by
//! block, on the old bytes it reads; it never has to invert anything or look at the new image,
//! so any heuristic is allowed as long as it is deterministic. A wrong guess costs only
//! compression, never correctness (the output digest is verified).
//!
//! The serialised transform (regions of the old image with their instruction set or pointer
//! layout, the value range of valid targets, and the address map) travels at the start of the
//! control stream. Decoder memory: one block copy plus the map (at most [`MAX_MAP`] entries).

mod a64;
pub mod absolute;
pub mod anchors;
mod arm;
pub mod dwarf;
pub mod elf;
pub mod learn;
mod ptr;
mod x86;

pub use learn::candidates;

use crate::error::{Error, Result};
use crate::varint;

/// Most address-map entries a patch may carry (bounds decoder memory).
pub const MAX_MAP: usize = 16384;
/// Most regions a patch may carry.
pub const MAX_REGIONS: usize = 8192;

/// How references are found inside a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Kind {
    /// x86-64 machine code: rel32 calls/jumps/branches and RIP-relative operands.
    X86_64 = 1,
    /// 32-bit ARM (A32) code: B/BL/BLX, literal-pool PC-relative offsets.
    Arm = 2,
    /// Thumb-2 code: BL/BLX/B.W, literal-pool PC-relative offsets.
    Thumb = 3,
    /// AArch64 code: B/BL, B.cond, CBZ, TBZ, LDR literal, ADR, ADRP(+ADD/LDR).
    A64 = 4,
    /// Aligned little-endian 32-bit absolute addresses.
    Ptr32 = 5,
    /// Aligned little-endian 64-bit absolute addresses.
    Ptr64 = 6,
    /// `.ARM.exidx`-style 31-bit place-relative words.
    Prel31 = 7,
    /// 32-bit x86 code: rel32 calls/jumps/branches.
    X86_32 = 8,
    /// ELF32 REL table: remap `r_offset`.
    Rel32 = 9,
    /// ELF32 RELA table: remap `r_offset` and `r_addend`.
    Rela32 = 10,
    /// ELF64 REL table.
    Rel64 = 11,
    /// ELF64 RELA table.
    Rela64 = 12,
    /// ELF32 symbol table: remap `st_value`.
    Sym32 = 13,
    /// ELF64 symbol table.
    Sym64 = 14,
    /// ELF32 dynamic section: remap address-valued entries.
    Dyn32 = 15,
    /// ELF64 dynamic section.
    Dyn64 = 16,
    /// ELF32 symbol table: remap `st_value`, and `st_name` through the name map.
    SymNames32 = 17,
    /// ELF64 symbol table with names remapped.
    SymNames64 = 18,
}

impl Kind {
    fn from_u8(v: u8) -> Result<Self> {
        Ok(match v {
            1 => Kind::X86_64,
            2 => Kind::Arm,
            3 => Kind::Thumb,
            4 => Kind::A64,
            5 => Kind::Ptr32,
            6 => Kind::Ptr64,
            7 => Kind::Prel31,
            8 => Kind::X86_32,
            9 => Kind::Rel32,
            10 => Kind::Rela32,
            11 => Kind::Rel64,
            12 => Kind::Rela64,
            13 => Kind::Sym32,
            14 => Kind::Sym64,
            15 => Kind::Dyn32,
            16 => Kind::Dyn64,
            17 => Kind::SymNames32,
            18 => Kind::SymNames64,
            _ => return Err(Error::corrupt(format!("unknown region kind {v}"))),
        })
    }
}

/// A file range of the old image and the virtual address of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// File offset.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Virtual address of `start`.
    pub va: u64,
    /// Reference layout.
    pub kind: Kind,
}

/// Piecewise-constant address shift: `map(x) = x + delta[i]` for the last `start[i] <= x`;
/// addresses below the first start are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrMap {
    starts: Vec<u64>,
    deltas: Vec<i64>,
}

impl AddrMap {
    /// Builds a map from `(old_va, delta)` pairs sorted by address.
    pub fn new(entries: Vec<(u64, i64)>) -> Self {
        let (starts, deltas) = entries.into_iter().unzip();
        AddrMap { starts, deltas }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True if the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Serialises the map: `entries: uvar`, then the start steps, then the shift changes.
    fn encode(&self, out: &mut Vec<u8>) {
        varint::put_u64(out, self.len() as u64);
        let mut prev = 0u64;
        for s in &self.starts {
            varint::put_u64(out, s - prev);
            prev = *s;
        }
        let mut prev_delta = 0i64;
        for d in &self.deltas {
            varint::put_i64(out, d.wrapping_sub(prev_delta));
            prev_delta = *d;
        }
    }

    fn decode(buf: &[u8], p: &mut usize) -> Result<Self> {
        let m = varint::get_u64(buf, p)? as usize;
        if m > MAX_MAP {
            return Err(Error::corrupt("address map too large"));
        }
        let mut entries = Vec::with_capacity(m);
        let mut s = 0u64;
        for i in 0..m {
            let step = varint::get_u64(buf, p)?;
            if i > 0 && step == 0 {
                return Err(Error::corrupt("address map not increasing"));
            }
            s = s
                .checked_add(step)
                .ok_or_else(|| Error::corrupt("map overflow"))?;
            entries.push((s, 0i64));
        }
        let mut d = 0i64;
        for e in entries.iter_mut() {
            d = d.wrapping_add(varint::unzigzag(varint::get_u64(buf, p)?));
            e.1 = d;
        }
        Ok(AddrMap::new(entries))
    }

    /// Predicted new address of old address `x`.
    #[inline]
    pub fn map(&self, x: u64) -> u64 {
        let i = self.starts.partition_point(|&s| s <= x);
        if i == 0 {
            x
        } else {
            x.wrapping_add(self.deltas[i - 1] as u64)
        }
    }
}

/// A deterministic rewrite of old-image bytes (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transform {
    /// Regions, sorted by file offset, non-overlapping.
    pub regions: Vec<Region>,
    /// Lowest old virtual address a reference may target.
    pub lo: u64,
    /// One past the highest old virtual address a reference may target.
    pub hi: u64,
    /// Old-to-new address map.
    pub map: AddrMap,
    /// Old-to-new offset map of the symbol string table (for `SymNames*` regions).
    pub names: AddrMap,
}

/// What a region handler sees: original bytes, output bytes and the address of byte 0.
pub(crate) struct Span<'a> {
    pub orig: &'a [u8],
    pub out: &'a mut [u8],
    pub va: u64,
    /// Offset of byte 0 from the start of its region (for table entry phase).
    pub phase: u64,
    pub t: &'a Transform,
}

impl Span<'_> {
    #[inline]
    pub fn in_range(&self, target: u64) -> bool {
        target >= self.t.lo && target < self.t.hi
    }
    #[inline]
    pub fn map(&self, x: u64) -> u64 {
        self.t.map.map(x)
    }
    #[inline]
    pub fn u32_at(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.orig[i..i + 4].try_into().expect("4 bytes"))
    }
    #[inline]
    pub fn u16_at(&self, i: usize) -> u16 {
        u16::from_le_bytes(self.orig[i..i + 2].try_into().expect("2 bytes"))
    }
    #[inline]
    pub fn put_u32(&mut self, i: usize, v: u32) {
        self.out[i..i + 4].copy_from_slice(&v.to_le_bytes());
    }
    #[inline]
    pub fn put_u16(&mut self, i: usize, v: u16) {
        self.out[i..i + 2].copy_from_slice(&v.to_le_bytes());
    }
    /// Index of the first byte whose address is a multiple of `align`.
    pub fn first_aligned(&self, align: u64) -> usize {
        ((align - self.va % align) % align) as usize
    }
}

impl Transform {
    /// The transform that changes nothing.
    pub fn identity() -> Self {
        Transform::default()
    }

    /// True if `apply_block` is a no-op.
    pub fn is_identity(&self) -> bool {
        self.regions.is_empty()
    }

    /// Bytes of memory the decoder holds for this transform (tables plus one block copy).
    pub fn memory(&self) -> usize {
        if self.is_identity() {
            return 0;
        }
        (self.map.len() + self.names.len()) * 16 + self.regions.len() * 32 + crate::oldview::BLOCK
    }

    /// Rewrites one block of the old image that starts at file offset `start`.
    pub fn apply_block(&self, block: &mut [u8], start: u64) {
        if self.is_identity() || block.is_empty() {
            return;
        }
        let end = start + block.len() as u64;
        let first = self.regions.partition_point(|r| r.start + r.len <= start);
        let orig = block.to_vec();
        for r in &self.regions[first..] {
            if r.start >= end {
                break;
            }
            let s = r.start.max(start);
            let e = (r.start + r.len).min(end);
            let (bs, be) = ((s - start) as usize, (e - start) as usize);
            let mut span = Span {
                orig: &orig[bs..be],
                out: &mut block[bs..be],
                va: r.va.wrapping_add(s - r.start),
                phase: s - r.start,
                t: self,
            };
            match r.kind {
                Kind::X86_64 => x86::rewrite(&mut span, true),
                Kind::X86_32 => x86::rewrite(&mut span, false),
                Kind::Arm => arm::rewrite_a32(&mut span),
                Kind::Thumb => arm::rewrite_t32(&mut span),
                Kind::A64 => a64::rewrite(&mut span),
                Kind::Ptr32 => ptr::rewrite_abs(&mut span, 4),
                Kind::Ptr64 => ptr::rewrite_abs(&mut span, 8),
                Kind::Prel31 => ptr::rewrite_prel31(&mut span),
                Kind::Rel32 => ptr::rewrite_table(&mut span, 4, 8, &[0]),
                Kind::Rela32 => ptr::rewrite_table(&mut span, 4, 12, &[0, 8]),
                Kind::Rel64 => ptr::rewrite_table(&mut span, 8, 16, &[0]),
                Kind::Rela64 => ptr::rewrite_table(&mut span, 8, 24, &[0, 16]),
                Kind::Sym32 => ptr::rewrite_table(&mut span, 4, 16, &[4]),
                Kind::Sym64 => ptr::rewrite_table(&mut span, 8, 24, &[8]),
                Kind::SymNames32 => {
                    ptr::rewrite_table(&mut span, 4, 16, &[4]);
                    ptr::rewrite_names(&mut span, 16);
                }
                Kind::SymNames64 => {
                    ptr::rewrite_table(&mut span, 8, 24, &[8]);
                    ptr::rewrite_names(&mut span, 24);
                }
                Kind::Dyn32 => ptr::rewrite_dynamic(&mut span, 4),
                Kind::Dyn64 => ptr::rewrite_dynamic(&mut span, 8),
            }
        }
    }

    /// Serialises the transform.
    pub fn encode(&self, out: &mut Vec<u8>) {
        varint::put_u64(out, self.regions.len() as u64);
        if self.regions.is_empty() {
            return;
        }
        let mut prev_end = 0u64;
        for r in &self.regions {
            out.push(r.kind as u8);
            varint::put_u64(out, r.start - prev_end);
            varint::put_u64(out, r.len);
            varint::put_i64(out, r.va.wrapping_sub(r.start) as i64);
            prev_end = r.start + r.len;
        }
        varint::put_u64(out, self.lo);
        varint::put_u64(out, self.hi - self.lo);
        self.map.encode(out);
        self.names.encode(out);
    }

    /// Parses a serialised transform, validating its shape.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let mut p = 0usize;
        let get = |p: &mut usize| varint::get_u64(buf, p);
        let n = get(&mut p)? as usize;
        if n == 0 {
            return if p == buf.len() {
                Ok(Transform::identity())
            } else {
                Err(Error::corrupt("trailing transform bytes"))
            };
        }
        if n > MAX_REGIONS {
            return Err(Error::corrupt("too many transform regions"));
        }
        let mut regions = Vec::with_capacity(n);
        let mut prev_end = 0u64;
        for _ in 0..n {
            let kind = Kind::from_u8(*buf.get(p).ok_or_else(|| Error::corrupt("truncated"))?)?;
            p += 1;
            let start = prev_end
                .checked_add(get(&mut p)?)
                .ok_or_else(|| Error::corrupt("region overflow"))?;
            let len = get(&mut p)?;
            let va = start.wrapping_add(varint::unzigzag(get(&mut p)?) as u64);
            prev_end = start
                .checked_add(len)
                .ok_or_else(|| Error::corrupt("region overflow"))?;
            regions.push(Region {
                start,
                len,
                va,
                kind,
            });
        }
        let lo = get(&mut p)?;
        let hi = lo
            .checked_add(get(&mut p)?)
            .ok_or_else(|| Error::corrupt("range overflow"))?;
        let map = AddrMap::decode(buf, &mut p)?;
        let names = AddrMap::decode(buf, &mut p)?;
        if p != buf.len() {
            return Err(Error::corrupt("trailing transform bytes"));
        }
        Ok(Transform {
            regions,
            lo,
            hi,
            map,
            names,
        })
    }
}

/// Sign-extends the low `bits` bits of `v`.
#[inline]
pub(crate) fn sext(v: u64, bits: u32) -> i64 {
    let s = 64 - bits;
    ((v << s) as i64) >> s
}

/// True if `v` fits in a signed field of `bits` bits.
#[inline]
pub(crate) fn fits(v: i64, bits: u32) -> bool {
    let lim = 1i64 << (bits - 1);
    (-lim..lim).contains(&v)
}
