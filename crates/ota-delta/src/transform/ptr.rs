//! Data references: aligned absolute pointers (relocated data, GOT, symbol tables, dynamic
//! relocations) and `.ARM.exidx` place-relative words.

use super::{Span, fits, sext};

/// Remaps every aligned word of `width` bytes whose value is an address inside the image.
pub(super) fn rewrite_abs(s: &mut Span, width: usize) {
    let n = s.orig.len();
    let mut i = s.first_aligned(width as u64);
    while i + width <= n {
        let v = if width == 8 {
            u64::from_le_bytes(s.orig[i..i + 8].try_into().expect("8 bytes"))
        } else {
            u64::from(s.u32_at(i))
        };
        if s.in_range(v) {
            let nv = s.map(v);
            if width == 8 {
                s.out[i..i + 8].copy_from_slice(&nv.to_le_bytes());
            } else if nv <= u64::from(u32::MAX) {
                s.put_u32(i, nv as u32);
            }
        }
        i += width;
    }
}

/// Remaps 31-bit place-relative words (bit 31 clear, not the value 1).
pub(super) fn rewrite_prel31(s: &mut Span) {
    let n = s.orig.len();
    let mut i = s.first_aligned(4);
    while i + 4 <= n {
        let w = s.u32_at(i);
        if w & 0x8000_0000 == 0 && w != 1 {
            let l = s.va.wrapping_add(i as u64);
            let t = l.wrapping_add(sext(u64::from(w), 31) as u64);
            if s.in_range(t) {
                let noff = s.map(t).wrapping_sub(s.map(l)) as i64;
                if fits(noff, 31) {
                    s.put_u32(i, noff as u32 & 0x7FFF_FFFF);
                }
            }
        }
        i += 4;
    }
}

fn read_word(s: &Span, i: usize, width: usize) -> u64 {
    if width == 8 {
        u64::from_le_bytes(s.orig[i..i + 8].try_into().expect("8 bytes"))
    } else {
        u64::from(s.u32_at(i))
    }
}

fn write_mapped(s: &mut Span, i: usize, width: usize, v: u64) {
    if !s.in_range(v) {
        return;
    }
    let nv = s.map(v);
    if width == 8 {
        s.out[i..i + 8].copy_from_slice(&nv.to_le_bytes());
    } else if nv <= u64::from(u32::MAX) {
        s.put_u32(i, nv as u32);
    }
}

/// Remaps the address fields at `fields` (byte offsets) of every `entsize`-byte table entry.
pub(super) fn rewrite_table(s: &mut Span, width: usize, entsize: usize, fields: &[usize]) {
    let n = s.orig.len();
    let mut i = ((entsize as u64 - s.phase % entsize as u64) % entsize as u64) as usize;
    while i + entsize <= n {
        for &f in fields {
            let v = read_word(s, i + f, width);
            write_mapped(s, i + f, width, v);
        }
        i += entsize;
    }
}

/// Remaps address-valued entries (by tag) of a dynamic section.
pub(super) fn rewrite_dynamic(s: &mut Span, width: usize) {
    let n = s.orig.len();
    let ent = 2 * width;
    let mut i = ((ent as u64 - s.phase % ent as u64) % ent as u64) as usize;
    while i + ent <= n {
        let tag = read_word(s, i, width);
        let is_ptr = matches!(tag, 3..=7 | 12 | 13 | 17 | 21 | 23 | 25 | 26 | 32)
            || matches!(tag, 0x6fff_fef5 | 0x6fff_fff0 | 0x6fff_fffc | 0x6fff_fffe);
        if is_ptr {
            let v = read_word(s, i + width, width);
            write_mapped(s, i + width, width, v);
        }
        i += ent;
    }
}

/// Remaps `st_name` (the first 32-bit field) of every `entsize`-byte symbol through the name
/// map; 0 (no name) stays.
pub(super) fn rewrite_names(s: &mut Span, entsize: usize) {
    if s.t.names.is_empty() {
        return;
    }
    let n = s.orig.len();
    let mut i = ((entsize as u64 - s.phase % entsize as u64) % entsize as u64) as usize;
    while i + entsize <= n {
        let v = s.u32_at(i);
        if v != 0 {
            let nv = s.t.names.map(u64::from(v));
            if nv <= u64::from(u32::MAX) {
                s.put_u32(i, nv as u32);
            }
        }
        i += entsize;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AddrMap, Kind, Region, Transform};

    fn sym64(name: u32, value: u64) -> Vec<u8> {
        let mut e = vec![0u8; 24];
        e[..4].copy_from_slice(&name.to_le_bytes());
        e[8..16].copy_from_slice(&value.to_le_bytes());
        e
    }

    #[test]
    fn symbol_names_follow_the_name_map_only_in_name_regions() {
        let mut img = Vec::new();
        for (n, v) in [(0u32, 0u64), (10, 0x1000), (500, 0x2000)] {
            img.extend(sym64(n, v));
        }
        let plain = img.clone();
        img.extend(plain.clone());
        let t = Transform {
            regions: vec![
                Region {
                    start: 0,
                    len: 72,
                    va: 0,
                    kind: Kind::SymNames64,
                },
                Region {
                    start: 72,
                    len: 72,
                    va: 0,
                    kind: Kind::Sym64,
                },
            ],
            lo: 0x1000,
            hi: 0x3000,
            map: AddrMap::new(vec![(0x1800, 0x100)]),
            names: AddrMap::new(vec![(100, 7)]),
        };
        t.apply_block(&mut img, 0);
        let expect = [sym64(0, 0), sym64(10, 0x1000), sym64(507, 0x2100)].concat();
        assert_eq!(img[..72], expect[..]);
        let expect_dyn = [sym64(0, 0), sym64(10, 0x1000), sym64(500, 0x2100)].concat();
        assert_eq!(img[72..], expect_dyn[..]);
    }
}
