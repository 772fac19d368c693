//! Absolute-target form of machine code, used by the `ZstdRef` method on both images.
//!
//! Why: the reference projection ([`super::Transform`]) predicts a relative branch in the old
//! image as `map(target) - map(location)`. That is exact only where the location moved as the
//! map says; inside a function that was edited, every call after the edit is off by the edit's
//! size. Storing calls as *absolute* targets in both images (in the spirit of BCJ filters and
//! Courgette) removes the dependence on the location: the old image stores `map(target)`, the
//! new one its real target, and they agree whenever the target was predicted, wherever the
//! call moved. Within new code, calls to the same function become identical bytes too.
//!
//! The encoder converts the new image forward ([`forward`] with real addresses) and the
//! transformed old image forward (with mapped addresses); the decoder converts the old image
//! the same way and undoes the conversion on its output ([`inverse`]). The conversion is
//! exactly invertible because every decision reads only bytes that no conversion changes:
//! a candidate is converted only if its field starts at or after every byte that earlier
//! rejected candidates examined since the last conversion.
//!
//! | kind | converted field |
//! |---|---|
//! | x86-64, x86 | rel32 of `E8`, `E9`, `0F 8x`; x86-64 also RIP-relative disp32 (same patterns as the transform) |
//! | ARM | imm24 of `BL` (cond ≠ 1111), as word address of the target |
//! | Thumb | `BL` pairs `F000–F7FF`, `F800–FFFF` as one 22-bit halfword address |
//! | AArch64 | imm26 of `BL` |

use super::x86::{modrm_op, modrm_op_0f};
use super::{Kind, MAX_REGIONS, Region};
use crate::error::{Error, Result};
use crate::varint;
use std::cell::Cell;

/// Serialises code regions: `count: uvar`, then per region `kind: u8`, `start: uvar` (gap
/// after the previous region's end), `len: uvar`, `va - start: svar`.
pub fn encode_regions(regions: &[Region], out: &mut Vec<u8>) {
    varint::put_u64(out, regions.len() as u64);
    let mut prev_end = 0u64;
    for r in regions {
        out.push(r.kind as u8);
        varint::put_u64(out, r.start - prev_end);
        varint::put_u64(out, r.len);
        varint::put_i64(out, r.va.wrapping_sub(r.start) as i64);
        prev_end = r.start + r.len;
    }
}

/// Parses regions written by [`encode_regions`]; only kinds this conversion handles.
pub fn decode_regions(buf: &[u8], p: &mut usize) -> Result<Vec<Region>> {
    let n = varint::get_u64(buf, p)? as usize;
    if n > MAX_REGIONS {
        return Err(Error::corrupt("too many code regions"));
    }
    let mut out = Vec::with_capacity(n);
    let mut prev_end = 0u64;
    for _ in 0..n {
        let kind = Kind::from_u8(*buf.get(*p).ok_or_else(|| Error::corrupt("truncated"))?)?;
        *p += 1;
        if !handles(kind) {
            return Err(Error::corrupt("not a code region"));
        }
        let start = prev_end
            .checked_add(varint::get_u64(buf, p)?)
            .ok_or_else(|| Error::corrupt("region overflow"))?;
        let len = varint::get_u64(buf, p)?;
        let va = start.wrapping_add(varint::unzigzag(varint::get_u64(buf, p)?) as u64);
        prev_end = start
            .checked_add(len)
            .ok_or_else(|| Error::corrupt("region overflow"))?;
        out.push(Region {
            start,
            len,
            va,
            kind,
        });
    }
    Ok(out)
}

/// True for the region kinds this conversion handles.
pub fn handles(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::X86_64 | Kind::X86_32 | Kind::Arm | Kind::Thumb | Kind::A64
    )
}

/// Converts relative fields to absolute targets. `pos` maps the address of an instruction
/// (x86: of the byte after the field) to the address the conversion should assume.
pub fn forward(buf: &mut [u8], regions: &[Region], pos: &dyn Fn(u64) -> u64) {
    run(buf, regions, pos, 1);
}

/// Undoes [`forward`] applied with real addresses.
pub fn inverse(buf: &mut [u8], regions: &[Region]) {
    run(buf, regions, &|x| x, u32::MAX);
}

