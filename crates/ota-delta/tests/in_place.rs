//! Format version 3: stored streams of the `Bsd` method are in place (no packet framing), so a
//! patch made mostly of incompressible literals (like OVMF's LZMA volume) costs the literals
//! plus a few bytes instead of 3 bytes per 8 KiB packet on top.

mod common;

use common::{apply_vec, noise, opts};
use ota_delta::container::{Coding, read_stream_table};
use ota_delta::header::{FORMAT_VERSION, VERSION_OFFSET};
use ota_delta::{DiffOptions, Error, Method, diff, inspect};

const INSERTED: usize = 200_000;

/// Old image, new image with 200 kB of incompressible bytes inserted, streaming patch.
fn sample() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let old = noise(100_000, 21);
    let mut new = old.clone();
    new.splice(50_000..50_000, noise(INSERTED, 22));
    new[80_000] ^= 0x10;
    let streaming = DiffOptions {
        allow_full_old: false,
        ..opts()
    };
    let patch = diff(&old, &new, &streaming).unwrap();
    (old, new, patch)
}

#[test]
fn incompressible_extra_is_in_place_without_framing() {
    let (old, new, patch) = sample();
    let h = inspect(&patch[..]).unwrap();
    assert_eq!(h.method, Method::Bsd);
    let codings = read_stream_table(&mut &patch[h.header_len..]).unwrap();
    assert_eq!(codings.len(), 4, "{codings:?}");
    assert_eq!(codings[2], Coding::InPlace, "{codings:?}");
    // Table, control, one difference run and the end marker: a few dozen bytes. With 8 KiB
    // packets the literals alone would add 25 × 3 bytes of framing.
    let overhead = patch.len() - h.header_len - INSERTED;
    assert!(overhead < 40, "overhead {overhead} bytes");
    let (out, rep) = apply_vec(&old, &patch).unwrap();
    assert_eq!(out, new);
    // No packet buffer for the in-place literals.
    assert!(
        rep.working_memory < 128 * 1024,
        "{} bytes",
        rep.working_memory
    );
}

#[test]
fn damaged_in_place_patches_are_refused() {
    let (old, new, patch) = sample();
    let h = inspect(&patch[..]).unwrap();
    let body = h.header_len;
    let check = |bad: &[u8], what: &str| match apply_vec(&old, bad) {
        Ok((out, _)) => assert_eq!(out, new, "{what}: wrong output"),
        Err(Error::Io(e)) => panic!("{what}: unexpected io error {e}"),
        Err(_) => {}
    };
    // Flips anywhere, including inside the in-place literals: an error or the right output.
    for pos in (0..patch.len()).step_by(997) {
        let mut bad = patch.clone();
        bad[pos] ^= 0x04;
        check(&bad, &format!("flip at {pos}"));
    }
    // A flipped literal is caught by the output digest.
    let mut bad = patch.clone();
    bad[body + 1000] ^= 0x01;
    assert!(matches!(
        apply_vec(&old, &bad),
        Err(Error::OutputMismatch { .. })
    ));
    // One literal byte missing or added shifts everything after it: refused, never written as
    // good output.
    for (i, edit) in [(-1i32), 1].into_iter().enumerate() {
        let mut bad = patch.clone();
        if edit < 0 {
            bad.remove(body + 50_000);
        } else {
            bad.insert(body + 50_000, 0xA5);
        }
        assert!(apply_vec(&old, &bad).is_err(), "edit {i}");
    }
    // Truncated inside the literals.
    for cut in [body + 10, body + 100_000, patch.len() - 30] {
        assert!(apply_vec(&old, &patch[..cut]).is_err(), "cut at {cut}");
    }
    // A stream table mixing in-place with a streaming zstd stream is refused up front.
    let mut bad = patch.clone();
    assert_eq!(bad[body], 4);
    bad[body + 1] = 1;
    bad.insert(body + 2, 18);
    match apply_vec(&old, &bad) {
        Err(Error::Corrupt(msg)) => assert!(msg.contains("in-place"), "{msg}"),
        r => panic!("mixed table: expected Corrupt, got {r:?}"),
    }
    // Unknown coding.
    let mut bad = patch.clone();
    bad[body + 3] = 4;
    assert!(matches!(apply_vec(&old, &bad), Err(Error::Unsupported(_))));
}

#[test]
fn versions_other_than_4_and_5_are_refused_as_unsupported() {
    assert_eq!(FORMAT_VERSION, 5);
    for v in [2u8, 3, 6] {
        let (old, _, mut patch) = sample();
        patch[VERSION_OFFSET] = v;
        match apply_vec(&old, &patch) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains(&format!("version {v}")), "{msg}"),
            r => panic!("expected Unsupported, got {r:?}"),
        }
    }
}
