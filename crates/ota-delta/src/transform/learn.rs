//! Learning the old->new address map from matches, and proposing transforms to try.
//!
//! Pass 1 matches the raw images; every long aligned block `(old, new, len)` says "these old
//! addresses moved by `new - old`". Those shifts, translated to virtual addresses through each
//! image's segments, form the [`AddrMap`]. Pass 2 matches the transformed old image, whose
//! alignment is much better, and the map is re-learned from it.

use super::elf::{self, Elf};
use super::{AddrMap, MAX_MAP, Transform};
use crate::encode::{DiffOptions, windowed_matches};
use crate::oldview::transform_image;

/// Shortest aligned block trusted as evidence of a shift.
const MIN_BLOCK: u64 = 24;

/// Builds an address map from aligned blocks (file offsets) of two ELF images.
pub fn build_map(eo: &Elf, en: &Elf, blocks: &[(u64, u64, u64)]) -> AddrMap {
    // (old_va, delta, len)
    let mut pieces: Vec<(u64, i64, u64)> = Vec::new();
    for &(o, n, l) in blocks {
        if l < MIN_BLOCK {
            continue;
        }
        let (mut o, mut n, mut l) = (o, n, l);
        while l > 0 {
            let (Some((ova, orun)), Some((nva, nrun))) = (eo.off_to_va(o), en.off_to_va(n)) else {
                break;
            };
            let run = l.min(orun).min(nrun);
            if run >= MIN_BLOCK {
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
            let (a, b) = (so.va + so.filesz, sn.va + sn.filesz);
            pieces.push((a, b.wrapping_sub(a) as i64, so.memsz - so.filesz));
        }
    }
    pieces.sort_by_key(|p| (p.0, std::cmp::Reverse(p.2)));
    // Resolve overlaps: earlier start wins until its end.
    let mut entries: Vec<(u64, i64, u64)> = Vec::new();
    let mut covered_to = 0u64;
    for (va, d, len) in pieces {
        let end = va + len;
        if end <= covered_to {
            continue;
        }
        let start = va.max(covered_to);
        entries.push((start, d, end - start));
        covered_to = end;
    }
    // Merge equal consecutive shifts.
    let mut merged: Vec<(u64, i64, u64)> = Vec::new();
    for e in entries {
        if let Some(last) = merged.last_mut()
            && last.1 == e.1
        {
            last.2 = e.0 + e.2 - last.0;
            continue;
        }
        merged.push(e);
    }
    // Bound the table: fold the shortest pieces into their predecessor.
    while merged.len() > MAX_MAP {
        let excess = merged.len() - MAX_MAP;
        let mut lens: Vec<u64> = merged.iter().map(|e| e.2).collect();
        lens.sort_unstable();
        let cut = lens[excess.min(lens.len() - 1)];
        let mut keep: Vec<(u64, i64, u64)> = Vec::with_capacity(merged.len());
        for (k, e) in merged.into_iter().enumerate() {
            if k > 0 && e.2 < cut && keep.len() + 1 > 0 {
                continue;
            }
            keep.push(e);
        }
        merged = keep;
    }
    AddrMap::new(merged.into_iter().map(|(s, d, _)| (s, d)).collect())
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
    let m1 = windowed_matches(old, new, opts.max_window);
    let t1 = Transform {
        regions: regions.clone(),
        lo,
        hi,
        map: build_map(&eo, &en, &m1.blocks),
    };
    let old_t1 = transform_image(old, &t1);
    let m2 = windowed_matches(&old_t1, new, opts.max_window);
    drop(old_t1);
    let t2 = Transform {
        regions,
        lo,
        hi,
        map: build_map(&eo, &en, &m2.blocks),
    };
    let _ = elf::EM_ARM;
    vec![("refproj1".into(), t1), ("refproj2".into(), t2)]
}
