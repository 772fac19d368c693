//! A small `ota bench delta`, so the harness cannot rot: the server diffs a pair, the bench
//! applies the stored patch and compares the result with the new image. The 1,000 MB runs
//! and their figures are in `docs/benchmarks.md`.

use ota::bench_delta::{DeltaArgs, delta};

/// Incompressible bytes (splitmix64), so only a real delta is small.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_delta_bench_verifies_the_stored_patch() {
    let dir = tempfile::tempdir().unwrap();
    let old = noise(2_000_000, 1);
    let mut new = old.clone();
    new.splice(500_000..500_000, noise(3_000, 2));
    new.drain(1_500_000..1_504_000);
    let (old_path, new_path) = (dir.path().join("old.bin"), dir.path().join("new.bin"));
    std::fs::write(&old_path, &old).unwrap();
    std::fs::write(&new_path, &new).unwrap();
    let report = delta(DeltaArgs {
        old: old_path,
        new: new_path,
        zstd: false,
        own: crate::fixtures::own_server(),
    })
    .await
    .expect("the bench runs");
    assert_eq!(report["verified"], true, "{report:#}");
    assert_eq!(report["new_bytes"], new.len() as u64);
    let patch = report["patch_bytes"].as_u64().unwrap();
    assert!(patch > 3_000 && patch < 20_000, "{report:#}");
    assert!(
        report["server_rss_peak_kib"].as_u64().unwrap() > 0,
        "{report:#}"
    );
}
