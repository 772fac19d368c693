//! Minimal, defensive ELF reader (little-endian, 32/64-bit): segments, sections and ARM
//! mapping symbols. Used only by the encoder to choose transform regions and to translate
//! match positions to virtual addresses; malformed input just yields `None`/fewer regions.

use super::{Kind, Region};

/// ELF machine numbers we understand.
pub const EM_386: u16 = 3;
/// ARM.
pub const EM_ARM: u16 = 40;
/// x86-64.
pub const EM_X86_64: u16 = 62;
/// AArch64.
pub const EM_AARCH64: u16 = 183;

/// A loadable segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// File offset.
    pub off: u64,
    /// Bytes present in the file.
    pub filesz: u64,
    /// Virtual address.
    pub va: u64,
    /// Size in memory.
    pub memsz: u64,
    /// `PF_*` flags.
    pub flags: u32,
}

/// A section header.
#[derive(Debug, Clone)]
pub struct Section {
    /// Name from `.shstrtab`.
    pub name: String,
    /// `sh_type`.
    pub typ: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`.
    pub addr: u64,
    /// `sh_offset`.
    pub off: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_link`.
    pub link: u32,
}

/// Parsed ELF summary.
#[derive(Debug, Clone)]
pub struct Elf {
    /// `e_machine`.
    pub machine: u16,
    /// ELFCLASS64.
    pub is64: bool,
    /// `PT_LOAD` segments.
    pub segments: Vec<Segment>,
    /// Section headers (may be empty).
    pub sections: Vec<Section>,
}

struct Rd<'a>(&'a [u8], bool);

impl Rd<'_> {
    fn u16(&self, o: usize) -> Option<u16> {
        Some(u16::from_le_bytes(self.0.get(o..o + 2)?.try_into().ok()?))
    }
    fn u32(&self, o: usize) -> Option<u32> {
        Some(u32::from_le_bytes(self.0.get(o..o + 4)?.try_into().ok()?))
    }
    fn u64(&self, o: usize) -> Option<u64> {
        Some(u64::from_le_bytes(self.0.get(o..o + 8)?.try_into().ok()?))
    }
    /// Address-sized field.
    fn addr(&self, o: usize) -> Option<u64> {
        if self.1 {
            self.u64(o)
        } else {
            self.u32(o).map(u64::from)
        }
    }
}

