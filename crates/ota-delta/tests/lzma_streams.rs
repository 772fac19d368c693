//! The `LzmaStreams` method: images embedding LZMA-alone streams are diffed expanded and
//! rebuilt exactly; damaged patches fail cleanly.

mod common;

use common::{apply_vec, noise, opts};
use lzma_rust2::{LzmaOptions, LzmaWriter};
use ota_delta::{Error, Method, diff_with_report, inspect};
use std::io::Write;

fn text(n: usize, seed: usize) -> Vec<u8> {
    let words = [
        "volume ",
        "driver ",
        "PciBus\n",
        "0x1F00 ",
        "Dxe ",
        "firmware ",
        "table ",
    ];
    let mut out = Vec::new();
    let mut i = seed;
    while out.len() < n {
        out.extend_from_slice(words[(i * 7 + i / 5) % words.len()].as_bytes());
        out.extend_from_slice(format!("{} ", i % 1000).as_bytes());
        i += 1;
    }
    out.truncate(n);
    out
}

fn alone(data: &[u8]) -> Vec<u8> {
    let o = LzmaOptions::with_preset(6);
    let mut out = Vec::new();
    let mut w = LzmaWriter::new_use_header(&mut out, &o, Some(data.len() as u64)).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap();
    out
}

/// An image: header bytes, an LZMA-alone stream of `plain`, trailing bytes.
fn image(head: &[u8], plain: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut v = head.to_vec();
    v.extend_from_slice(&alone(plain));
    v.extend_from_slice(tail);
    v
}

fn synthetic_pair() -> (Vec<u8>, Vec<u8>) {
    let mut plain = text(150_000, 0);
    plain.extend_from_slice(&noise(30_000, 5));
    plain.extend_from_slice(&text(100_000, 77));
    let old = image(&noise(3000, 1), &plain, &noise(2000, 2));
    let mut edited = plain.clone();
    edited[10_000..10_004].copy_from_slice(b"EDIT");
    edited.splice(200_000..200_000, b"inserted words ".iter().copied());
    edited.drain(250_000..250_040);
    let mut head = noise(3000, 1);
    head[17] ^= 0xFF;
    let new = image(&head, &edited, &noise(2000, 2));
    (old, new)
}

#[test]
fn synthetic_image_with_an_edited_stream() {
    let (old, new) = synthetic_pair();
    let (patch, rep) = diff_with_report(&old, &new, &opts()).unwrap();
    let h = inspect(&patch[..]).unwrap();
    assert_eq!((h.method, h.version), (Method::LzmaStreams, 5), "{rep:?}");
    assert!(h.needs_full_old());
    let others = rep.iter().filter(|c| c.method != Method::LzmaStreams);
    let best_other = others.map(|c| c.patch_bytes).min().unwrap();
    assert!(patch.len() * 4 < best_other, "{rep:?}");
    let (out, r) = apply_vec(&old, &patch).unwrap();
    assert!(out == new);
    assert_eq!(r.method, Method::LzmaStreams);
    assert!(r.working_memory as u64 <= h.apply_memory, "{r:?} {h:?}");
}

#[test]
fn images_without_streams_get_no_candidate() {
    let old = noise(50_000, 3);
    let mut new = old.clone();
    new[100] ^= 1;
    let (_, rep) = diff_with_report(&old, &new, &opts()).unwrap();
    assert!(
        rep.iter().all(|c| c.method != Method::LzmaStreams),
        "{rep:?}"
    );
    // A stream in the new image only: nothing to expand against.
    let new = image(&old[..1000], &text(20_000, 3), &[]);
    let (_, rep) = diff_with_report(&old, &new, &opts()).unwrap();
    assert!(
        rep.iter().all(|c| c.method != Method::LzmaStreams),
        "{rep:?}"
    );
}

#[test]
fn damaged_patches_never_yield_wrong_output() {
    let (old, new) = synthetic_pair();
    let (patch, _) = diff_with_report(&old, &new, &opts()).unwrap();
    let step = (patch.len() / 150).max(1);
    for pos in (0..patch.len()).step_by(step) {
        for bit in [0x01u8, 0x80] {
            let mut bad = patch.clone();
            bad[pos] ^= bit;
            match apply_vec(&old, &bad) {
                Ok((out, _)) => assert!(out == new, "flip at {pos} gave wrong output"),
                Err(Error::Io(e)) => panic!("unexpected io error {e}"),
                Err(_) => {}
            }
        }
    }
    for cut in [0, 3, 90, 100, 110, patch.len() / 2, patch.len() - 1] {
        assert!(apply_vec(&old, &patch[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn ovmf_pair_round_trips_with_lzma_streams() {
    let dir = common::pairs_dir();
    let (Ok(old), Ok(new)) = (
        std::fs::read(dir.join("ovmf-code-4m-deb12u1.fd")),
        std::fs::read(dir.join("ovmf-code-4m-deb12u2.fd")),
    ) else {
        eprintln!("skipping: OVMF pair not present");
        return;
    };
    let (patch, rep) = diff_with_report(&old, &new, &opts()).unwrap();
    let h = inspect(&patch[..]).unwrap();
    assert_eq!(h.method, Method::LzmaStreams, "{rep:?}");
    assert!(patch.len() < 400_000, "{rep:?}");
    let (out, r) = apply_vec(&old, &patch).unwrap();
    assert!(out == new);
    assert!(r.working_memory as u64 <= h.apply_memory, "{r:?} {h:?}");
}
