//! AArch64: B/BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, LDR literal, ADR, and ADRP paired with the
//! ADD/LDR/STR that supplies the low 12 bits (the usual way AArch64 code addresses data).

use super::{Span, fits, sext};

fn rel_field(s: &mut Span, i: usize, w: u32, shift: u32, bits: u32) {
    let mask = (1u32 << bits) - 1;
    let l = s.va.wrapping_add(i as u64);
    let imm = sext(u64::from((w >> shift) & mask), bits) * 4;
    let t = l.wrapping_add(imm as u64);
    if !s.in_range(t) {
        return;
    }
    let noff = s.map(t).wrapping_sub(s.map(l)) as i64;
    if noff & 3 == 0 && fits(noff >> 2, bits) {
        s.put_u32(
            i,
            (w & !(mask << shift)) | ((((noff >> 2) as u32) & mask) << shift),
        );
    }
}

fn adr_imm(w: u32) -> i64 {
    sext(u64::from((((w >> 5) & 0x7FFFF) << 2) | ((w >> 29) & 3)), 21)
}

fn with_adr_imm(w: u32, imm: i64) -> u32 {
    let u = imm as u32;
    (w & 0x9F00_001F) | ((u & 3) << 29) | (((u >> 2) & 0x7FFFF) << 5)
}

/// Scale (log2 bytes) of a load/store with unsigned 12-bit offset.
fn ldst_scale(w: u32) -> u32 {
    let size = w >> 30;
    let v = (w >> 26) & 1;
    let opc = (w >> 22) & 3;
    if v == 1 && size == 0 && opc >= 2 {
        4
    } else {
        size
    }
}

/// Rewrites a span of AArch64 code.
pub(super) fn rewrite(s: &mut Span) {
    let n = s.orig.len();
    let mut i = s.first_aligned(4);
    while i + 4 <= n {
        let w = s.u32_at(i);
        if w & 0x7C00_0000 == 0x1400_0000 {
            rel_field(s, i, w, 0, 26);
        } else if w & 0xFF00_0010 == 0x5400_0000
            || w & 0x7E00_0000 == 0x3400_0000
            || w & 0x3B00_0000 == 0x1800_0000
        {
            rel_field(s, i, w, 5, 19);
        } else if w & 0x7E00_0000 == 0x3600_0000 {
            rel_field(s, i, w, 5, 14);
        } else if w & 0x9F00_0000 == 0x1000_0000 {
            let l = s.va.wrapping_add(i as u64);
            let t = l.wrapping_add(adr_imm(w) as u64);
            if s.in_range(t) {
                let noff = s.map(t).wrapping_sub(s.map(l)) as i64;
                if fits(noff, 21) {
                    s.put_u32(i, with_adr_imm(w, noff));
                }
            }
        } else if w & 0x9F00_0000 == 0x9000_0000 {
            adrp(s, i, w);
        }
        i += 4;
    }
}

fn adrp(s: &mut Span, i: usize, w: u32) {
    let n = s.orig.len();
    let l = s.va.wrapping_add(i as u64);
    let rd = w & 31;
    let page = (l & !0xFFF).wrapping_add((adr_imm(w) << 12) as u64);
    for k in 1..=8 {
        let j = i + 4 * k;
        if j + 4 > n {
            return;
        }
        let w2 = s.u32_at(j);
        if (w2 >> 5) & 31 != rd {
            if w2 & 31 == rd {
                return; // rd overwritten before use
            }
            continue;
        }
        let (lo, scale, field_shift) = if w2 & 0xFFC0_0000 == 0x9100_0000 {
            ((w2 >> 10) & 0xFFF, 0, 10)
        } else if w2 & 0x3B00_0000 == 0x3900_0000 {
            ((w2 >> 10) & 0xFFF, ldst_scale(w2), 10)
        } else {
            return;
        };
        let t = page.wrapping_add(u64::from(lo) << scale);
        if !s.in_range(t) {
            return;
        }
        let nt = s.map(t);
        let nl = s.map(l);
        let npages = ((nt & !0xFFF).wrapping_sub(nl & !0xFFF) as i64) >> 12;
        let nlo = nt & 0xFFF;
        if !fits(npages, 21) || nlo & ((1 << scale) - 1) != 0 {
            return;
        }
        s.put_u32(i, with_adr_imm(w, npages));
        let nw2 = (w2 & !(0xFFF << field_shift)) | (((nlo >> scale) as u32) << field_shift);
        s.put_u32(j, nw2);
        return;
    }
}