/// Parses `data` if it is a little-endian ELF file.
pub fn parse(data: &[u8]) -> Option<Elf> {
    if data.get(..4)? != b"\x7fELF" || *data.get(5)? != 1 {
        return None;
    }
    let is64 = match data.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let r = Rd(data, is64);
    let machine = r.u16(18)?;
    let (phoff, shoff, phentsize, phnum, shentsize, shnum, shstrndx) = if is64 {
        (
            r.u64(32)?,
            r.u64(40)?,
            r.u16(54)?,
            r.u16(56)?,
            r.u16(58)?,
            r.u16(60)?,
            r.u16(62)?,
        )
    } else {
        let p = u64::from(r.u32(28)?);
        let s = u64::from(r.u32(32)?);
        (
            p,
            s,
            r.u16(42)?,
            r.u16(44)?,
            r.u16(46)?,
            r.u16(48)?,
            r.u16(50)?,
        )
    };
    let mut segments = Vec::new();
    for k in 0..usize::from(phnum).min(256) {
        let o = usize::try_from(phoff).ok()? + k * usize::from(phentsize);
        if r.u32(o)? != 1 {
            continue; // not PT_LOAD
        }
        let seg = if is64 {
            Segment {
                flags: r.u32(o + 4)?,
                off: r.u64(o + 8)?,
                va: r.u64(o + 16)?,
                filesz: r.u64(o + 32)?,
                memsz: r.u64(o + 40)?,
            }
        } else {
            Segment {
                off: u64::from(r.u32(o + 4)?),
                va: u64::from(r.u32(o + 8)?),
                filesz: u64::from(r.u32(o + 16)?),
                memsz: u64::from(r.u32(o + 20)?),
                flags: r.u32(o + 24)?,
            }
        };
        if seg.off.checked_add(seg.filesz)? <= data.len() as u64 {
            segments.push(seg);
        }
    }
    let mut sections = Vec::new();
    let shnum = usize::from(shnum);
    if shoff != 0 && shnum <= 4096 && usize::from(shentsize) >= if is64 { 64 } else { 40 } {
        let sh = |k: usize| -> Option<(u32, u32, u64, u64, u64, u64, u32)> {
            let o = usize::try_from(shoff).ok()? + k * usize::from(shentsize);
            let a = if is64 { 8 } else { 4 };
            let name = r.u32(o)?;
            let typ = r.u32(o + 4)?;
            let flags = r.addr(o + 8)?;
            let addr = r.addr(o + 8 + a)?;
            let off = r.addr(o + 8 + 2 * a)?;
            let size = r.addr(o + 8 + 3 * a)?;
            let link = r.u32(o + 8 + 4 * a)?;
            Some((name, typ, flags, addr, off, size, link))
        };
        let strtab = sh(usize::from(shstrndx)).map(|s| (s.4, s.5));
        for k in 0..shnum {
            let Some((name, typ, flags, addr, off, size, link)) = sh(k) else {
                break;
            };
            let name = strtab
                .and_then(|(so, ss)| {
                    if u64::from(name) >= ss {
                        return None;
                    }
                    let start = usize::try_from(so + u64::from(name)).ok()?;
                    let bytes = data.get(start..)?;
                    let end = bytes.iter().position(|&b| b == 0)?;
                    Some(String::from_utf8_lossy(&bytes[..end]).into_owned())
                })
                .unwrap_or_default();
            sections.push(Section {
                name,
                typ,
                flags,
                addr,
                off,
                size,
                link,
            });
        }
    }
    Some(Elf {
        machine,
        is64,
        segments,
        sections,
    })
}

impl Elf {
    /// File range `(offset, size)` of the string table of the (non-dynamic) symbol table.
    pub fn symbol_strings(&self) -> Option<(u64, u64)> {
        let st = self.sections.iter().find(|s| s.typ == 2)?;
        let str = self.sections.get(st.link as usize)?;
        (str.typ == 3).then_some((str.off, str.size))
    }

    /// Virtual address of file offset `off`, if it lies in a loaded segment.
    pub fn off_to_va(&self, off: u64) -> Option<(u64, u64)> {
        self.segments
            .iter()
            .find(|s| off >= s.off && off < s.off + s.filesz)
            .map(|s| (s.va.wrapping_add(off - s.off), s.off + s.filesz - off))
    }

    /// Lowest and one-past-highest virtual address of loaded segments.
    pub fn va_range(&self) -> Option<(u64, u64)> {
        let lo = self.segments.iter().map(|s| s.va).min()?;
        let hi = self
            .segments
            .iter()
            .map(|s| s.va.saturating_add(s.memsz))
            .max()?;
        Some((lo, hi))
    }

    fn code_kind(&self) -> Option<Kind> {
        match self.machine {
            EM_X86_64 => Some(Kind::X86_64),
            EM_386 => Some(Kind::X86_32),
            EM_ARM => Some(Kind::Arm),
            EM_AARCH64 => Some(Kind::A64),
            _ => None,
        }
    }

