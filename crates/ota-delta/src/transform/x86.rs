//! x86 / x86-64: rel32 `call`/`jmp`/`jcc` and (64-bit) RIP-relative memory operands.
//!
//! Instruction boundaries are not known without full disassembly, so, as in BCJ filters and
//! Zucchini's x86 rel32 finder, we scan for opcode patterns and accept a candidate only if its
//! target lies inside the image; an accepted reference skips its own bytes. A false positive
//! costs compression only.

use super::{Span, fits};

/// Opcodes (after an optional REX prefix) whose ModRM may encode `[rip+disp32]`, no immediate.
pub(super) fn modrm_op(op: u8) -> bool {
    matches!(
        op,
        0x01 | 0x03
            | 0x09
            | 0x0B
            | 0x21
            | 0x23
            | 0x29
            | 0x2B
            | 0x31
            | 0x33
            | 0x39
            | 0x3B
            | 0x63
            | 0x84
            | 0x85
            | 0x88
            | 0x89
            | 0x8A
            | 0x8B
            | 0x8D
            | 0xFF
    )
}

/// Two-byte (0F xx) opcodes with ModRM and no immediate that commonly take RIP operands.
pub(super) fn modrm_op_0f(op: u8) -> bool {
    matches!(
        op,
        0x10 | 0x11
            | 0x12
            | 0x13
            | 0x16
            | 0x17
            | 0x28
            | 0x29
            | 0x2A
            | 0x2E
            | 0x2F
            | 0x51
            | 0x54
            | 0x57
            | 0x58
            | 0x59
            | 0x5C
            | 0x5E
            | 0x6E
            | 0x6F
            | 0x7E
            | 0x7F
            | 0xB6
            | 0xB7
            | 0xBE
            | 0xBF
            | 0xD6
            | 0xEF
            | 0xDB
            | 0xEB
            | 0xFE
            | 0xD4
    )
}

/// Returns (displacement offset, instruction end) for a reference starting at `i`.
fn find(o: &[u8], i: usize, x64: bool) -> Option<(usize, usize)> {
    let b = o[i];
    match b {
        0xE8 | 0xE9 => return Some((i + 1, i + 5)),
        0x0F if o.get(i + 1).is_some_and(|&c| c & 0xF0 == 0x80) => return Some((i + 2, i + 6)),
        _ => {}
    }
    if !x64 {
        return None;
    }
    let mut j = i;
    if matches!(o[j], 0x66 | 0xF2 | 0xF3) {
        j += 1;
    }
    if o.get(j).is_some_and(|&c| c & 0xF0 == 0x40) {
        j += 1;
    }
    let op = *o.get(j)?;
    let (modrm_at, imm) = if op == 0x0F {
        let op2 = *o.get(j + 1)?;
        if !modrm_op_0f(op2) {
            return None;
        }
        (j + 2, 0)
    } else if modrm_op(op) {
        (j + 1, 0)
    } else if op == 0xC7 {
        (j + 1, 4)
    } else if op == 0x80 || op == 0x83 || op == 0xC6 {
        (j + 1, 1)
    } else if op == 0x81 {
        (j + 1, 4)
    } else {
        return None;
    };
    let modrm = *o.get(modrm_at)?;
    if modrm & 0xC7 != 0x05 {
        return None;
    }
    Some((modrm_at + 1, modrm_at + 5 + imm))
}

/// Rewrites a span of x86 code.
pub(super) fn rewrite(s: &mut Span, x64: bool) {
    let n = s.orig.len();
    let mut i = 0;
    while i < n {
        if let Some((f, end)) = find(s.orig, i, x64)
            && end <= n
        {
            let rel = i64::from(s.u32_at(f) as i32);
            let next = s.va.wrapping_add(end as u64);
            let t = next.wrapping_add(rel as u64);
            if s.in_range(t) {
                let nrel = s.map(t).wrapping_sub(s.map(next)) as i64;
                if fits(nrel, 32) {
                    s.put_u32(f, nrel as u32);
                }
                i = end;
                continue;
            }
        }
        i += 1;
    }
}
