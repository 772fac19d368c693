//! The large-image path: pairs above the suffix-array limit, with the new image read in
//! slices. Tiny limits and slices stand in for 128 MiB and 64 MiB so that edits fall on both
//! sides of slice boundaries.

mod common;

use common::{apply_vec, noise};
use ota_delta::{DiffOptions, Method, diff, diff_reader, diff_with_report, inspect, is_large};
use proptest::prelude::*;
use std::io::Cursor;

fn large_opts() -> DiffOptions {
    DiffOptions {
        max_window: 16 * 1024,
        large_slice: 8 * 1024,
        ..common::opts()
    }
}

/// Diffs with the large path, checks the round trip and returns the patch.
fn roundtrip_large(old: &[u8], new: &[u8]) -> Vec<u8> {
    let opts = large_opts();
    assert!(is_large(old.len(), new.len() as u64, &opts));
    let patch = diff(old, new, &opts).expect("diff");
    let (out, _) = apply_vec(old, &patch).expect("apply");
    assert!(out == new, "round trip differs");
    patch
}

#[test]
fn edits_across_slices_cost_their_own_bytes() {
    let old = noise(200_000, 5);
    let mut new = old.clone();
    new.splice(150_000..150_010, noise(40, 6)); // replace
    new.drain(20_000..20_100); // delete
    new.splice(8_190..8_190, noise(30, 7)); // insert on a slice boundary
    new.extend_from_slice(&old[1_000..5_000]); // a moved copy appended
    let patch = roundtrip_large(&old, &new);
    let h = inspect(&patch[..]).unwrap();
    assert_eq!(h.method, Method::Bsd);
    assert!(!h.needs_full_old());
    assert!(patch.len() < 2_000, "patch {} bytes", patch.len());
}

#[test]
fn repeated_runs_and_zeros_match_without_blowing_up() {
    let mut old = vec![0u8; 50_000];
    old.extend(b"abcdefgh".repeat(10_000));
    old.extend(noise(30_000, 8));
    let mut new = old.clone();
    new[10_000] = 1;
    new[60_000] = b'z';
    new.splice(100_000..100_000, vec![0u8; 5_000]);
    let patch = roundtrip_large(&old, &new);
    assert!(patch.len() < 1_000, "patch {} bytes", patch.len());
}

#[test]
fn unrelated_images_fall_back_to_plain_compression() {
    let old = noise(40_000, 9);
    let new = b"firmware text that compresses well ".repeat(1_500);
    let (patch, report) = diff_with_report(&old, &new, &large_opts()).unwrap();
    assert!(report.iter().any(|c| c.method == Method::Raw));
    assert_eq!(inspect(&patch[..]).unwrap().method, Method::Raw);
    assert_eq!(apply_vec(&old, &patch).unwrap().0, new);
}

#[test]
fn reading_the_new_image_gives_the_same_patch_as_memory() {
    let old = noise(100_000, 10);
    let mut new = old.clone();
    new.splice(70_000..70_000, noise(500, 11));
    let opts = large_opts();
    let from_memory = diff(&old, &new, &opts).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &new).unwrap();
    let from_file = diff_reader(&old, &mut file, new.len() as u64, &opts).unwrap();
    assert_eq!(from_file, from_memory);
    // A small pair read from a reader takes the suffix-array path, as `diff` would.
    let small = &new[..10_000];
    let from_reader = diff_reader(&old[..12_000], &mut Cursor::new(small), 10_000, &opts).unwrap();
    assert_eq!(from_reader, diff(&old[..12_000], small, &opts).unwrap());
}

#[test]
fn empty_images() {
    let x = noise(20_000, 12);
    roundtrip_large(&x, &[]);
    roundtrip_large(&[], &x);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_edits_round_trip(
        seed in 0u64..1_000,
        edits in proptest::collection::vec((0usize..60_000, 0usize..3, 1usize..600), 0..12),
    ) {
        let old = noise(60_000, seed + 1);
        let mut new = old.clone();
        for (at, kind, n) in edits {
            let at = at.min(new.len());
            let end = (at + n).min(new.len());
            match kind {
                0 => { new.splice(at..end, noise(n, seed + n as u64)); }
                1 => { new.splice(at..at, noise(n, seed + 7)); }
                _ => { new.drain(at..end); }
            }
        }
        roundtrip_large(&old, &new);
    }
}
