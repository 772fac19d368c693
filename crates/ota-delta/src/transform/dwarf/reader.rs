//! A minimal reader of DWARF debugging entries: ELF section lookup, compile-unit headers,
//! abbreviation tables, attribute-form sizes and the walk over every entry's fields.
//!
//! Why a module of its own: the prediction ([`super::Dwarf`]) only cares about the values of
//! a few reference forms, but finding them means stepping over every other field exactly as
//! the abbreviation tables say. This keeps that bookkeeping apart from the rewriting rules.
//! It understands DWARF 2–4 in the 32-bit format and stops a unit at the first thing it does
//! not understand (a stopped unit only costs prediction, never correctness). It never writes.

use crate::transform::elf::Elf;
use std::collections::HashMap;

/// File range `(offset, length)` of the section `name` that has bytes in the file
/// (not `SHT_NOBITS`, not empty) and lies within an image of `len` bytes.
pub(super) fn section(e: &Elf, name: &str, len: usize) -> Option<(u64, u64)> {
    e.sections
        .iter()
        .find(|s| s.name == name && s.typ != 8 && s.size > 0)
        .filter(|s| {
            s.off
                .checked_add(s.size)
                .is_some_and(|end| end <= len as u64)
        })
        .map(|s| (s.off, s.size))
}

/// Header of the compile unit a field belongs to.
pub(super) struct Unit {
    /// Offset of the unit header within `.debug_info`.
    pub start: usize,
    /// DWARF version (2 to 4).
    pub version: u64,
    /// Size of a target address (4 or 8).
    pub addr_size: usize,
}

/// One field of a debugging entry.
pub(super) struct Field<'a> {
    /// Attribute (`DW_AT_*`).
    pub attr: u64,
    /// Form (`DW_FORM_*`), with `DW_FORM_indirect` resolved.
    pub form: u64,
    /// Offset of the field's bytes within `.debug_info`.
    pub at: usize,
    /// The field's bytes (for blocks including their length prefix), all inside `.debug_info`.
    pub bytes: &'a [u8],
}

impl Field<'_> {
    /// The field's bytes read as a little-endian number (fixed-size forms up to 8 bytes).
    pub fn value(&self) -> u64 {
        let n = self.bytes.len().min(8);
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&self.bytes[..n]);
        u64::from_le_bytes(v)
    }
}

