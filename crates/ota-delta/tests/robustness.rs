//! Damaged patches and wrong old images must fail cleanly: an error, never a panic, never a
//! wrong output.

mod common;

use common::{apply_vec, noise, opts};
use ota_delta::transform::{AddrMap, Kind, Region, Transform};
use ota_delta::{DiffOptions, Error, Method, diff};
use proptest::prelude::*;

fn sample_patches() -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let old = noise(40_000, 11);
    let mut new = old.clone();
    new.splice(2000..2000, noise(500, 12));
    for i in (5000..30_000).step_by(97) {
        new[i] = new[i].wrapping_add(3);
    }
    let streaming = DiffOptions {
        allow_full_old: false,
        ..opts()
    };
    let mut v = vec![(
        old.clone(),
        new.clone(),
        diff(&old, &new, &streaming).unwrap(),
    )];
    v.push((old.clone(), new.clone(), diff(&old, &new, &opts()).unwrap()));
    // A few scattered bytes: the inline layout of tiny patches.
    let mut few = old.clone();
    for i in [7usize, 9000, 9001, 25_000, 39_999] {
        few[i] ^= 0x5A;
    }
    let p = diff(&old, &few, &opts()).unwrap();
    let h = ota_delta::inspect(&p[..]).unwrap();
    assert_eq!(
        p[h.header_len],
        ota_delta::joined::INLINE,
        "tiny patch not inline"
    );
    v.push((old.clone(), few, p));
    let unrelated = noise(3000, 99);
    v.push((
        old.clone(),
        unrelated.clone(),
        diff(&old, &unrelated, &opts()).unwrap(),
    ));
    // A real executable pair exercises the transform tables; keep it small for debug builds.
    for (_, a, b) in common::shared_pairs()
        .into_iter()
        .filter(|p| p.0 == "orjson-armv7")
    {
        let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
        let p = diff(&a, &b, &streaming).unwrap();
        v.push((a.clone(), b.clone(), p));
        // Full-old patches: transform and code-region tables, absolute-target form, split per
        // section, coded with zstd (format version 4) and with LZMA (version 5).
        let (p, rep) = ota_delta::diff_with_report(&a, &b, &DiffOptions::default()).unwrap();
        let best = rep.iter().min_by_key(|c| c.patch_bytes).unwrap();
        assert_eq!(best.method, ota_delta::Method::LzmaRef, "{rep:?}");
        assert!(best.variant.contains("+abs+"), "{rep:?}");
        assert_eq!(ota_delta::inspect(&p[..]).unwrap().version, 5);
        v.push((a.clone(), b.clone(), p));
        let zstd_only = DiffOptions {
            max_lzma_ref: 0,
            ..DiffOptions::default()
        };
        let p = diff(&a, &b, &zstd_only).unwrap();
        let h = ota_delta::inspect(&p[..]).unwrap();
        assert_eq!((h.method, h.version), (ota_delta::Method::ZstdRef, 4));
        v.push((a, b, p));
    }
    v
}

#[test]
fn flipped_bytes_never_yield_wrong_output() {
    for (old, new, patch) in sample_patches() {
        let step = (patch.len() / 120).max(1);
        for pos in (0..patch.len()).step_by(step) {
            for bit in [0x01u8, 0x80] {
                let mut bad = patch.clone();
                bad[pos] ^= bit;
                match apply_vec(&old, &bad) {
                    Ok((out, _)) => assert_eq!(out, new, "flip at {pos} gave wrong output"),
                    Err(Error::Io(e)) => panic!("unexpected io error {e}"),
                    Err(_) => {}
                }
            }
        }
    }
}

#[test]
fn truncated_patches_fail() {
    for (old, new, patch) in sample_patches() {
        for cut in [0, 3, 10, patch.len() / 2, patch.len() - 2] {
            assert!(apply_vec(&old, &patch[..cut]).is_err(), "cut at {cut}");
        }
        // The end marker is not needed to finish; without it the output must still be right.
        if let Ok((out, _)) = apply_vec(&old, &patch[..patch.len() - 1]) {
            assert_eq!(out, new);
        }
    }
}

#[test]
fn wrong_old_image_is_refused() {
    let old = noise(20_000, 1);
    let mut new = old.clone();
    new[100] = 1;
    let patch = diff(&old, &new, &opts()).unwrap();
    let mut other = old.clone();
    other[19_999] ^= 0xFF;
    match apply_vec(&other, &patch) {
        Err(Error::WrongOldImage(msg)) => assert!(msg.contains("sha256"), "{msg}"),
        r => panic!("expected WrongOldImage, got {r:?}"),
    }
    match apply_vec(&old[..10_000], &patch) {
        Err(Error::WrongOldImage(msg)) => assert!(msg.contains("size"), "{msg}"),
        r => panic!("expected WrongOldImage, got {r:?}"),
    }
}

