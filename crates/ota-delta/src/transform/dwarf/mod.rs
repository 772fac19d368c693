//! DWARF-aware prediction of `.debug_info` for the `ZstdRef` method.
//!
//! Why: in executables shipped with debug information, `.debug_info` is the largest part of
//! the patch when the compiler changed. Most of its bytes are fixed-size reference fields:
//! offsets into `.debug_str` (`DW_FORM_strp`), references between entries (`DW_FORM_ref4`),
//! offsets into `.debug_line` / `.debug_ranges` / `.debug_loc` (`DW_FORM_sec_offset`), code
//! addresses (`DW_FORM_addr`) and function lengths (`DW_AT_high_pc` as data). When strings
//! or entries are inserted, all of these shift, so even unchanged entries differ. We walk the
//! old image's debugging entries (the abbreviation tables say where every field is) and
//! rewrite each such field as if its target moved like the learned maps say: section offsets
//! through an **offset map** (old file offset → change of the offset within its section,
//! learned from matching the debug sections), addresses through the transform's address map.
//!
//! Like the reference projection, this is only a prediction of the old image applied by both
//! sides; a wrong guess costs compression, never correctness. It needs the whole old image (a
//! unit is walked from its start), so only `ZstdRef` (which holds the whole old image) uses
//! it. Every decision reads only original bytes of the old image.
//!
//! This module holds the prediction itself: learning the offset map for a pair, the rules for
//! which fields are rewritten and how, and the serialised table. Finding the fields (section
//! lookup, unit headers, abbreviation tables, form sizes) is the private `reader` module.

mod reader;

use self::reader::{Field, Unit, Visitor, section};
use super::elf::Elf;
use super::learn::{paint, to_map};
use super::{AddrMap, Transform};
use crate::error::{Error, Result};
use crate::varint;
use std::collections::BTreeMap;

/// Fewest field uses that justify keeping an offset-map entry.
const MIN_USES: usize = 2;

/// Learning rounds (each matches the debug sections once).
const ROUNDS: usize = 2;

/// Shortest matched block trusted as evidence of an offset shift.
const MIN_BLOCK: u64 = 16;

/// Sections a DWARF field may point into, in table order.
const TARGETS: [&str; 5] = [
    ".debug_info",
    ".debug_str",
    ".debug_line",
    ".debug_ranges",
    ".debug_loc",
];

/// Where the old image's debug sections are, and how offsets into them moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dwarf {
    /// File range of `.debug_info`.
    pub info: (u64, u64),
    /// File range of `.debug_abbrev`.
    pub abbrev: (u64, u64),
    /// File offsets of `.debug_str`, `.debug_line`, `.debug_ranges`, `.debug_loc`.
    pub str: Option<u64>,
    /// `.debug_line`.
    pub line: Option<u64>,
    /// `.debug_ranges` (offset, length); its address pairs are remapped too.
    pub ranges: Option<(u64, u64)>,
    /// `.debug_loc`.
    pub loc: Option<u64>,
    /// Old file offset → change of the offset within its section.
    pub offs: AddrMap,
}

impl Dwarf {
    /// Matches the debug sections of two ELF images and learns the offset map from them.
    /// Two rounds: the second matches the old sections as predicted with the first map.
    pub fn for_pair(old: &[u8], new: &[u8], t: &Transform, max_window: usize) -> Option<Dwarf> {
        let eo = super::elf::parse(old)?;
        let en = super::elf::parse(new)?;
        let span = |e: &Elf, len: usize| {
            let v: Vec<(u64, u64)> = TARGETS.iter().filter_map(|n| section(e, n, len)).collect();
            let s = v.iter().map(|r| r.0).min()?;
            let e = v.iter().map(|r| r.0 + r.1).max()?;
            Some((s as usize, e as usize))
        };
        let (os, oe) = span(&eo, old.len())?;
        let (ns, ne) = span(&en, new.len())?;
        let mut d = Dwarf::learn(&eo, old.len(), &en, new.len(), &[])?;
        for _ in 0..ROUNDS {
            let mut pred = old.to_vec();
            d.apply(&mut pred, t);
            let m = crate::encode::match_images(&pred[os..oe], &new[ns..ne], max_window);
            let blocks: Vec<(u64, u64, u64)> = m
                .blocks
                .iter()
                .map(|&(o, n, l)| (o + os as u64, n + ns as u64, l))
                .collect();
            d = Dwarf::learn(&eo, old.len(), &en, new.len(), &blocks)?;
        }
        d.prune(old, t);
        Some(d)
    }