/// What [`walk`] reports, in file order.
pub(super) trait Visitor {
    /// A debugging entry (non-null abbreviation code with a known abbreviation) starts.
    fn entry(&mut self);
    /// One field of the current entry.
    fn field(&mut self, unit: &Unit, field: Field<'_>);
}

/// One attribute specification: `(attribute, form)`.
type Spec = (u64, u64);
/// One abbreviation table: code → attribute specifications (whether an entry has children
/// is irrelevant to a flat walk).
type Table = HashMap<u64, Vec<Spec>>;

/// Walks every unit of `info` (the bytes of `.debug_info`) with the abbreviation tables in
/// `abbrev` (the bytes of `.debug_abbrev`), reporting each entry and field to `v`. Stops at
/// a 64-bit or reserved unit length; a unit stops at the first thing not understood.
pub(super) fn walk(info: &[u8], abbrev: &[u8], v: &mut impl Visitor) {
    let mut tables: HashMap<u64, Option<Table>> = HashMap::new();
    let mut p = 0usize;
    while p + 11 <= info.len() {
        let Some(len) = rd(info, p, 4) else {
            return;
        };
        if len >= 0xFFFF_FFF0 {
            return; // 64-bit DWARF or reserved: stop
        }
        let Some(end) = (p + 4).checked_add(len as usize) else {
            return;
        };
        let end = end.min(info.len());
        let _ = unit(info, abbrev, &mut tables, p, end, v);
        p = end.max(p + 4);
    }
}

/// Walks one unit `[cu, end)`; `None` stops at the first thing not understood.
fn unit(
    info: &[u8],
    abbrev: &[u8],
    tables: &mut HashMap<u64, Option<Table>>,
    cu: usize,
    end: usize,
    v: &mut impl Visitor,
) -> Option<()> {
    let version = rd(info, cu + 4, 2)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let aoff = rd(info, cu + 6, 4)?;
    let addr_size = usize::from(*info.get(cu + 10)?);
    if addr_size != 4 && addr_size != 8 {
        return None;
    }
    let table = tables
        .entry(aoff)
        .or_insert_with(|| parse_table(abbrev, aoff))
        .as_ref()?;
    let u = Unit {
        start: cu,
        version,
        addr_size,
    };
    let mut p = cu + 11;
    while p < end {
        let code = uleb(info, &mut p)?;
        if code == 0 {
            continue;
        }
        let specs = table.get(&code)?;
        v.entry();
        for &(attr, form) in specs {
            let (form, len) = form_len(info, &u, form, &mut p)?;
            let next = p.checked_add(len)?;
            let bytes = info.get(p..next)?;
            v.field(
                &u,
                Field {
                    attr,
                    form,
                    at: p,
                    bytes,
                },
            );
            p = next;
            if p > end {
                return None;
            }
        }
    }
    Some(())
}

/// Resolves `DW_FORM_indirect` at `*p` (moving `*p` past the form codes read) and returns
/// the actual form and the length of the field at `*p`; `None` for a form not understood.
fn form_len(info: &[u8], u: &Unit, form: u64, p: &mut usize) -> Option<(u64, usize)> {
    let mut form = form;
    let mut hops = 0;
    while form == 0x16 {
        form = uleb(info, p)?;
        hops += 1;
        if hops > 4 {
            return None;
        }
    }
    let p = *p;
    let len = match form {
        // addr
        0x01 => u.addr_size,
        // data4, strp, ref4, sec_offset / data8
        0x06 | 0x0E | 0x13 | 0x17 => 4,
        0x07 => 8,
        // ref_addr: address-sized in DWARF 2, an offset since DWARF 3
        0x10 if u.version <= 2 => u.addr_size,
        0x10 => 4,
        // data1, flag, ref1 / data2, ref2 / ref8, ref_sig8
        0x0B | 0x0C | 0x11 => 1,
        0x05 | 0x12 => 2,
        0x14 | 0x20 => 8,
        // sdata, udata, ref_udata
        0x0D | 0x0F | 0x15 => {
            let mut q = p;
            skip_leb(info, &mut q)?;
            q - p
        }
        // flag_present, implicit_const
        0x19 | 0x21 => 0,
        // string
        0x08 => info.get(p..)?.iter().position(|&b| b == 0)? + 1,
        // block, exprloc (ULEB length) / block1 / block2 / block4
        0x09 | 0x18 => {
            let mut q = p;
            let n = uleb(info, &mut q)?;
            (q - p).checked_add(usize::try_from(n).ok()?)?
        }
        0x0A => 1 + usize::from(*info.get(p)?),
        0x03 => 2 + rd(info, p, 2)? as usize,
        0x04 => 4 + rd(info, p, 4)? as usize,
        _ => return None,
    };
    Some((form, len))
}

/// Parses the abbreviation table at `off`; `None` if malformed.
fn parse_table(ab: &[u8], off: u64) -> Option<Table> {
    let mut p = usize::try_from(off).ok()?;
    let mut t = Table::new();
    loop {
        let code = uleb(ab, &mut p)?;
        if code == 0 {
            return Some(t);
        }
        uleb(ab, &mut p)?; // tag
        p += 1; // children flag
        let mut specs = Vec::new();
        loop {
            let a = uleb(ab, &mut p)?;
            let f = uleb(ab, &mut p)?;
            if a == 0 && f == 0 {
                break;
            }
            if f == 0x21 {
                skip_leb(ab, &mut p)?; // DWARF 5 implicit constant: no bytes in the entry
            }
            specs.push((a, f));
            if specs.len() > 4096 {
                return None;
            }
        }
        t.insert(code, specs);
    }
}

fn uleb(b: &[u8], p: &mut usize) -> Option<u64> {
    let mut r = 0u64;
    let mut s = 0u32;
    loop {
        let c = *b.get(*p)?;
        *p += 1;
        if s < 64 {
            r |= u64::from(c & 0x7F) << s;
        }
        s += 7;
        if c < 0x80 {
            return Some(r);
        }
    }
}

fn skip_leb(b: &[u8], p: &mut usize) -> Option<()> {
    loop {
        let c = *b.get(*p)?;
        *p += 1;
        if c < 0x80 {
            return Some(());
        }
    }
}

fn rd(b: &[u8], p: usize, n: usize) -> Option<u64> {
    let s = b.get(p..p.checked_add(n)?)?;
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(s);
    Some(u64::from_le_bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log {
        entries: usize,
        fields: Vec<(u64, u64, usize, usize)>,
    }

    impl Visitor for Log {
        fn entry(&mut self) {
            self.entries += 1;
        }
        fn field(&mut self, _: &Unit, f: Field<'_>) {
            self.fields.push((f.attr, f.form, f.at, f.bytes.len()));
        }
    }

    #[test]
    fn walk_reports_each_field_with_its_position_and_length() {
        // abbrev 1: name string, type indirect, location block1, byte_size udata.
        let abbrev = [
            1u8, 0x11, 0, 0x03, 0x08, 0x49, 0x16, 0x02, 0x0A, 0x0B, 0x0F, 0, 0, 0,
        ];
        let mut info = Vec::new();
        info.extend_from_slice(&22u32.to_le_bytes());
        info.extend_from_slice(&4u16.to_le_bytes());
        info.extend_from_slice(&0u32.to_le_bytes());
        info.push(8);
        info.push(1); // entry at 11
        info.extend_from_slice(b"ab\0"); // 12..15
        info.push(0x13); // indirect: ref4 at 16..20
        info.extend_from_slice(&7u32.to_le_bytes());
        info.extend_from_slice(&[2, 0xAA, 0xBB]); // block1 at 20..23
        info.extend_from_slice(&[0x80, 0x01]); // udata at 23..25
        info.push(0);
        let mut log = Log::default();
        walk(&info, &abbrev, &mut log);
        assert_eq!(log.entries, 1);
        assert_eq!(
            log.fields,
            [
                (0x03, 0x08, 12, 3),
                (0x49, 0x13, 16, 4),
                (0x02, 0x0A, 20, 3),
                (0x0B, 0x0F, 23, 2)
            ]
        );
    }
}
