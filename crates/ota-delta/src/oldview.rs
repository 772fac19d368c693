//! Block-cached, transformed view of the old image for streaming apply.
//!
//! Why blocks: the executable-aware transform rewrites references relative to their own
//! position, so old bytes must be transformed identically by the encoder (whole image) and the
//! decoder (random seeks). Both transform the image in independent, aligned blocks of
//! [`BLOCK`] bytes, which keeps the device's memory at a few blocks regardless of image size.
//! Two blocks are cached because matches often alternate between two areas of the old image
//! (code and the table it uses); with one block the old image was re-read up to 30 times.

use crate::error::{Error, Result};
use crate::transform::Transform;
use std::io::{Read, Seek, SeekFrom};

/// Transform block size; references never straddle a block boundary.
pub const BLOCK: usize = 32 * 1024;
const SLOTS: usize = 2;

struct Slot {
    idx: u64,
    data: Vec<u8>,
    used: u64,
}

/// Reads the old image by seeking, one transformed block at a time.
pub struct OldView<'t, R> {
    r: R,
    size: u64,
    slots: Vec<Slot>,
    clock: u64,
    transform: &'t Transform,
    /// Bytes read from the old image so far.
    pub bytes_read: u64,
}

impl<'t, R: Read + Seek> OldView<'t, R> {
    /// Wraps the old image of `size` bytes.
    pub fn new(r: R, size: u64, transform: &'t Transform) -> Self {
        OldView {
            r,
            size,
            slots: Vec::with_capacity(SLOTS),
            clock: 0,
            transform,
            bytes_read: 0,
        }
    }

    /// Bytes of memory held by the view.
    pub fn memory(&self) -> usize {
        self.slots.iter().map(|s| s.data.capacity()).sum()
    }

    /// Fills `buf` with transformed old bytes starting at `pos`.
    pub fn read_at(&mut self, mut pos: u64, mut buf: &mut [u8]) -> Result<()> {
        if pos
            .checked_add(buf.len() as u64)
            .is_none_or(|end| end > self.size)
        {
            return Err(Error::corrupt("patch reads beyond the old image"));
        }
        while !buf.is_empty() {
            let idx = pos / BLOCK as u64;
            let k = self.slot(idx)?;
            let block = &self.slots[k].data;
            let off = (pos - idx * BLOCK as u64) as usize;
            let n = buf.len().min(block.len() - off);
            buf[..n].copy_from_slice(&block[off..off + n]);
            buf = &mut buf[n..];
            pos += n as u64;
        }
        Ok(())
    }

    fn slot(&mut self, idx: u64) -> Result<usize> {
        self.clock += 1;
        if let Some(k) = self.slots.iter().position(|s| s.idx == idx) {
            self.slots[k].used = self.clock;
            return Ok(k);
        }
        let k = if self.slots.len() < SLOTS {
            self.slots.push(Slot {
                idx,
                data: Vec::with_capacity(BLOCK),
                used: 0,
            });
            self.slots.len() - 1
        } else {
            (0..SLOTS)
                .min_by_key(|&k| self.slots[k].used)
                .expect("slots")
        };
        let start = idx * BLOCK as u64;
        let len = (self.size - start).min(BLOCK as u64) as usize;
        let slot = &mut self.slots[k];
        slot.idx = u64::MAX;
        slot.data.resize(len, 0);
        self.r.seek(SeekFrom::Start(start))?;
        self.r.read_exact(&mut slot.data).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::WrongOldImage("old image shorter than expected".into())
            } else {
                Error::Io(e)
            }
        })?;
        self.bytes_read += len as u64;
        self.transform.apply_block(&mut slot.data, start);
        slot.idx = idx;
        slot.used = self.clock;
        Ok(k)
    }
}

/// Transforms a whole in-memory image exactly as [`OldView`] would, block by block.
pub fn transform_image(data: &[u8], t: &Transform) -> Vec<u8> {
    let mut out = data.to_vec();
    transform_in_place(&mut out, t);
    out
}

/// [`transform_image`] without a copy.
pub fn transform_in_place(data: &mut [u8], t: &Transform) {
    if t.is_identity() {
        return;
    }
    for (i, chunk) in data.chunks_mut(BLOCK).enumerate() {
        t.apply_block(chunk, (i * BLOCK) as u64);
    }
}