    /// Drops offset-map entries that fewer than [`MIN_USES`] fields of the old image use
    /// (each costs table bytes; their offsets inherit the previous entry's shift), then
    /// merges equal neighbours.
    fn prune(&mut self, old: &[u8], t: &Transform) {
        let mut seen = Vec::new();
        self.walk(&mut old.to_vec(), t, Some(&mut seen));
        let starts: Vec<u64> = self.offs.starts.clone();
        let mut uses = vec![0usize; starts.len()];
        for x in seen {
            let i = starts.partition_point(|&s| s <= x);
            if i > 0 {
                uses[i - 1] += 1;
            }
        }
        let mut kept: Vec<(u64, i64)> = Vec::new();
        for (k, (&s, &d)) in starts.iter().zip(&self.offs.deltas).enumerate() {
            if uses[k] < MIN_USES || kept.last().is_some_and(|l| l.1 == d) {
                continue;
            }
            kept.push((s, d));
        }
        self.offs = AddrMap::new(kept);
    }

    /// Learns the offset map from matched blocks `(old_off, new_off, len)` (file offsets);
    /// `None` if either image lacks `.debug_info` or `.debug_abbrev`.
    pub fn learn(
        eo: &Elf,
        old_len: usize,
        en: &Elf,
        new_len: usize,
        blocks: &[(u64, u64, u64)],
    ) -> Option<Dwarf> {
        let info = section(eo, ".debug_info", old_len)?;
        let abbrev = section(eo, ".debug_abbrev", old_len)?;
        section(en, ".debug_info", new_len)?;
        let pairs: Vec<((u64, u64), (u64, u64))> = TARGETS
            .iter()
            .filter_map(|n| Some((section(eo, n, old_len)?, section(en, n, new_len)?)))
            .collect();
        let mut pieces: Vec<(u64, i64, u64)> = Vec::new();
        for &(o, n, l) in blocks {
            let (o, n, l) = (o as i64, n as i64, l as i64);
            for &((os, osz), (ns, nsz)) in &pairs {
                let (os, osz, ns, nsz) = (os as i64, osz as i64, ns as i64, nsz as i64);
                let start = o.max(os).max(o + ns - n);
                let end = (o + l).min(os + osz).min(o + ns + nsz - n);
                if end - start < MIN_BLOCK as i64 {
                    continue;
                }
                let d = (n - ns) - (o - os);
                pieces.push((start as u64, d, (end - start) as u64));
            }
        }
        pieces.sort_by_key(|p| (p.2, p.0));
        let mut m: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
        for (s, d, len) in pieces {
            paint(&mut m, s, s + len, d);
        }
        let off = |n: &str| section(eo, n, old_len).map(|s| s.0);
        Some(Dwarf {
            info,
            abbrev,
            str: off(".debug_str"),
            line: off(".debug_line"),
            ranges: section(eo, ".debug_ranges", old_len),
            loc: off(".debug_loc"),
            offs: to_map(m),
        })
    }