    /// ARM mapping symbols (`$a`, `$t`) as (address, is_thumb), sorted.
    fn arm_modes(&self, data: &[u8]) -> Vec<(u64, bool)> {
        let mut v = Vec::new();
        for st in self.sections.iter().filter(|s| s.typ == 2) {
            let Some(strtab) = self.sections.get(st.link as usize) else {
                continue;
            };
            let ent = 16usize;
            let (Ok(o), Ok(sz)) = (usize::try_from(st.off), usize::try_from(st.size)) else {
                continue;
            };
            let Some(syms) = data.get(o..o.saturating_add(sz)) else {
                continue;
            };
            for e in syms.chunks_exact(ent) {
                let name = u32::from_le_bytes(e[0..4].try_into().expect("4")) as u64;
                let value = u64::from(u32::from_le_bytes(e[4..8].try_into().expect("4")));
                let p = strtab.off.saturating_add(name);
                let Some(nm) = usize::try_from(p)
                    .ok()
                    .and_then(|p| data.get(p..p.checked_add(3)?))
                else {
                    continue;
                };
                if nm[0] == b'$' && (nm[2] == 0 || nm[2] == b'.') {
                    match nm[1] {
                        b'a' => v.push((value, false)),
                        b't' => v.push((value, true)),
                        _ => {}
                    }
                }
            }
        }
        v.sort_unstable();
        v.dedup_by_key(|e| e.0);
        v
    }

    fn table_kind(&self, typ: u32) -> Option<Kind> {
        Some(match (typ, self.is64) {
            (2, false) => Kind::SymNames32,
            (2, true) => Kind::SymNames64,
            (11, false) => Kind::Sym32,
            (11, true) => Kind::Sym64,
            (4, false) => Kind::Rela32,
            (4, true) => Kind::Rela64,
            (9, false) => Kind::Rel32,
            (9, true) => Kind::Rel64,
            (6, false) => Kind::Dyn32,
            (6, true) => Kind::Dyn64,
            _ => return None,
        })
    }

    /// Transform regions for this image: code sections by instruction set, pointer tables.
    pub fn regions(&self, data: &[u8]) -> Vec<Region> {
        let Some(code) = self.code_kind() else {
            return Vec::new();
        };
        let ptr = if self.is64 { Kind::Ptr64 } else { Kind::Ptr32 };
        let modes = if self.machine == EM_ARM {
            self.arm_modes(data)
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        for s in &self.sections {
            if s.typ == 8 || s.size == 0 || s.off.saturating_add(s.size) > data.len() as u64 {
                continue; // NOBITS or out of file
            }
            let exec = s.flags & 4 != 0;
            let alloc = s.flags & 2 != 0;
            let kind = if exec && alloc {
                code
            } else if s.typ == 0x7000_0001 && self.machine == EM_ARM {
                Kind::Prel31
            } else if let Some(k) = self.table_kind(s.typ) {
                k
            } else if matches!(s.typ, 14 | 15)
                || matches!(
                    s.name.as_str(),
                    ".data.rel.ro" | ".got" | ".got.plt" | ".data" | ".init_array" | ".fini_array"
                )
            {
                ptr
            } else {
                continue;
            };
            if kind == Kind::Arm && !modes.is_empty() {
                split_arm(&mut out, s, &modes);
            } else {
                out.push(Region {
                    start: s.off,
                    len: s.size,
                    va: if alloc { s.addr } else { 0 },
                    kind,
                });
            }
        }
        out.sort_by_key(|r| r.start);
        // Drop overlaps defensively.
        let mut clean: Vec<Region> = Vec::with_capacity(out.len());
        for r in out {
            if clean.last().is_none_or(|p| p.start + p.len <= r.start) {
                clean.push(r);
            }
        }
        clean.truncate(super::MAX_REGIONS);
        clean
    }
}

fn split_arm(out: &mut Vec<Region>, s: &Section, modes: &[(u64, bool)]) {
    let end = s.addr.saturating_add(s.size);
    let mut cur = s.addr;
    let mut thumb = modes
        .iter()
        .rev()
        .find(|m| m.0 <= s.addr)
        .is_some_and(|m| m.1);
    let mut push = |from: u64, to: u64, thumb: bool| {
        if to > from {
            out.push(Region {
                start: s.off + (from - s.addr),
                len: to - from,
                va: from,
                kind: if thumb { Kind::Thumb } else { Kind::Arm },
            });
        }
    };
    for &(a, t) in modes.iter().filter(|m| m.0 > s.addr && m.0 < end) {
        if t != thumb {
            push(cur, a, thumb);
            cur = a;
            thumb = t;
        }
    }
    push(cur, end, thumb);
}
