//! A short `ota bench soak`, so the harness cannot rot: a churning fleet under back-to-back
//! batches; every batch completes, no device meets an error, devices really reconnect, and
//! the server's descriptors do not grow with them, and the server publishes its allocator's
//! figures. The long run and its figures are in
//! `docs/reliability.md`.

use ota::soak::{SoakArgs, soak};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_soak_passes_every_check() {
    let report = soak(SoakArgs {
        devices: 200,
        minutes: 1.0,
        churn_secs: 8,
        batch_every_secs: 10,
        sample_secs: 10,
        warmup_minutes: 0.5,
        max_rss_growth: 25.0,
        window_minutes: 0.25,
        package_kib: 4,
        own: crate::fixtures::own_server(),
    })
    .await
    .expect("the soak runs");
    assert!(report.passed(), "{:?}", report.checks);
    assert!(report.batches >= 2, "{} batches", report.batches);
    assert!(
        report.reconnects >= 200,
        "{} reconnects: the fleet did not churn",
        report.reconnects
    );
    assert!(
        report.samples.len() >= 6,
        "{} samples",
        report.samples.len()
    );
    if cfg!(all(
        feature = "jemalloc",
        target_os = "linux",
        not(target_env = "musl")
    )) {
        let heap = report
            .samples
            .last()
            .and_then(|s| s.server_heap_allocated_kib);
        assert!(
            heap.is_some_and(|kib| kib > 0),
            "the server published no heap figures: {heap:?}"
        );
    }
}
