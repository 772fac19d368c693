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
            let l = s.va + i as u64;
            let t = (l as i64 + sext(u64::from(w), 31)) as u64;
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
