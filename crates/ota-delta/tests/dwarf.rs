//! `ZstdRef` (format version 4) and `LzmaRef` (version 5) may predict the old image's DWARF
//! fields (`.debug_info` references, `.debug_ranges` pairs) and may code the new image in
//! pieces, each against its own part of the old image (split form). Round trips on a real pair
//! with debug information and on random bytes.

mod common;

use common::noise;
use ota_delta::DiffOptions;
use ota_delta::Error;
use ota_delta::Method;
use ota_delta::oldview::transform_image;
use ota_delta::transform::Transform;
use ota_delta::transform::{self, absolute, dwarf::Dwarf, elf};
use ota_delta::zref::{self, Piece, RefCoder};

#[test]
fn real_pair_with_debug_info_roundtrips_through_the_dwarf_prediction() {
    let dir = std::path::Path::new("/work/delta-pairs/rpds-x86_64");
    let (Ok(old), Ok(new)) = (
        std::fs::read(dir.join("old")),
        std::fs::read(dir.join("new")),
    ) else {
        eprintln!("rpds pair not found; skipping");
        return;
    };
    let t = transform::candidates(&old, &new, &DiffOptions::default())
        .pop()
        .expect("a transform")
        .1;
    let d = Dwarf::for_pair(&old, &new, &t, 128 << 20).expect("debug info");
    assert!(d.offs.len() > 100, "offset map learned");
    let old_t = transform_image(&old, &t);
    let code: Vec<_> = elf::parse(&new)
        .unwrap()
        .regions(&new)
        .into_iter()
        .filter(|r| absolute::handles(r.kind))
        .collect();
    let pieces = zref::elf_pieces(&old, &new);
    assert!(pieces.len() > 10, "one piece per large section");
    let split = zref::encode_ref(
        &old_t,
        &t,
        &new,
        RefCoder::Zstd(3),
        &code,
        Some(&d),
        &pieces,
    )
    .unwrap();
    let with = zref::encode_ref(&old_t, &t, &new, RefCoder::Zstd(3), &code, Some(&d), &[]).unwrap();
    let without = zref::encode_ref(&old_t, &t, &new, RefCoder::Zstd(3), &code, None, &[]).unwrap();
    let lzma = zref::encode_ref(&old_t, &t, &new, RefCoder::Lzma(3), &code, Some(&d), &[]).unwrap();
    eprintln!(
        "level 3: {} bytes with DWARF prediction, {} without",
        with.len(),
        without.len()
    );
    // Size is not asserted: at level 3 the prediction does not pay (at level 22, the level
    // `diff` uses, it saves about 63 KB on this pair); `diff` keeps whichever is smaller.
    let bodies = [
        (Method::ZstdRef, with),
        (Method::ZstdRef, without),
        (Method::ZstdRef, split),
        (Method::LzmaRef, lzma),
    ];
    for (method, body) in bodies {
        let mut out = Vec::new();
        zref::apply_ref(method, &old, &mut &body[..], new.len() as u64, &mut out).unwrap();
        assert!(out == new, "round trip");
    }
}

#[test]
fn split_form_roundtrips_on_random_bytes_and_rejects_bad_pieces() {
    let t = Transform::identity();
    for seed in 1..20u64 {
        let old = noise(20_000 + seed as usize * 37, seed);
        let mut new = old[5_000..].to_vec();
        new.extend_from_slice(&noise(3_000, seed + 100));
        new.extend_from_slice(&old[..4_000]);
        let n = new.len() as u64;
        let a = 1 + seed * 97 % (n - 2);
        let pieces = [
            Piece {
                new_len: a,
                ref_start: 0,
                ref_len: old.len() as u64,
            },
            Piece {
                new_len: 0,
                ref_start: 7,
                ref_len: 0,
            },
            Piece {
                new_len: n - a,
                ref_start: seed * 11,
                ref_len: 9_000,
            },
        ];
        for (coder, method) in [
            (RefCoder::Zstd(3), Method::ZstdRef),
            (RefCoder::Lzma(3), Method::LzmaRef),
        ] {
            let body = zref::encode_ref(&old, &t, &new, coder, &[], None, &pieces).unwrap();
            let mut out = Vec::new();
            zref::apply_ref(method, &old, &mut &body[..], n, &mut out).unwrap();
            assert!(out == new, "seed {seed} {method:?}");
            // A wrong total length is refused, not mis-decoded.
            let mut out = Vec::new();
            let r = zref::apply_ref(method, &old, &mut &body[..], n + 1, &mut out);
            assert!(matches!(r, Err(Error::Corrupt(_))), "{r:?}");
        }
        // A reference outside the old image cannot be encoded.
        let bad = [Piece {
            new_len: n,
            ref_start: old.len() as u64 - 10,
            ref_len: 11,
        }];
        assert!(zref::encode_ref(&old, &t, &new, RefCoder::Zstd(3), &[], None, &bad).is_err());
    }
}