    /// Serialises: `info_off, info_len, abbrev_off, abbrev_len: uvar`, then for `.debug_str`,
    /// `.debug_line`, `.debug_ranges`, `.debug_loc` the file offset + 1 (`0` absent), the
    /// length of `.debug_ranges` if present, then the offset map.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.info.0, self.info.1, self.abbrev.0, self.abbrev.1] {
            varint::put_u64(out, v);
        }
        for v in [self.str, self.line, self.ranges.map(|r| r.0), self.loc] {
            varint::put_u64(out, v.map_or(0, |x| x.wrapping_add(1)));
        }
        if let Some(r) = self.ranges {
            varint::put_u64(out, r.1);
        }
        self.offs.encode(out);
    }

    /// Parses what [`Dwarf::encode`] wrote.
    pub fn decode(buf: &[u8], p: &mut usize) -> Result<Dwarf> {
        let mut g = || varint::get_u64(buf, p);
        let info = (g()?, g()?);
        let abbrev = (g()?, g()?);
        let mut opt = || g().map(|v| v.checked_sub(1));
        let (str, line, ranges, loc) = (opt()?, opt()?, opt()?, opt()?);
        let ranges = match ranges {
            Some(o) => Some((o, varint::get_u64(buf, p)?)),
            None => None,
        };
        let offs = AddrMap::decode(buf, p)?;
        if info.0.checked_add(info.1).is_none() || abbrev.0.checked_add(abbrev.1).is_none() {
            return Err(Error::corrupt("bad DWARF table"));
        }
        Ok(Dwarf {
            info,
            abbrev,
            str,
            line,
            ranges,
            loc,
            offs,
        })
    }

    /// Rewrites the reference fields of `.debug_info` and the address pairs of
    /// `.debug_ranges` in `img` (the old image, possibly already transformed elsewhere); reads
    /// `.debug_info` and `.debug_abbrev` as they are in `img` before the call. Ranges outside
    /// `img` are ignored.
    pub fn apply(&self, img: &mut [u8], t: &Transform) {
        self.walk(img, t, None);
    }

    /// [`Dwarf::apply`], also collecting the old file offsets whose shift a field used.
    fn walk(&self, img: &mut [u8], t: &Transform, seen: Option<&mut Vec<u64>>) {
        let len = img.len();
        let get = |(o, l): (u64, u64)| {
            let s = usize::try_from(o).ok()?;
            let e = s.checked_add(usize::try_from(l).ok()?)?;
            (e <= len).then_some((s, e))
        };
        let (Some((is, ie)), Some((as_, ae))) = (get(self.info), get(self.abbrev)) else {
            return;
        };
        let info = img[is..ie].to_vec();
        let abbrev = img[as_..ae].to_vec();
        let mut w = Predict {
            d: self,
            t,
            out: &mut img[is..ie],
            seen,
            low: None,
        };
        reader::walk(&info, &abbrev, &mut w);
        if let Some(r) = self.ranges.and_then(get) {
            remap_ranges(&mut img[r.0..r.1], t);
        }
    }
}

/// Remaps the `(begin, end)` address pairs of `.debug_ranges` (8-byte entries from the
/// section start): a pair whose `begin` lies in the transform's target range and `end >
/// begin` becomes `(map(begin), map(end - 1) + 1)`.
fn remap_ranges(r: &mut [u8], t: &Transform) {
    for e in r.chunks_exact_mut(16) {
        let b = u64::from_le_bytes(e[..8].try_into().expect("8 bytes"));
        let x = u64::from_le_bytes(e[8..].try_into().expect("8 bytes"));
        if b >= t.lo && b < t.hi && x > b {
            let nb = t.map.map(b);
            let nx = t.map.map(x - 1).wrapping_add(1);
            e[..8].copy_from_slice(&nb.to_le_bytes());
            e[8..].copy_from_slice(&nx.to_le_bytes());
        }
    }
}

/// Rewrites the fields [`reader::walk`] reports into `out` (the `.debug_info` bytes of the
/// image being predicted; the walk reads an unchanged copy).
struct Predict<'a> {
    d: &'a Dwarf,
    t: &'a Transform,
    out: &'a mut [u8],
    seen: Option<&'a mut Vec<u64>>,
    /// `DW_AT_low_pc` of the current entry, for a `DW_AT_high_pc` given as a length.
    low: Option<u64>,
}