#[test]
fn not_a_patch_and_future_version() {
    let old = noise(100, 1);
    assert!(matches!(
        apply_vec(&old, b"hello world"),
        Err(Error::NotAPatch)
    ));
    let mut p = diff(&old, &old, &opts()).unwrap();
    p[ota_delta::header::VERSION_OFFSET] = 99;
    assert!(matches!(apply_vec(&old, &p), Err(Error::Unsupported(_))));
}

/// Found by the `delta_apply` fuzz target: a full-old patch whose header announced a few MiB
/// of memory but a new image of 1.75 GiB made the decoder allocate the whole new image up
/// front, although a device checking the header against its limit had accepted it. The
/// header is now refused before anything is allocated.
#[test]
fn a_new_image_larger_than_the_announced_memory_is_refused() {
    use ota_delta::header::{PatchHeader, sha256};
    use ota_delta::zref::{RefCoder, encode_ref};
    let old = noise(4000, 5);
    let mut new = old.clone();
    new[100..120].fill(7);
    let cases = [
        (Method::ZstdRef, RefCoder::Zstd(3), 4),
        (Method::LzmaRef, RefCoder::Lzma(3), 5),
    ];
    for (method, coder, version) in cases {
        let body = encode_ref(&old, &Transform::identity(), &new, coder, &[], None, &[]).unwrap();
        let header = |new_size: u64| PatchHeader {
            version,
            method,
            flags: ota_delta::header::FLAG_NEEDS_FULL_OLD,
            old_size: old.len() as u64,
            new_size,
            old_sha256: sha256(&old),
            new_sha256: sha256(&new),
            apply_memory: 4 << 20,
            header_len: 0,
        };
        let honest = [header(new.len() as u64).encode(), body.clone()].concat();
        assert_eq!(apply_vec(&old, &honest).unwrap().0, new, "{method:?}");
        let lying = [header(0x7000_0000).encode(), body].concat();
        match apply_vec(&old, &lying) {
            Err(Error::Corrupt(m)) => assert!(m.contains("memory the header announces"), "{m}"),
            other => panic!("{method:?}: {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn transform_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Transform::decode(&bytes);
    }

    #[test]
    fn transform_apply_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        va in any::<u64>(),
        lo in any::<u64>(),
        span in any::<u64>(),
        kinds in proptest::collection::vec(1u8..=18, 1..6),
        map in proptest::collection::vec((any::<u64>(), any::<i64>()), 0..8),
    ) {
        let mut map = map;
        map.sort_by_key(|e| e.0);
        map.dedup_by_key(|e| e.0);
        let n = data.len() as u64;
        let regions: Vec<Region> = kinds.iter().enumerate().map(|(i, &k)| {
            let start = n * i as u64 / kinds.len() as u64;
            let end = n * (i as u64 + 1) / kinds.len() as u64;
            Region { start, len: end - start, va: va.wrapping_add(start), kind: kind_of(k) }
        }).collect();
        let mut names: Vec<(u64, i64)> = map.iter().map(|e| (e.0 >> 32, e.1 >> 32)).collect();
        names.dedup_by_key(|e| e.0);
        let names = AddrMap::new(names);
        let t = Transform { regions, lo, hi: lo.saturating_add(span), map: AddrMap::new(map), names };
        let mut enc = Vec::new();
        t.encode(&mut enc);
        let t2 = Transform::decode(&enc).unwrap();
        prop_assert_eq!(&t, &t2);
        let mut block = data.clone();
        t.apply_block(&mut block, 0);
        prop_assert_eq!(block.len(), data.len());
    }
}

fn kind_of(k: u8) -> Kind {
    let mut v = Vec::new();
    Transform::decode(&[1, k, 0, 1, 0, 0, 0, 0, 0])
        .map(|t| v.push(t.regions[0].kind))
        .unwrap();
    v[0]
}

/// Old image, new image, patch, and the patch's header length.
type Sample = (Vec<u8>, Vec<u8>, Vec<u8>, usize);

/// Every sample patch, built once.
fn samples() -> &'static [Sample] {
    static SAMPLES: std::sync::OnceLock<Vec<Sample>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(|| {
        sample_patches()
            .into_iter()
            .map(|(o, n, p)| {
                let h = ota_delta::inspect(&p[..]).unwrap().header_len;
                (o, n, p, h)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    /// Several bytes of a body overwritten at once (the header has its own checksum): the
    /// decoders of every method, including LZMA frames, fail cleanly or still rebuild the
    /// exact new image.
    #[test]
    fn overwritten_body_bytes_never_panic_or_mislead(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let (old, new, patch, header) = which.get(samples());
        let mut bad = patch.clone();
        let body = bad.len() - header;
        for (at, byte) in &edits {
            bad[header + at.index(body)] = *byte;
        }
        match apply_vec(old, &bad) {
            Ok((out, _)) => prop_assert!(&out == new, "wrong output"),
            Err(Error::Io(e)) => prop_assert!(false, "unexpected io error {e}"),
            Err(_) => {}
        }
    }
}
