//! 32-bit ARM: A32 branches and PC-relative literal-pool offsets, Thumb-2 branches.
//!
//! Position-independent ARM code loads addresses as `ldr rX, [pc, #pool]` followed by
//! `add rX, pc, rX` (or `ldr rY, [pc, rX]` for GOT slots): the pool word holds the target minus
//! the address of that second instruction (+8 in A32, +4 in Thumb). We pair the two and
//! rewrite the pool word, which is where most of the changed bytes of a rebuilt shared
//! library live besides `bl`.

use super::{Span, fits, sext};

fn remap_rel(s: &Span, place: u64, target: u64, pc_bias: u64) -> Option<i64> {
    if !s.in_range(target) {
        return None;
    }
    let nt = s.map(target);
    let np = s.map(place).wrapping_add(pc_bias);
    Some(nt.wrapping_sub(np) as i64)
}

/// Rewrites a span of A32 code.
pub(super) fn rewrite_a32(s: &mut Span) {
    let n = s.orig.len();
    let mut i = s.first_aligned(4);
    while i + 4 <= n {
        let w = s.u32_at(i);
        let l = s.va.wrapping_add(i as u64);
        let cond = w >> 28;
        if (w >> 25) & 7 == 0b101 {
            let imm = sext(u64::from(w & 0xFF_FFFF), 24) * 4;
            let h = if cond == 0xF {
                i64::from((w >> 24) & 1) * 2
            } else {
                0
            };
            let t = l.wrapping_add((8 + imm + h) as u64);
            if let Some(off) = remap_rel(s, l, t, 8) {
                if cond == 0xF {
                    if off & 1 == 0 && fits(off >> 2, 24) {
                        let hb = ((off >> 1) & 1) as u32;
                        s.put_u32(
                            i,
                            (w & 0xFE00_0000) | (hb << 24) | ((off >> 2) as u32 & 0xFF_FFFF),
                        );
                    }
                } else if off & 3 == 0 && fits(off >> 2, 24) {
                    s.put_u32(i, (w & 0xFF00_0000) | ((off >> 2) as u32 & 0xFF_FFFF));
                }
            }
        } else if (w & 0x0F7F_0000) == 0x051F_0000 {
            // ldr rt, [pc, #±imm12]
            let rt = (w >> 12) & 0xF;
            let imm = i64::from(w & 0xFFF);
            let pi = (8 + i as i64) + if (w >> 23) & 1 == 1 { imm } else { -imm };
            if pi >= 0 && pi % 4 == 0 && (pi as usize) + 4 <= n {
                let pi = pi as usize;
                for k in 1..=8 {
                    let j = i + 4 * k;
                    if j + 4 > n {
                        break;
                    }
                    let w2 = s.u32_at(j);
                    let m = w2 & 0x0FFF_0FFF;
                    if m == (0x008F_0000 | rt)
                        || m == (0x079F_0000 | rt)
                        || m == (0x0080_000F | (rt << 16))
                    {
                        let a = s.va.wrapping_add(j as u64);
                        let v = i64::from(s.u32_at(pi) as i32);
                        let t = a.wrapping_add((8 + v) as u64);
                        if let Some(nv) = remap_rel(s, a, t, 8)
                            && fits(nv, 32)
                        {
                            s.put_u32(pi, nv as u32);
                        }
                        break;
                    }
                }
            }
        }
        i += 4;
    }
}

fn is_t32(h1: u16) -> bool {
    h1 >> 11 >= 0b11101
}

/// Rewrites a span of Thumb-2 code.
pub(super) fn rewrite_t32(s: &mut Span) {
    let n = s.orig.len();
    let mut i = s.first_aligned(2);
    while i + 2 <= n {
        let h1 = s.u16_at(i);
        let l = s.va.wrapping_add(i as u64);
        if is_t32(h1) {
            if i + 4 > n {
                break;
            }
            let h2 = s.u16_at(i + 2);
            let bl = h1 & 0xF800 == 0xF000 && h2 & 0xC000 == 0xC000;
            let bw = h1 & 0xF800 == 0xF000 && h2 & 0xD000 == 0x9000;
            if bl || bw {
                let blx = bl && h2 & 0x1000 == 0;
                let sb = u32::from((h1 >> 10) & 1);
                let j1 = u32::from((h2 >> 13) & 1);
                let j2 = u32::from((h2 >> 11) & 1);
                let i1 = !(j1 ^ sb) & 1;
                let i2 = !(j2 ^ sb) & 1;
                let raw = (sb << 24)
                    | (i1 << 23)
                    | (i2 << 22)
                    | (u32::from(h1 & 0x3FF) << 12)
                    | (u32::from(h2 & 0x7FF) << 1);
                let off = sext(u64::from(raw), 25);
                let pc = l.wrapping_add(4);
                let base = if blx { pc & !3 } else { pc };
                let t = base.wrapping_add(off as u64);
                if s.in_range(t) {
                    let npc = s.map(l).wrapping_add(4);
                    let nbase = if blx { npc & !3 } else { npc };
                    let noff = s.map(t).wrapping_sub(nbase) as i64;
                    let align_ok = if blx { noff & 3 == 0 } else { noff & 1 == 0 };
                    if align_ok && fits(noff, 25) {
                        let u = noff as u32;
                        let ns = (u >> 24) & 1;
                        let nj1 = !(((u >> 23) & 1) ^ ns) & 1;
                        let nj2 = !(((u >> 22) & 1) ^ ns) & 1;
                        let nh1 =
                            (h1 & 0xF800) | ((ns as u16) << 10) | (((u >> 12) & 0x3FF) as u16);
                        let nh2 = (h2 & 0xD000)
                            | ((nj1 as u16) << 13)
                            | ((nj2 as u16) << 11)
                            | (((u >> 1) & 0x7FF) as u16);
                        s.put_u16(i, nh1);
                        s.put_u16(i + 2, nh2);
                    }
                }
            }
            i += 4;
        } else {
            if h1 & 0xF800 == 0x4800 {
                // ldr rt, [pc, #imm8*4] ... add rt, pc
                let rt = (h1 >> 8) & 7;
                let pi = (((l.wrapping_add(4)) & !3).wrapping_sub(s.va) + u64::from(h1 & 0xFF) * 4)
                    as usize;
                if pi.checked_add(4).is_some_and(|e| e <= n) {
                    let mut j = i + 2;
                    for _ in 0..6 {
                        if j + 2 > n {
                            break;
                        }
                        let h = s.u16_at(j);
                        if is_t32(h) {
                            j += 4;
                            continue;
                        }
                        if h & 0xFF78 == 0x4478 && (((h >> 4) & 8) | (h & 7)) == rt {
                            let a = s.va.wrapping_add(j as u64);
                            let v = i64::from(s.u32_at(pi) as i32);
                            let t = a.wrapping_add((4 + v) as u64);
                            if let Some(nv) = remap_rel(s, a, t, 4)
                                && fits(nv, 32)
                            {
                                s.put_u32(pi, nv as u32);
                            }
                            break;
                        }
                        j += 2;
                    }
                }
            }
            i += 2;
        }
    }
}
