//! Apply memory is bounded by design and independent of the image size.

mod common;

use common::{apply_vec, noise};
use ota_delta::{DiffOptions, Method, diff, inspect};

const LIMIT: usize = 1 << 20;

fn image(len: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let old = noise(len, seed);
    let mut new = old.clone();
    for i in (0..len).step_by(4099) {
        new[i] = new[i].wrapping_add(1);
    }
    new.splice(len / 3..len / 3, noise(20_000, seed + 1));
    (old, new)
}

#[test]
fn streaming_apply_memory_is_bounded_and_size_independent() {
    let opts = DiffOptions {
        allow_full_old: false,
        level: 3,
        ..DiffOptions::default()
    };
    let mut seen = Vec::new();
    for len in [150_000usize, 3_000_000] {
        let (old, new) = image(len, len as u64);
        let patch = diff(&old, &new, &opts).unwrap();
        let h = inspect(&patch[..]).unwrap();
        assert_eq!(h.method, Method::Bsd);
        let (out, rep) = apply_vec(&old, &patch).unwrap();
        assert_eq!(out, new);
        assert!(
            rep.working_memory <= LIMIT,
            "{} > 1 MiB",
            rep.working_memory
        );
        assert!(h.apply_memory as usize <= LIMIT);
        seen.push(rep.working_memory);
    }
    // Within 10 % of each other although the image grew 20×.
    let (a, b) = (seen[0] as f64, seen[1] as f64);
    assert!((b / a) < 1.1, "memory grew with image size: {seen:?}");
}

#[test]
fn real_pair_streaming_memory() {
    for (name, a, b) in common::shared_pairs() {
        let (old, new) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        let opts = DiffOptions {
            allow_full_old: false,
            level: 3,
            ..DiffOptions::default()
        };
        let patch = diff(&old, &new, &opts).unwrap();
        let (out, rep) = apply_vec(&old, &patch).unwrap();
        assert_eq!(out, new);
        eprintln!(
            "{name}: {:?} working memory {} bytes",
            rep.method, rep.working_memory
        );
        if rep.method == Method::Bsd {
            assert!(
                rep.working_memory <= LIMIT,
                "{name}: {}",
                rep.working_memory
            );
        }
    }
}

#[test]
fn full_old_patches_announce_the_memory_apply_uses() {
    // Full-old methods measure their decoder once at diff time; the header's rounded-up
    // figure must cover what apply then reports, and not by more than the rounding.
    let zstd_only = DiffOptions {
        max_lzma_ref: 0,
        ..DiffOptions::default()
    };
    let Some((name, a, b)) = common::shared_pairs()
        .into_iter()
        .find(|p| p.0 == "orjson-armv7")
    else {
        eprintln!("orjson-armv7 pair not found; skipping");
        return;
    };
    let (old, new) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    for (opts, want) in [
        (DiffOptions::default(), Method::LzmaRef),
        (zstd_only, Method::ZstdRef),
    ] {
        let patch = diff(&old, &new, &opts).unwrap();
        let h = inspect(&patch[..]).unwrap();
        assert_eq!(h.method, want, "{name}");
        let (out, r) = apply_vec(&old, &patch).unwrap();
        assert_eq!(out, new);
        let used = r.working_memory as u64;
        assert!(used <= h.apply_memory, "{name}: {r:?} {h:?}");
        assert!(h.apply_memory <= used + used / 8 + 1, "{name}: {r:?} {h:?}");
    }
}