/// Walks every handled region; `sign` is 1 (add the address) or `u32::MAX` (subtract).
fn run(buf: &mut [u8], regions: &[Region], pos: &dyn Fn(u64) -> u64, sign: u32) {
    for r in regions.iter().filter(|r| handles(r.kind)) {
        let (Ok(s), Ok(l)) = (usize::try_from(r.start), usize::try_from(r.len)) else {
            continue;
        };
        let e = s.saturating_add(l).min(buf.len());
        if s >= e {
            continue;
        }
        let code = &mut buf[s..e];
        match r.kind {
            Kind::X86_64 => x86(code, r.va, pos, sign, true),
            Kind::X86_32 => x86(code, r.va, pos, sign, false),
            Kind::Arm => words(code, r.va, pos, sign, arm_bl),
            Kind::A64 => words(code, r.va, pos, sign, a64_bl),
            Kind::Thumb => thumb(code, r.va, pos, sign),
            _ => {}
        }
    }
}

/// Finds a reference at `i`: `(field offset, end)` if any, and one past the last byte read.
fn probe(o: &[u8], i: usize, x64: bool) -> (Option<(usize, usize)>, usize) {
    let seen = Cell::new(i + 1);
    let get = |k: usize| {
        let v = o.get(k).copied();
        if v.is_some() {
            seen.set(seen.get().max(k + 1));
        }
        v
    };
    let hit = (|| {
        let b = get(i)?;
        if b == 0xE8 || b == 0xE9 {
            return Some((i + 1, i + 5));
        }
        if b == 0x0F && get(i + 1).is_some_and(|c| c & 0xF0 == 0x80) {
            return Some((i + 2, i + 6));
        }
        if !x64 {
            return None;
        }
        let mut j = i;
        if matches!(b, 0x66 | 0xF2 | 0xF3) {
            j += 1;
        }
        if get(j).is_some_and(|c| c & 0xF0 == 0x40) {
            j += 1;
        }
        let op = get(j)?;
        let (modrm_at, imm) = if op == 0x0F {
            if !modrm_op_0f(get(j + 1)?) {
                return None;
            }
            (j + 2, 0)
        } else if modrm_op(op) {
            (j + 1, 0)
        } else if op == 0xC7 || op == 0x81 {
            (j + 1, 4)
        } else if matches!(op, 0x80 | 0x83 | 0xC6) {
            (j + 1, 1)
        } else {
            return None;
        };
        if get(modrm_at)? & 0xC7 != 0x05 {
            return None;
        }
        Some((modrm_at + 1, modrm_at + 5 + imm))
    })();
    (hit, seen.get())
}

fn x86(code: &mut [u8], va: u64, pos: &dyn Fn(u64) -> u64, sign: u32, x64: bool) {
    let n = code.len();
    let (mut i, mut reach) = (0usize, 0usize);
    while i < n {
        let (hit, seen) = probe(code, i, x64);
        if let Some((f, end)) = hit
            && end <= n
            && f >= reach
        {
            let at = pos(va.wrapping_add(end as u64)) as u32;
            let v = u32::from_le_bytes(code[f..f + 4].try_into().expect("4 bytes"));
            code[f..f + 4].copy_from_slice(&v.wrapping_add(at.wrapping_mul(sign)).to_le_bytes());
            i = end;
            reach = end;
            continue;
        }
        reach = reach.max(seen);
        i += 1;
    }
}

fn arm_bl(w: u32) -> Option<(u32, u32, u32)> {
    // (field mask, address shift, pc offset)
    (w >> 28 != 0xF && (w >> 24) & 0xF == 0xB).then_some((0x00FF_FFFF, 2, 8))
}

fn a64_bl(w: u32) -> Option<(u32, u32, u32)> {
    (w >> 26 == 0b10_0101).then_some((0x03FF_FFFF, 2, 0))
}

