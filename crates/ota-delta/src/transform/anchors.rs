//! Name-based anchors: addresses that must map to each other because they carry the same name.
//!
//! Matching aligns bytes, and that fails exactly where bytes look alike but mean different
//! things: PLT stubs are near-identical, so when the linker reorders imports, byte matching
//! pairs stub *k* with stub *k*, and every call to an import is then mispredicted. Symbol
//! names fix that: each stub is tied to its import through the PLT relocation table, and
//! functions and objects are tied by (hash-stripped) symbol name. Anchors are used only by the
//! encoder to build the address map; they cost patch bytes only where they change it.

use super::elf::{EM_AARCH64, EM_ARM, EM_X86_64, Elf, Section};
use std::collections::HashMap;

/// An anchor: `(old_va, new_va, len)`.
pub type Anchor = (u64, u64, u64);

fn rd32(d: &[u8], o: u64) -> Option<u32> {
    let o = usize::try_from(o).ok()?;
    Some(u32::from_le_bytes(d.get(o..o + 4)?.try_into().ok()?))
}
fn rd64(d: &[u8], o: u64) -> Option<u64> {
    let o = usize::try_from(o).ok()?;
    Some(u64::from_le_bytes(d.get(o..o + 8)?.try_into().ok()?))
}

fn cstr(d: &[u8], o: u64) -> Option<&[u8]> {
    let s = d.get(usize::try_from(o).ok()?..)?;
    Some(&s[..s.iter().position(|&b| b == 0)?])
}

/// Strips a Rust legacy-mangling hash (`17h<16 hex>E`) so renamed-by-hash symbols still pair.
fn normalise(name: &[u8]) -> Vec<u8> {
    if name.len() > 20 && name.ends_with(b"E") {
        let h = &name[name.len() - 20..];
        if h.starts_with(b"17h") && h[3..19].iter().all(u8::is_ascii_hexdigit) {
            let mut v = name[..name.len() - 20].to_vec();
            v.push(b'E');
            return v;
        }
    }
    name.to_vec()
}

struct Sym {
    name: Vec<u8>,
    value: u64,
    size: u64,
}

fn symbols(e: &Elf, d: &[u8], sec: &Section) -> Vec<Sym> {
    let Some(strtab) = e.sections.get(sec.link as usize) else {
        return Vec::new();
    };
    let ent = if e.is64 { 24 } else { 16 };
    let mut out = Vec::new();
    let mut o = sec.off;
    while o.saturating_add(ent) <= sec.off.saturating_add(sec.size) {
        let (name, value, size, info, shndx) = if e.is64 {
            let Some(n) = rd32(d, o) else { break };
            let info = d.get(o as usize + 4).copied().unwrap_or(0);
            let shndx = rd32(d, o + 4).map_or(0, |v| v >> 16);
            (
                n,
                rd64(d, o + 8).unwrap_or(0),
                rd64(d, o + 16).unwrap_or(0),
                info,
                shndx,
            )
        } else {
            let Some(n) = rd32(d, o) else { break };
            let info = d.get(o as usize + 12).copied().unwrap_or(0);
            let shndx = rd32(d, o + 12).map_or(0, |v| v >> 16);
            (
                n,
                u64::from(rd32(d, o + 4).unwrap_or(0)),
                u64::from(rd32(d, o + 8).unwrap_or(0)),
                info,
                shndx,
            )
        };
        o += ent;
        let typ = info & 0xF;
        if name == 0 || value == 0 || shndx == 0 || !(typ == 1 || typ == 2) {
            continue;
        }
        let Some(nm) = cstr(d, strtab.off.saturating_add(u64::from(name))) else {
            continue;
        };
        let value = if e.machine == EM_ARM && typ == 2 {
            value & !1
        } else {
            value
        };
        out.push(Sym {
            name: normalise(nm),
            value,
            size,
        });
    }
    out
}

