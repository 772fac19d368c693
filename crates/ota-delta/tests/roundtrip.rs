//! Round trips: diff then apply reproduces NEW exactly, for random, edge-case and real inputs.

mod common;

use common::{noise, roundtrip, shared_pairs};
use ota_delta::{DiffOptions, Method, apply, diff, inspect};
use proptest::prelude::*;
use std::io::Cursor;

#[test]
fn empty_and_identical_inputs() {
    let x = noise(5000, 7);
    roundtrip(&[], &[]);
    roundtrip(&[], &x);
    roundtrip(&x, &[]);
    roundtrip(&x, &x);
    roundtrip(b"a", b"a");
    roundtrip(b"a", b"b");
}

#[test]
fn identical_large_input_is_tiny() {
    let x = noise(300_000, 3);
    let (patch, _) = roundtrip(&x, &x);
    assert!(
        patch.len() < 200,
        "identical 300 kB gave {} bytes",
        patch.len()
    );
}

#[test]
fn header_describes_patch() {
    let old = noise(10_000, 1);
    let mut new = old.clone();
    new[5000] ^= 1;
    let patch = diff(&old, &new, &common::opts()).unwrap();
    let h = inspect(&patch[..]).unwrap();
    assert_eq!(h.old_size, 10_000);
    assert_eq!(h.new_size, 10_000);
    assert_eq!(h.old_sha256, ota_delta::header::sha256(&old));
    assert_eq!(h.new_sha256, ota_delta::header::sha256(&new));
    assert!(h.apply_memory > 0);
}

#[test]
fn streaming_only_when_full_old_disallowed() {
    let old = noise(50_000, 9);
    let mut new = old.clone();
    new.splice(1000..1000, noise(300, 2));
    let opts = DiffOptions {
        allow_full_old: false,
        ..common::opts()
    };
    let patch = diff(&old, &new, &opts).unwrap();
    let h = inspect(&patch[..]).unwrap();
    assert!(!h.needs_full_old());
    assert!(![Method::ZstdRef, Method::LzmaRef].contains(&h.method));
    let mut out = Vec::new();
    apply(Cursor::new(&old), &patch[..], &mut out).unwrap();
    assert_eq!(out, new);
}

#[test]
fn real_pairs_roundtrip() {
    let pairs = shared_pairs();
    if pairs.is_empty() {
        eprintln!("shared firmware pairs not found; skipping");
        return;
    }
    for (name, a, b) in pairs {
        let old = std::fs::read(a).unwrap();
        let new = std::fs::read(b).unwrap();
        let (patch, rep) = roundtrip(&old, &new);
        eprintln!("{name}: {} bytes via {:?}", patch.len(), rep.method);
        // Reverse direction too.
        roundtrip(&new, &old);
    }
}

fn mutate(base: &[u8], edits: &[(u16, u8, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for &(pos, kind, val) in edits {
        if v.is_empty() {
            v.push(val);
            continue;
        }
        let p = pos as usize % v.len();
        match kind % 4 {
            0 => v[p] = val,
            1 => v.insert(p, val),
            2 => {
                v.remove(p);
            }
            _ => {
                let end = (p + val as usize).min(v.len());
                let chunk = v[p..end].to_vec();
                v.splice(p..p, chunk);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn random_edits_roundtrip(
        base in proptest::collection::vec(any::<u8>(), 0..3000),
        edits in proptest::collection::vec((any::<u16>(), any::<u8>(), any::<u8>()), 0..20),
    ) {
        let new = mutate(&base, &edits);
        roundtrip(&base, &new);
    }

    #[test]
    fn unrelated_inputs_roundtrip(
        a in proptest::collection::vec(any::<u8>(), 0..2000),
        b in proptest::collection::vec(any::<u8>(), 0..2000),
    ) {
        roundtrip(&a, &b);
    }

    #[test]
    fn low_entropy_inputs_roundtrip(
        a in proptest::collection::vec(0u8..3, 0..4000),
        b in proptest::collection::vec(0u8..3, 0..4000),
    ) {
        roundtrip(&a, &b);
    }
}

#[test]
fn header_memory_is_an_upper_bound_within_an_eighth() {
    use ota_delta::header::{decode_memory, encode_memory};
    for v in [
        1u64,
        7,
        8,
        9,
        300_000,
        1 << 20,
        (1 << 20) + 1,
        13_826_048,
        u32::MAX as u64,
    ] {
        let d = decode_memory(encode_memory(v));
        assert!(d >= v && d <= v + v / 8 + 8, "{v} -> {d}");
    }
}

#[test]
fn version_1_patches_are_refused_as_unsupported() {
    let old = common::noise(100, 1);
    let mut p = b"OTAD".to_vec();
    p.extend_from_slice(&[1, 1, 0, 100, 100]);
    p.extend_from_slice(&[0; 69]);
    assert!(matches!(
        common::apply_vec(&old, &p),
        Err(ota_delta::Error::Unsupported(_))
    ));
}

#[test]
fn progress_rises_to_100() {
    use std::sync::{Arc, Mutex};
    let old: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut new = old.clone();
    new[1000..1200].fill(7);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let opts = ota_delta::DiffOptions {
        progress: Some(ota_delta::DiffProgress(Arc::new(move |p| {
            sink.lock().unwrap().push(p)
        }))),
        ..Default::default()
    };
    ota_delta::diff(&old, &new, &opts).unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&100));
}
