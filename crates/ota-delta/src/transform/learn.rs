//! Learning the old->new address map from matches, and proposing transforms to try.
//!
//! Pass 1 matches the raw images; every long aligned block `(old, new, len)` says "these old
//! addresses moved by `new - old`". Those shifts, translated to virtual addresses through each
//! image's segments, form the [`AddrMap`]. Pass 2 matches the transformed old image, whose
//! alignment is much better, and the map is re-learned from it.

use super::anchors::{Anchor, anchors};
use super::elf::{self, Elf};
use super::{AddrMap, MAX_MAP, Transform};
use crate::encode::{DiffOptions, match_images};
use crate::oldview::transform_image;
use std::collections::BTreeMap;

/// Shortest aligned block trusted as evidence of a shift.
const MIN_BLOCK: u64 = 48;
/// Shortest block trusted as evidence of a string-table shift.
const MIN_NAME_BLOCK: u64 = 16;

/// Paints `[s, e)` with shift `d` over whatever was there.
pub(super) fn paint(m: &mut BTreeMap<u64, (u64, i64)>, s: u64, e: u64, d: i64) {
    if e <= s {
        return;
    }
    if let Some((&ks, &(ke, kd))) = m.range(..s).next_back()
        && ke > s
    {
        m.insert(ks, (s, kd));
        if ke > e {
            m.insert(e, (ke, kd));
        }
    }
    let inside: Vec<u64> = m.range(s..e).map(|(k, _)| *k).collect();
    for k in inside {
        let (ke, kd) = m.remove(&k).expect("present");
        if ke > e {
            m.insert(e, (ke, kd));
        }
    }
    m.insert(s, (e, d));
}

/// Builds an address map from aligned blocks (file offsets) of two ELF images plus
/// name anchors (painted last, so they win).
pub fn build_map(eo: &Elf, en: &Elf, blocks: &[(u64, u64, u64)], anchors: &[Anchor]) -> AddrMap {
    let min_block = MIN_BLOCK;
    // (old_va, delta, len)
    let mut pieces: Vec<(u64, i64, u64)> = Vec::new();
    for &(o, n, l) in blocks {
        if l < min_block {
            continue;
        }
        let (mut o, mut n, mut l) = (o, n, l);
        while l > 0 {
            let (Some((ova, orun)), Some((nva, nrun))) = (eo.off_to_va(o), en.off_to_va(n)) else {
                break;
            };
            let run = l.min(orun).min(nrun);
            if run >= min_block {
                pieces.push((ova, nva.wrapping_sub(ova) as i64, run));
            }
            o += run;
            n += run;
            l -= run;
        }
    }
    // Segment tails (bss) shift like the end of their segment's file data.
    for (so, sn) in eo.segments.iter().zip(&en.segments) {
        if so.memsz > so.filesz && so.flags == sn.flags {
            let (a, b) = (so.va.wrapping_add(so.filesz), sn.va.wrapping_add(sn.filesz));
            pieces.push((a, b.wrapping_sub(a) as i64, so.memsz - so.filesz));
        }
    }
    // Shorter evidence first, so longer blocks overwrite it.
    pieces.sort_by_key(|p| (p.2, p.0));
    let mut m: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
    for (va, d, len) in pieces {
        paint(&mut m, va, va.saturating_add(len), d);
    }
    for &(ov, nv, len) in anchors {
        paint(
            &mut m,
            ov,
            ov.saturating_add(len),
            nv.wrapping_sub(ov) as i64,
        );
    }
    to_map(m)
}

/// Merges equal consecutive shifts of painted pieces and bounds the table.
pub(super) fn to_map(m: BTreeMap<u64, (u64, i64)>) -> AddrMap {
    // Merge equal consecutive shifts (gaps inherit the previous shift anyway).
    let mut merged: Vec<(u64, i64, u64)> = Vec::new();
    for (s, (e, d)) in m {
        if let Some(last) = merged.last_mut()
            && last.1 == d
        {
            last.2 = e - last.0;
            continue;
        }
        merged.push((s, d, e - s));
    }
    // Bound the table: drop the shortest pieces (their addresses inherit the previous shift).
    if merged.len() > MAX_MAP {
        let mut lens: Vec<u64> = merged.iter().map(|e| e.2).collect();
        lens.sort_unstable();
        let cut = lens[merged.len() - MAX_MAP];
        let mut first = true;
        merged.retain(|e| std::mem::replace(&mut first, false) || e.2 > cut);
        merged.truncate(MAX_MAP);
    }
    AddrMap::new(merged.into_iter().map(|(s, d, _)| (s, d)).collect())
}

/// Builds the symbol-name map: how offsets into the old symbol string table moved, from the
/// aligned blocks that cover both string tables.
pub fn build_names(eo: &Elf, en: &Elf, blocks: &[(u64, u64, u64)]) -> AddrMap {
    let (Some((os, osz)), Some((ns, nsz))) = (eo.symbol_strings(), en.symbol_strings()) else {
        return AddrMap::default();
    };
    let mut pieces: Vec<(u64, i64, u64)> = Vec::new();
    let (os, osz, ns, nsz) = (os as i64, osz as i64, ns as i64, nsz as i64);
    for &(o, n, l) in blocks {
        // Old offsets x in [o, o + l) match new offsets x + (n - o); keep x where both lie
        // inside their string tables.
        let (o, n, l) = (o as i64, n as i64, l as i64);
        let start = o.max(os).max(o + ns - n);
        let end = (o + l).min(os + osz).min(o + ns + nsz - n);
        if end - start < MIN_NAME_BLOCK as i64 {
            continue;
        }
        let d = (n - ns) - (o - os);
        pieces.push(((start - os) as u64, d, (end - start) as u64));
    }
    pieces.sort_by_key(|p| (p.2, p.0));
    let mut m: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
    for (s, d, len) in pieces {
        paint(&mut m, s, s + len, d);
    }
    to_map(m)
}

/// Transforms worth trying for this pair: the learned reference projection (pass 1 and 2).
pub fn candidates(old: &[u8], new: &[u8], opts: &DiffOptions) -> Vec<(String, Transform)> {
    let (Some(eo), Some(en)) = (elf::parse(old), elf::parse(new)) else {
        return Vec::new();
    };
    if eo.machine != en.machine {
        return Vec::new();
    }
    let regions = eo.regions(old);
    let Some((lo, hi)) = eo.va_range() else {
        return Vec::new();
    };
    if regions.is_empty() {
        return Vec::new();
    }
    let (syms, plt) = anchors(&eo, old, &en, new);
    let mut anch = syms;
    anch.extend(plt);
    let m1 = match_images(old, new, opts.max_window);
    let t1 = Transform {
        regions: regions.clone(),
        lo,
        hi,
        map: build_map(&eo, &en, &m1.blocks, &anch),
        names: build_names(&eo, &en, &m1.blocks),
    };
    let old_t1 = transform_image(old, &t1);
    let m2 = match_images(&old_t1, new, opts.max_window);
    drop(old_t1);
    let t2 = Transform {
        regions,
        lo,
        hi,
        map: build_map(&eo, &en, &m2.blocks, &anch),
        names: build_names(&eo, &en, &m2.blocks),
    };
    vec![("refproj".into(), t2)]
}
