//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ota_delta::{ApplyReport, DiffOptions, Result, apply, diff};
use std::io::Cursor;
use std::path::PathBuf;

/// Fast options for tests (lower zstd level; everything else as default).
pub fn opts() -> DiffOptions {
    DiffOptions {
        level: 3,
        ..DiffOptions::default()
    }
}

/// Applies `patch` to `old` in memory.
pub fn apply_vec(old: &[u8], patch: &[u8]) -> Result<(Vec<u8>, ApplyReport)> {
    let mut out = Vec::new();
    let r = apply(Cursor::new(old), patch, &mut out)?;
    Ok((out, r))
}

/// Diffs and applies, asserting the round trip.
pub fn roundtrip(old: &[u8], new: &[u8]) -> (Vec<u8>, ApplyReport) {
    let patch = diff(old, new, &opts()).expect("diff");
    let (out, rep) = apply_vec(old, &patch).expect("apply");
    assert!(out == new, "round trip differs");
    (patch, rep)
}

/// The directory of the shared real firmware pairs: `OTA_FIRMWARE_PAIRS` if set, else
/// `shared/data/firmware-pairs` beside the checkout, else under `/work` (a clone elsewhere,
/// such as CI's, still finds them). A directory that does not exist is returned as is, so
/// tests that need a pair skip it.
pub fn pairs_dir() -> PathBuf {
    let beside =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/firmware-pairs");
    std::env::var_os("OTA_FIRMWARE_PAIRS")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            beside.clone(),
            PathBuf::from("/work/shared/data/firmware-pairs"),
        ])
        .find(|d| d.is_dir())
        .unwrap_or(beside)
}

/// The shared real firmware pairs, if present.
pub fn shared_pairs() -> Vec<(String, PathBuf, PathBuf)> {
    let dir = pairs_dir();
    let pairs = [
        (
            "orjson-armv7",
            "orjson-armv7-3.10.6.so",
            "orjson-armv7-3.10.7.so",
        ),
        ("slof", "slof-deb12u15.bin", "slof-deb12u18.bin"),
        ("ovmf", "ovmf-code-4m-deb12u1.fd", "ovmf-code-4m-deb12u2.fd"),
    ];
    pairs
        .iter()
        .map(|(n, a, b)| (n.to_string(), dir.join(a), dir.join(b)))
        .filter(|(_, a, b)| a.is_file() && b.is_file())
        .collect()
}

/// The unit tests' deterministic pseudo-random bytes, shared with the integration tests.
#[path = "../src/test_noise.rs"]
mod test_noise;
pub use test_noise::noise;
