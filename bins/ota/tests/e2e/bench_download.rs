//! A small `ota bench download`, so the harness cannot rot: concurrent `Range` downloads
//! of one package, every byte compared. The large runs and their figures are in
//! `docs/benchmarks.md`.

use ota::bench_download::{DownloadArgs, download};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_download_bench_reads_every_range_right() {
    let report = download(DownloadArgs {
        clients: 20,
        package_mb: 4,
        range_kib: 256,
        seconds: 2,
        warmup_secs: 1,
        own: crate::fixtures::own_server(),
    })
    .await
    .expect("the bench runs");
    assert_eq!(report["errors"], 0, "{report:#}");
    assert!(report["requests"].as_u64().unwrap() > 0, "{report:#}");
    assert!(report["bytes"].as_u64().unwrap() > 0, "{report:#}");
    assert_eq!(report["package_bytes"], 4_000_000);
}
