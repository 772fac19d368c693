//! The patch header: what a device needs to decide, before reading anything else, whether it
//! can and may apply this patch (see `FORMAT.md`).
//!
//! The header carries the method, both image sizes and SHA-256 digests, and the working memory
//! the decoder will need, so a constrained device can refuse a patch up front instead of
//! failing half-way through writing its inactive slot.

use crate::error::{Error, Result};
use crate::varint;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Magic bytes at offset 0 of every patch.
pub const MAGIC: [u8; 2] = [0xD7, 0x0A];
/// Offset of the format version byte (the same in every version).
pub const VERSION_OFFSET: usize = MAGIC.len();
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 5;
/// The oldest format version this build reads. A patch is written with the oldest version
/// that can express its method ([`Method::min_version`]), so devices that only read an older
/// version still get every patch they can apply.
pub const OLDEST_READ_VERSION: u8 = 4;

/// Every format version this build reads, oldest first; devices advertise this list.
pub fn readable_versions() -> Vec<u8> {
    (OLDEST_READ_VERSION..=FORMAT_VERSION).collect()
}

/// Flag: applying needs the whole old image in memory (e.g. zstd reference prefix).
pub const FLAG_NEEDS_FULL_OLD: u8 = 1;

/// Encodes a memory amount as one byte `e << 3 | m` meaning `(8 + m) << e` bytes, rounding
/// up (at most 12.5 % over), so the announced figure is always an upper bound.
pub fn encode_memory(bytes: u64) -> u8 {
    for code in 0..=255u8 {
        if decode_memory(code) >= bytes {
            return code;
        }
    }
    255
}

/// The number of bytes a memory byte from [`encode_memory`] stands for.
pub fn decode_memory(code: u8) -> u64 {
    (8 + u64::from(code & 7)) << (code >> 3)
}

/// How the new image is reconstructed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Method {
    /// The new image compressed on its own; the old image is only checked.
    Raw = 0,
    /// Suffix-array matching against a (possibly transformed) old image, with control,
    /// difference and extra streams. Streams with bounded memory.
    Bsd = 1,
    /// zstd with the whole old image as reference prefix (`--patch-from`). Needs the whole old
    /// image in memory.
    ZstdRef = 2,
    /// LZMA with the whole old image as preset dictionary. Needs the whole old image in
    /// memory; since format version 5.
    LzmaRef = 3,
    /// An inner patch between images whose embedded LZMA streams are expanded to plaintext
    /// and coding decisions; the device re-encodes the streams. Needs the whole old image in
    /// memory; since format version 5.
    LzmaStreams = 4,
}

impl Method {
    fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(Method::Raw),
            1 => Ok(Method::Bsd),
            2 => Ok(Method::ZstdRef),
            3 => Ok(Method::LzmaRef),
            4 => Ok(Method::LzmaStreams),
            other => Err(Error::Unsupported(format!("unknown method {other}"))),
        }
    }

    /// Short human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Raw => "raw-zstd",
            Method::Bsd => "bsd",
            Method::ZstdRef => "zstd-ref",
            Method::LzmaRef => "lzma-ref",
            Method::LzmaStreams => "lzma-streams",
        }
    }

    /// The oldest format version that has this method.
    pub fn min_version(self) -> u8 {
        match self {
            Method::Raw | Method::Bsd | Method::ZstdRef => 4,
            Method::LzmaRef | Method::LzmaStreams => 5,
        }
    }
}

/// Decoded patch header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchHeader {
    /// Format version of the patch.
    pub version: u8,
    /// Reconstruction method.
    pub method: Method,
    /// Flag bits (`FLAG_*`).
    pub flags: u8,
    /// Size of the old image in bytes.
    pub old_size: u64,
    /// Size of the new image in bytes.
    pub new_size: u64,
    /// SHA-256 of the old image.
    pub old_sha256: [u8; 32],
    /// SHA-256 of the new image.
    pub new_sha256: [u8; 32],
    /// Working memory in bytes the decoder needs beyond reading the old image
    /// (buffers and decompression windows), rounded up as the header stores it (see
    /// [`encode_memory`]). With `FLAG_NEEDS_FULL_OLD` the old image comes on top.
    pub apply_memory: u64,
    /// Total size of the header in bytes.
    pub header_len: usize,
}

impl PatchHeader {
    /// True when applying needs the whole old image in memory.
    pub fn needs_full_old(&self) -> bool {
        self.flags & FLAG_NEEDS_FULL_OLD != 0
    }

    /// The memory in bytes applying this patch needs: the whole old image plus
    /// `apply_memory` when it [needs the full old image](Self::needs_full_old), else
    /// `apply_memory` alone. Devices compare it with their limit, the server with the
    /// limit a device announced (saturating: a corrupt size never wraps to a small need).
    pub fn apply_need(&self) -> u64 {
        if self.needs_full_old() {
            self.old_size.saturating_add(self.apply_memory)
        } else {
            self.apply_memory
        }
    }