impl Visitor for Predict<'_> {
    fn entry(&mut self) {
        self.low = None;
    }

    fn field(&mut self, unit: &Unit, f: Field<'_>) {
        let (p, n) = (f.at, f.bytes.len());
        let base = self.d.info.0;
        match f.form {
            // addr: low_pc, or high_pc as an address (one past the end)
            0x01 => {
                let v = f.value();
                if f.attr == 0x11 {
                    self.low = Some(v);
                }
                if self.in_range(v) {
                    let nv = if f.attr == 0x12 && v > 0 {
                        self.t.map.map(v - 1).wrapping_add(1)
                    } else {
                        self.t.map.map(v)
                    };
                    self.put(p, n, nv);
                }
            }
            // data4, data8: high_pc as a length from low_pc
            0x06 | 0x07 => {
                let v = f.value();
                if f.attr == 0x12
                    && v > 0
                    && let Some(lo) = self.low
                    && self.in_range(lo)
                {
                    let last = lo.wrapping_add(v - 1);
                    let nv = self
                        .t
                        .map
                        .map(last)
                        .wrapping_add(1)
                        .wrapping_sub(self.t.map.map(lo));
                    self.put(p, n, nv);
                }
            }
            // strp
            0x0E => {
                if let Some(s) = self.d.str {
                    let v = f.value();
                    self.shift(p, v, s.wrapping_add(v), 0);
                }
            }
            // ref4: relative to the unit, which may have moved itself
            0x13 => {
                let v = f.value();
                let at = base.wrapping_add(unit.start as u64);
                let dcu = self.d.offs.map(at).wrapping_sub(at);
                if let Some(s) = self.seen.as_deref_mut() {
                    s.push(at);
                }
                self.shift(p, v, at.wrapping_add(v), dcu);
            }
            // ref_addr; left alone when address-sized (DWARF 2 with 8-byte addresses)
            0x10 if n == 4 => {
                let v = f.value();
                self.shift(p, v, base.wrapping_add(v), 0);
            }
            // sec_offset into .debug_line, .debug_ranges or .debug_loc
            0x17 => {
                let target = match f.attr {
                    0x10 => self.d.line,
                    0x55 => self.d.ranges.map(|r| r.0),
                    0x02 | 0x0C | 0x40 | 0x4E => self.d.loc,
                    _ => None,
                };
                if let Some(s) = target {
                    let v = f.value();
                    self.shift(p, v, s.wrapping_add(v), 0);
                }
            }
            _ => {}
        }
    }
}

