//! A small `ota bench reads`, so the harness cannot rot: every read answers (a failed one
//! fails the bench) and is timed. The large runs and their figures are in
//! `docs/benchmarks.md`.

use ota::bench_reads::{ReadsArgs, reads};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_reads_bench_times_every_read() {
    let report = reads(ReadsArgs {
        devices: 2_000,
        requests: 3,
        own: crate::fixtures::own_server(),
    })
    .await
    .expect("the bench runs");
    assert_eq!(report["tasks"], 2_000, "{report:#}");
    let timed = report["reads"].as_array().expect("reads");
    assert!(timed.len() >= 19, "{report:#}");
    for read in timed {
        let p50 = read["ms_p50"].as_f64().unwrap();
        let p95 = read["ms_p95"].as_f64().unwrap();
        assert!(p50 > 0.0 && p95 >= p50, "{read}");
    }
}
