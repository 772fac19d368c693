//! A small `ota bench batch`, so the harness cannot rot: every kind of target creates its
//! tasks and is cancelled, and the probe device's reports are timed meanwhile. The large
//! runs and their figures are in `docs/benchmarks.md`.

use ota::bench_batch::{BatchArgs, batch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_batch_bench_creates_every_kind_of_batch() {
    let devices = 3_000;
    let report = batch(BatchArgs {
        devices,
        own: crate::fixtures::own_server(),
        timeout: 120,
    })
    .await
    .expect("the bench runs");
    let batches = report["batches"].as_array().expect("batches");
    assert_eq!(batches.len(), 5, "{report:#}");
    for b in batches {
        let created = b["result"]["tasks_created"].as_u64().unwrap();
        let want = match b["target"].as_str().unwrap() {
            "GRAY 50%" => devices as u64 / 2,
            _ => devices as u64,
        };
        assert_eq!(created, want, "{b}");
        assert!(
            b["result"]["creation_seconds"].as_f64().unwrap() > 0.0,
            "{b}"
        );
    }
    assert!(
        report["idle_report_ms_p99"].as_f64().unwrap() > 0.0,
        "the probe's reports were timed: {report:#}"
    );
}