/// Unique symbol name -> (address, size) over `.symtab` and `.dynsym`.
fn symbol_index(e: &Elf, d: &[u8]) -> HashMap<Vec<u8>, (u64, u64)> {
    let mut m: HashMap<Vec<u8>, Option<(u64, u64)>> = HashMap::new();
    for sec in e.sections.iter().filter(|s| s.typ == 2 || s.typ == 11) {
        for s in symbols(e, d, sec) {
            m.entry(s.name)
                .and_modify(|v| {
                    if v.is_some_and(|x| x.0 != s.value) {
                        *v = None;
                    }
                })
                .or_insert(Some((s.value, s.size)));
        }
    }
    m.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// GOT slot -> imported symbol name, from `.rel(a).plt`.
fn plt_slots(e: &Elf, d: &[u8]) -> HashMap<u64, Vec<u8>> {
    let mut out = HashMap::new();
    for rs in e.sections.iter().filter(|s| s.typ == 4 || s.typ == 9) {
        let Some(dynsym) = e.sections.get(rs.link as usize) else {
            continue;
        };
        let Some(strtab) = e.sections.get(dynsym.link as usize) else {
            continue;
        };
        let ent = match (e.is64, rs.typ) {
            (true, 4) => 24,
            (true, _) => 16,
            (false, 4) => 12,
            (false, _) => 8,
        };
        let syment = if e.is64 { 24 } else { 16 };
        let mut o = rs.off;
        while o.saturating_add(ent) <= rs.off.saturating_add(rs.size) {
            let (off, sym) = if e.is64 {
                (rd64(d, o).unwrap_or(0), rd64(d, o + 8).unwrap_or(0) >> 32)
            } else {
                (
                    u64::from(rd32(d, o).unwrap_or(0)),
                    u64::from(rd32(d, o + 4).unwrap_or(0) >> 8),
                )
            };
            o += ent;
            if sym == 0 {
                continue;
            }
            let Some(n) = rd32(d, dynsym.off.saturating_add(sym * syment)) else {
                continue;
            };
            if let Some(nm) = cstr(d, strtab.off.saturating_add(u64::from(n))) {
                out.insert(off, nm.to_vec());
            }
        }
    }
    out
}

fn arm_imm(w: u32) -> u32 {
    (w & 0xFF).rotate_right(2 * ((w >> 8) & 0xF))
}

/// PLT stub address -> (imported name, stub length).
fn plt_stubs(e: &Elf, d: &[u8]) -> HashMap<Vec<u8>, (u64, u64)> {
    let slots = plt_slots(e, d);
    let mut out = HashMap::new();
    for sec in e
        .sections
        .iter()
        .filter(|s| s.name.starts_with(".plt") && s.typ != 8)
    {
        let end = sec.off.saturating_add(sec.size);
        let va = |o: u64| sec.addr.wrapping_add(o - sec.off);
        match e.machine {
            EM_X86_64 => {
                let mut o = sec.off;
                while o + 6 <= end {
                    if d.get(o as usize..o as usize + 2) == Some(&[0xFF, 0x25]) {
                        let disp = rd32(d, o + 2).unwrap_or(0) as i32 as i64;
                        let slot = va(o).wrapping_add((6 + disp) as u64);
                        if let Some(nm) = slots.get(&slot) {
                            let start = sec.addr.wrapping_add((o - sec.off) / 16 * 16);
                            out.insert(nm.clone(), (start, 16));
                        }
                        o += 6;
                    } else {
                        o += 1;
                    }
                }
            }
            EM_ARM => {
                let mut o = sec.off;
                while o + 12 <= end {
                    let (a, b, c) = (rd32(d, o), rd32(d, o + 4), rd32(d, o + 8));
                    if let (Some(a), Some(b), Some(c)) = (a, b, c)
                        && a & 0xFFFF_F000 == 0xE28F_C000
                        && b & 0xFFFF_F000 == 0xE28C_C000
                        && c & 0xFFFF_F000 == 0xE5BC_F000
                    {
                        let slot = va(o).wrapping_add(
                            8 + u64::from(arm_imm(a))
                                + u64::from(arm_imm(b))
                                + u64::from(c & 0xFFF),
                        );
                        if let Some(nm) = slots.get(&slot) {
                            out.insert(nm.clone(), (va(o), 12));
                        }
                        o += 12;
                    } else {
                        o += 4;
                    }
                }
            }
            EM_AARCH64 => {
                let mut o = sec.off;
                while o + 8 <= end {
                    let (a, b) = (rd32(d, o).unwrap_or(0), rd32(d, o + 4).unwrap_or(0));
                    if a & 0x9F00_001F == 0x9000_0010 && b & 0xFFC0_03FF == 0xF940_0211 {
                        let imm = ((((a >> 5) & 0x7FFFF) << 2) | ((a >> 29) & 3)) as u64;
                        let imm = ((imm << 43) as i64 >> 43) << 12;
                        let page = (va(o) & !0xFFF).wrapping_add(imm as u64);
                        let slot = page.wrapping_add(u64::from((b >> 10) & 0xFFF) * 8);
                        if let Some(nm) = slots.get(&slot) {
                            out.insert(nm.clone(), (va(o), 16));
                        }
                        o += 16;
                    } else {
                        o += 4;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Symbol anchors (function/object starts) and PLT-stub anchors, in that order of priority.
pub fn anchors(eo: &Elf, old: &[u8], en: &Elf, new: &[u8]) -> (Vec<Anchor>, Vec<Anchor>) {
    let so = symbol_index(eo, old);
    let sn = symbol_index(en, new);
    let mut syms: Vec<Anchor> = so
        .iter()
        .filter_map(|(k, &(ov, osz))| {
            let &(nv, nsz) = sn.get(k)?;
            Some((ov, nv, osz.min(nsz).clamp(1, 16)))
        })
        .collect();
    syms.sort_unstable();
    let po = plt_stubs(eo, old);
    let pn = plt_stubs(en, new);
    let mut plt: Vec<Anchor> = po
        .iter()
        .filter_map(|(k, &(ov, len))| pn.get(k).map(|&(nv, _)| (ov, nv, len)))
        .collect();
    plt.sort_unstable();
    (syms, plt)
}