impl Predict<'_> {
    fn in_range(&self, v: u64) -> bool {
        v >= self.t.lo && v < self.t.hi
    }

    /// Rewrites the 32-bit offset `v` at `p` whose target is at old file offset `x`: the new
    /// value is `v + shift(x) - minus`, if it fits.
    fn shift(&mut self, p: usize, v: u64, x: u64, minus: u64) {
        if let Some(s) = self.seen.as_deref_mut() {
            s.push(x);
        }
        let d = self.d.offs.map(x).wrapping_sub(x).wrapping_sub(minus);
        let nv = v.wrapping_add(d);
        if nv <= u64::from(u32::MAX) {
            self.put(p, 4, nv);
        }
    }

    fn put(&mut self, p: usize, n: usize, v: u64) {
        if let Some(s) = self.out.get_mut(p..p + n) {
            s.copy_from_slice(&v.to_le_bytes()[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn table_round_trips() {
        let d = Dwarf {
            info: (100, 2000),
            abbrev: (3000, 50),
            str: Some(0),
            line: None,
            ranges: Some((7000, 64)),
            loc: None,
            offs: AddrMap::new(vec![(10, 3), (500, -7)]),
        };
        let mut b = Vec::new();
        d.encode(&mut b);
        let mut p = 0;
        assert_eq!(Dwarf::decode(&b, &mut p).unwrap(), d);
        assert_eq!(p, b.len());
    }

    #[test]
    fn any_bytes_are_walked_without_panic_and_deterministically() {
        let t = Transform {
            lo: 0,
            hi: u64::MAX,
            map: AddrMap::new(vec![(0, 5)]),
            ..Transform::default()
        };
        for seed in 1..200u64 {
            let mut img = noise(3000, seed);
            // A plausible unit header so the walk gets going.
            img[0..4].copy_from_slice(&1500u32.to_le_bytes());
            img[4..6].copy_from_slice(&4u16.to_le_bytes());
            img[6..10].copy_from_slice(&0u32.to_le_bytes());
            img[10] = 8;
            let d = Dwarf {
                info: (0, 2000),
                abbrev: (2000, 1000),
                str: Some(100),
                line: Some(200),
                ranges: Some((10, 100)),
                loc: Some(2500),
                offs: AddrMap::new(vec![(0, 1), (1000, -2)]),
            };
            let mut a = img.clone();
            d.apply(&mut a, &t);
            let mut b = img.clone();
            d.apply(&mut b, &t);
            assert_eq!(a, b);
            assert_eq!(a[2000..], img[2000..], "only .debug_info changes");
        }
    }

    #[test]
    fn fields_follow_the_maps() {
        // abbrev 1: DW_AT_name strp, DW_AT_low_pc addr, DW_AT_high_pc data4, DW_AT_type ref4,
        // DW_AT_stmt_list sec_offset.
        let abbrev = [
            1u8, 0x11, 0, 0x03, 0x0E, 0x11, 0x01, 0x12, 0x06, 0x49, 0x13, 0x10, 0x17, 0, 0, 0,
        ];
        let mut info = Vec::new();
        info.extend_from_slice(&0u32.to_le_bytes()); // length, patched below
        info.extend_from_slice(&4u16.to_le_bytes());
        info.extend_from_slice(&0u32.to_le_bytes());
        info.push(8);
        info.push(1);
        info.extend_from_slice(&40u32.to_le_bytes()); // strp 40
        info.extend_from_slice(&0x1000u64.to_le_bytes()); // low_pc
        info.extend_from_slice(&0x20u32.to_le_bytes()); // length
        info.extend_from_slice(&11u32.to_le_bytes()); // ref4 -> unit offset 11
        info.extend_from_slice(&8u32.to_le_bytes()); // stmt_list 8
        info.push(0);
        let l = (info.len() - 4) as u32;
        info[..4].copy_from_slice(&l.to_le_bytes());
        // Image: info at 0, abbrev at 100, str at 200, line at 300.
        let mut img = vec![0u8; 400];
        img[..info.len()].copy_from_slice(&info);
        img[100..100 + abbrev.len()].copy_from_slice(&abbrev);
        let d = Dwarf {
            info: (0, info.len() as u64),
            abbrev: (100, abbrev.len() as u64),
            str: Some(200),
            line: Some(300),
            ranges: None,
            loc: None,
            // info unchanged below 11, +2 from 11; str +5 from 220; line -3 from 300.
            offs: AddrMap::new(vec![(11, 2), (100, 0), (220, 5), (300, -3)]),
        };
        let t = Transform {
            lo: 0x100,
            hi: 0x10000,
            map: AddrMap::new(vec![(0x1000, 0x10), (0x1010, 0x18)]),
            ..Transform::default()
        };
        d.apply(&mut img, &t);
        let u32_at = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap());
        assert_eq!(u32_at(12), 45);
        assert_eq!(u64::from_le_bytes(img[16..24].try_into().unwrap()), 0x1010);
        assert_eq!(u32_at(24), 0x28); // (0x101F + 0x18 + 1) - 0x1010
        assert_eq!(u32_at(28), 13);
        assert_eq!(u32_at(32), 5);
    }
}