    /// Serialises the header (without the trailing check, which `encode` appends).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&MAGIC);
        out.push(self.version);
        out.push(self.method as u8 | self.flags << 4);
        varint::put_u64(&mut out, self.old_size);
        varint::put_i64(&mut out, self.new_size.wrapping_sub(self.old_size) as i64);
        out.extend_from_slice(&self.old_sha256);
        out.extend_from_slice(&self.new_sha256);
        out.push(encode_memory(self.apply_memory));
        let check = Sha256::digest(&out);
        out.extend_from_slice(&check[..4]);
        out
    }

    /// Reads and validates a header from the start of a patch.
    pub fn read_from<R: Read + ?Sized>(r: &mut R) -> Result<Self> {
        let mut raw = Vec::with_capacity(96);
        let mut fixed = [0u8; 4];
        read_exact(r, &mut fixed)?;
        if fixed == *b"OTAD" {
            return Err(Error::Unsupported(format!(
                "format version 1 (this build reads {OLDEST_READ_VERSION} to {FORMAT_VERSION}); regenerate the patch"
            )));
        }
        if fixed[..2] != MAGIC {
            return Err(Error::NotAPatch);
        }
        let version = fixed[VERSION_OFFSET];
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(Error::Unsupported(format!(
                "format version {version} (this build reads {OLDEST_READ_VERSION} to {FORMAT_VERSION})"
            )));
        }
        raw.extend_from_slice(&fixed);
        let mut tee = Tee { r, buf: &mut raw };
        let old_size = varint::read_u64(&mut tee)?;
        let new_size = old_size.wrapping_add(varint::unzigzag(varint::read_u64(&mut tee)?) as u64);
        let mut rest = [0u8; 65];
        read_exact(&mut tee, &mut rest)?;
        let apply_memory = decode_memory(rest[64]);
        let mut check = [0u8; 4];
        read_exact(r, &mut check)?;
        if Sha256::digest(&raw)[..4] != check {
            return Err(Error::corrupt("header checksum mismatch"));
        }
        let method = Method::from_u8(fixed[3] & 15)?;
        if method.min_version() > version {
            return Err(Error::corrupt(format!(
                "method {} does not exist in format version {version}",
                method.name()
            )));
        }
        let flags = fixed[3] >> 4;
        if flags & !FLAG_NEEDS_FULL_OLD != 0 {
            return Err(Error::Unsupported(format!("unknown flags {flags:#x}")));
        }
        let digests = &rest[..64];
        let mut old_sha256 = [0u8; 32];
        let mut new_sha256 = [0u8; 32];
        old_sha256.copy_from_slice(&digests[..32]);
        new_sha256.copy_from_slice(&digests[32..]);
        Ok(PatchHeader {
            version,
            method,
            flags,
            old_size,
            new_size,
            old_sha256,
            new_sha256,
            apply_memory,
            header_len: raw.len() + 4,
        })
    }
}

fn read_exact<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::corrupt("truncated header")
        } else {
            Error::Io(e)
        }
    })
}

/// Copies everything read into `buf` so the header checksum can cover variable-length fields.
struct Tee<'a, R: Read + ?Sized> {
    r: &'a mut R,
    buf: &'a mut Vec<u8>,
}

impl<R: Read + ?Sized> Read for Tee<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(out)?;
        self.buf.extend_from_slice(&out[..n]);
        Ok(n)
    }
}

/// SHA-256 of a byte slice as an array.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: u8, method: Method) -> PatchHeader {
        PatchHeader {
            version,
            method,
            flags: 0,
            old_size: 10,
            new_size: 12,
            old_sha256: [1; 32],
            new_sha256: [2; 32],
            apply_memory: 4096,
            header_len: 0,
        }
    }

    #[test]
    fn each_method_is_read_from_its_first_version_on() {
        let methods = [
            Method::Raw,
            Method::Bsd,
            Method::ZstdRef,
            Method::LzmaRef,
            Method::LzmaStreams,
        ];
        for m in methods {
            for v in readable_versions() {
                let bytes = header(v, m).encode();
                let read = PatchHeader::read_from(&mut &bytes[..]);
                match read {
                    Ok(h) => {
                        assert!(v >= m.min_version(), "{m:?} accepted in version {v}");
                        assert_eq!((h.version, h.method, h.header_len), (v, m, bytes.len()));
                    }
                    Err(Error::Corrupt(msg)) => {
                        assert!(v < m.min_version(), "{m:?} refused in version {v}: {msg}");
                        assert!(msg.contains("does not exist in format version"), "{msg}");
                    }
                    Err(e) => panic!("{m:?} v{v}: {e:?}"),
                }
            }
        }
    }

    #[test]
    fn apply_need_adds_the_old_image_only_for_full_old_patches() {
        let mut h = header(5, Method::LzmaRef);
        assert_eq!(h.apply_need(), 4096);
        h.flags = FLAG_NEEDS_FULL_OLD;
        assert_eq!(h.apply_need(), 10 + 4096);
        h.old_size = u64::MAX;
        assert_eq!(h.apply_need(), u64::MAX);
    }

    #[test]
    fn versions_outside_the_readable_range_are_unsupported() {
        assert_eq!(readable_versions(), vec![4, 5]);
        for v in [0u8, 2, 3, 6, 255] {
            let bytes = header(v, Method::Bsd).encode();
            match PatchHeader::read_from(&mut &bytes[..]) {
                Err(Error::Unsupported(msg)) => assert!(msg.contains("reads 4 to 5"), "{msg}"),
                r => panic!("version {v}: {r:?}"),
            }
        }
    }
}