/// Aligned 32-bit instructions whose low bits hold a word offset; the top bits decide.
fn words(
    code: &mut [u8],
    va: u64,
    pos: &dyn Fn(u64) -> u64,
    sign: u32,
    rule: fn(u32) -> Option<(u32, u32, u32)>,
) {
    let first = ((4 - va % 4) % 4) as usize;
    for k in (first..code.len().saturating_sub(3)).step_by(4) {
        let w = u32::from_le_bytes(code[k..k + 4].try_into().expect("4 bytes"));
        if let Some((mask, shift, pc)) = rule(w) {
            let at = (pos(va.wrapping_add(k as u64)) as u32).wrapping_add(pc) >> shift;
            let v = (w & mask).wrapping_add(at.wrapping_mul(sign)) & mask;
            code[k..k + 4].copy_from_slice(&((w & !mask) | v).to_le_bytes());
        }
    }
}

/// Thumb `BL` pairs; only the top 5 bits of each halfword decide, and they are kept.
fn thumb(code: &mut [u8], va: u64, pos: &dyn Fn(u64) -> u64, sign: u32) {
    let first = (va % 2) as usize;
    let mut k = first;
    while k + 4 <= code.len() {
        let h1 = u16::from_le_bytes([code[k], code[k + 1]]);
        let h2 = u16::from_le_bytes([code[k + 2], code[k + 3]]);
        if h1 & 0xF800 == 0xF000 && h2 & 0xF800 == 0xF800 {
            let src = (u32::from(h1 & 0x7FF) << 11) | u32::from(h2 & 0x7FF);
            let at = (pos(va.wrapping_add(k as u64)) as u32).wrapping_add(4) >> 1;
            let d = src.wrapping_add(at.wrapping_mul(sign)) & 0x3F_FFFF;
            let n1 = 0xF000 | ((d >> 11) as u16 & 0x7FF);
            let n2 = 0xF800 | (d as u16 & 0x7FF);
            code[k..k + 2].copy_from_slice(&n1.to_le_bytes());
            code[k + 2..k + 4].copy_from_slice(&n2.to_le_bytes());
            k += 4;
        } else {
            k += 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn inverse_undoes_forward_on_any_bytes() {
        for kind in [
            Kind::X86_64,
            Kind::X86_32,
            Kind::Arm,
            Kind::Thumb,
            Kind::A64,
        ] {
            for seed in 1..40u64 {
                // Dense in opcodes, prefixes and branch words so that candidates overlap.
                let mut data = noise(4000, seed);
                for (i, b) in data.iter_mut().enumerate() {
                    let pick = (*b % 8) as usize;
                    *b = match kind {
                        _ if i % 3 != 0 => *b,
                        Kind::X86_64 | Kind::X86_32 => {
                            [0xE8, 0x0F, 0x48, 0x8B, 0x05, 0x66, 0xEB, 0x85][pick]
                        }
                        Kind::Thumb => [0xF0, 0xF3, 0xF8, 0xFF, 0xF7, 0xF9, 0x12, 0xFE][pick],
                        _ => [0xEB, 0x94, 0x97, 0xFB, 0x0B, 0x96, 0x95, 0x1B][pick],
                    };
                }
                let regions = [Region {
                    start: 3 + seed % 5,
                    len: 3000,
                    va: 0x1000 + seed,
                    kind,
                }];
                let mut buf = data.clone();
                forward(&mut buf, &regions, &|x| x);
                assert!(buf != data, "{kind:?} changed nothing");
                inverse(&mut buf, &regions);
                assert!(buf == data, "{kind:?} seed {seed}");
            }
        }
    }

    #[test]
    fn calls_to_one_target_become_equal() {
        // Two x86 calls to 0x2000 from different places.
        let mut code = vec![0x90u8; 64];
        let va = 0x1000u64;
        for at in [4usize, 40] {
            let rel = (0x2000 - (va + at as u64 + 5)) as u32;
            code[at] = 0xE8;
            code[at + 1..at + 5].copy_from_slice(&rel.to_le_bytes());
        }
        let r = [Region {
            start: 0,
            len: 64,
            va,
            kind: Kind::X86_64,
        }];
        forward(&mut code, &r, &|x| x);
        assert_eq!(code[5..9], code[41..45]);
        assert_eq!(u32::from_le_bytes(code[5..9].try_into().unwrap()), 0x2000);
    }
}
