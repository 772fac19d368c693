//! Matching for images too large for a suffix array: a sampled hash index of the old image.
//!
//! Why: a suffix array takes four bytes per old byte to hold and the better part of a minute
//! per hundred mebibytes to build, so a 1,000 MB image cost gigabytes and half an hour when
//! it was matched in suffix-array windows. Images that large change the way filesystem and
//! disk images do: long unchanged runs between edits, moved files, appended data. Such runs
//! are found as well by sampling: the index keeps one old position every [`STRIDE`] bytes,
//! keyed by a hash of the [`SEED`] bytes there, and any run of at least `SEED + STRIDE - 1`
//! equal bytes contains a sampled position (the same principle as zstd's long-distance
//! matcher and rsync's rolling blocks). The index takes a quarter of a byte per old byte and
//! builds at memory speed; the matcher extends what it finds byte by byte in both directions,
//! so edits inside a run cost only their own bytes.

use crate::matcher::{Finder, match_len};

/// Bytes hashed per sampled position: the shortest match the index can find.
pub const SEED: usize = 32;
/// Distance between sampled old positions.
pub const STRIDE: usize = 16;

const EMPTY: u32 = u32::MAX;

/// Sampled positions of an old image, by the hash of the [`SEED`] bytes at each.
pub struct SeedIndex {
    table: Vec<u32>,
    shift: u32,
}

impl SeedIndex {
    /// Indexes every [`STRIDE`]th position of `old`; where two positions share a slot the
    /// earlier one is kept, so a run that repeats (padding, zeros) is found at its first copy.
    ///
    /// # Panics
    /// If `old` is 4 GiB or larger (positions are `u32`).
    pub fn build(old: &[u8]) -> SeedIndex {
        assert!(
            old.len() < EMPTY as usize,
            "old image too large for u32 positions"
        );
        let samples = old.len().saturating_sub(SEED) / STRIDE + 1;
        let slots = samples.next_power_of_two().max(1 << 10);
        let bits = slots.trailing_zeros();
        let mut index = SeedIndex {
            table: vec![EMPTY; slots],
            shift: 64 - bits,
        };
        if old.len() < SEED {
            return index;
        }
        let last = (old.len() - SEED) / STRIDE * STRIDE;
        for pos in (0..=last).rev().step_by(STRIDE) {
            let slot = index.slot(&old[pos..pos + SEED]);
            index.table[slot] = pos as u32;
        }
        index
    }

    /// Memory held by the index, in bytes.
    pub fn memory(&self) -> usize {
        self.table.len() * std::mem::size_of::<u32>()
    }

    fn slot(&self, seed: &[u8]) -> usize {
        let mut h = 0u64;
        for word in seed.chunks_exact(8) {
            let w = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            h = (h ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(27);
        }
        (h.wrapping_mul(0xFF51_AFD7_ED55_8CCD) >> self.shift) as usize
    }
}

impl Finder for SeedIndex {
    /// The longer of the match at `hint` (the current alignment continued) and the match at
    /// the sampled position whose seed hashes like the needle's first [`SEED`] bytes.
    fn find(&self, old: &[u8], needle: &[u8], hint: usize) -> (usize, usize) {
        let mut best = (0, 0);
        if hint < old.len() {
            best = (hint, match_len(&old[hint..], needle));
        }
        if needle.len() >= SEED {
            let pos = self.table[self.slot(&needle[..SEED])];
            if pos != EMPTY && pos as usize != hint {
                let len = match_len(&old[pos as usize..], needle);
                if len >= SEED && len > best.1 {
                    best = (pos as usize, len);
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_noise::noise;

    #[test]
    fn finds_every_run_of_seed_plus_stride_bytes() {
        let old = noise(50_000, 1);
        let index = SeedIndex::build(&old);
        for start in [0, 1, 7, 15, 16, 17, 12_345, 50_000 - SEED - STRIDE] {
            // The matcher looks up every position of a run in turn: within one stride, one of
            // them is sampled.
            let run = &old[start..start + SEED + STRIDE - 1];
            let found = (0..STRIDE).find_map(|k| {
                let (pos, len) = index.find(&old, &run[k..], usize::MAX);
                (len >= SEED).then_some((k, pos, len))
            });
            let (k, pos, len) = found.unwrap_or_else(|| panic!("run at {start} not found"));
            assert_eq!((pos, len), (start + k, run.len() - k));
        }
    }

    #[test]
    fn prefers_the_hinted_alignment_when_it_matches_longer() {
        let mut old = noise(4_096, 2);
        old.extend_from_within(..2_048);
        let index = SeedIndex::build(&old);
        // 96 and 4,192 are both sampled; the earlier is indexed.
        let needle = &old[96..1_096];
        assert_eq!(index.find(&old, needle, 4_096 + 96), (4_192, 1_000));
        assert_eq!(index.find(&old, needle, 4_096 + 97), (96, 1_000));
    }

    #[test]
    fn unrelated_bytes_find_nothing() {
        let old = noise(10_000, 3);
        let index = SeedIndex::build(&old);
        let needle = noise(200, 4);
        assert_eq!(index.find(&old, &needle, usize::MAX), (0, 0));
        assert_eq!(
            SeedIndex::build(&old[..10]).find(&old[..10], &needle, 0).1,
            0
        );
    }
}
