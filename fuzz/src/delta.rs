//! Delta patches as a device receives them: the header, then the body applied to its old
//! image. A device checks the header's memory figure against its limit before applying
//! (`ota-device-sdk`'s `apply_delta_within`); the harness does the same with a 64 MiB
//! limit and writes into a bounded sink (the device's inactive slot), so a decoder that
//! allocates far beyond what the header announced shows up as a crash under libFuzzer's
//! `-malloc_limit_mb`, and an endless output as a refused write.

use ota_delta::header::{FORMAT_VERSION, OLDEST_READ_VERSION, PatchHeader, decode_memory, sha256};
use ota_delta::{Method, inspect};
use std::io::{Cursor, Write};

/// The most memory the harness's "device" gives to applying a patch.
pub const DEVICE_MEMORY: u64 = 64 << 20;
/// The size of the harness's "slot": writes beyond it fail.
pub const SLOT_BYTES: u64 = 32 << 20;

/// Input: a patch from its first byte on.
pub fn delta_header(data: &[u8]) {
    let Ok(h) = PatchHeader::read_from(&mut &data[..]) else {
        return;
    };
    assert!(h.header_len <= data.len());
    assert!((OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&h.version));
    assert!(h.method.min_version() <= h.version);
    let _ = h.apply_need();
    assert_eq!(inspect(data).ok().as_ref(), Some(&h));
    let encoded = h.encode();
    let again = PatchHeader::read_from(&mut &encoded[..]).expect("an encoded header reads");
    assert_eq!(
        PatchHeader {
            header_len: h.header_len,
            ..again
        },
        h,
        "header does not round-trip"
    );
}

/// A sink of bounded size that hashes what it is given.
struct Slot {
    written: u64,
}

impl Write for Slot {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() as u64 > SLOT_BYTES {
            return Err(std::io::Error::other("slot full"));
        }
        self.written += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = data.split_at_checked(n)?;
    *data = rest;
    Some(head)
}

fn take_u32(data: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(data, 4)?.try_into().ok()?))
}

/// Input: `ctl`, then either (bit 7 set) `oldLen:u32le old patch` with the patch verbatim,
/// or `memory:u8 newSize:u32le newSha256[32] oldLen:u32le old body`, from which the harness
/// writes a valid header (checksum and old-image digest included) before `body`: method
/// `ctl & 7`, bit 3 the full-old flag, bit 4 format version 5 (else 4). The fix-up lets the
/// fuzzer past the checksum and the old-image check into the body decoders.
pub fn delta_apply(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else {
        return;
    };
    let patch;
    let old;
    if ctl & 0x80 != 0 {
        let Some(n) = take_u32(&mut rest) else { return };
        let Some(o) = take(&mut rest, n as usize) else {
            return;
        };
        old = o;
        patch = rest.to_vec();
    } else {
        let (Some(memory), Some(new_size), Some(new_sha)) =
            (take(&mut rest, 1), take_u32(&mut rest), take(&mut rest, 32))
        else {
            return;
        };
        let Some(n) = take_u32(&mut rest) else { return };
        let Some(o) = take(&mut rest, n as usize) else {
            return;
        };
        old = o;
        let method = match ctl & 7 {
            0 => Method::Raw,
            1 => Method::Bsd,
            2 => Method::ZstdRef,
            3 => Method::LzmaRef,
            _ => Method::LzmaStreams,
        };
        let header = PatchHeader {
            version: if ctl & 0x10 != 0 { 5 } else { 4 },
            method,
            flags: (ctl >> 3) & 1,
            old_size: old.len() as u64,
            new_size: u64::from(new_size),
            old_sha256: sha256(old),
            new_sha256: new_sha.try_into().expect("32 bytes"),
            apply_memory: decode_memory(memory[0]),
            header_len: 0,
        };
        patch = [header.encode(), rest.to_vec()].concat();
    }
    let Ok(h) = PatchHeader::read_from(&mut &patch[..]) else {
        return;
    };
    if h.apply_need() > DEVICE_MEMORY {
        return; // The device refuses it from its header alone.
    }
    let mut slot = Slot { written: 0 };
    if let Ok(report) = ota_delta::apply(Cursor::new(old), &patch[..], &mut slot) {
        assert_eq!(report.bytes_written, h.new_size);
        assert_eq!(slot.written, h.new_size);
        assert_eq!(report.method, h.method);
    }
}
