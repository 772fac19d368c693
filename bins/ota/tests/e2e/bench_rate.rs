//! A small `ota bench rate`, so the harness cannot rot: a fixed and a stepped rate, counted
//! in short windows. The minute-long runs and their figures are in `docs/benchmarks.md`.

use ota::bench_rate::{RateArgs, rate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_rate_bench_counts_pushes_per_window_against_the_rate() {
    let report = rate(RateArgs {
        rates: vec![1_200],
        steps: vec![600, 1_200],
        window_secs: 5,
        windows: 2,
        // Fewer than the 300 devices the fixed rate needs: the rest connect in waves.
        max_devices: 150,
        own: crate::fixtures::own_server(),
    })
    .await
    .expect("the bench runs");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{report:#}");
    for run in runs {
        let windows = run["windows"].as_array().expect("windows");
        assert_eq!(windows.len(), 2, "every window is counted: {run:#}");
        assert_eq!(run["windows_not_counted"], 0, "{run:#}");
        // Every device that was pushed to is one the server counted.
        assert_eq!(
            run["pushed"].as_f64(),
            run["server_pushes_total"].as_f64(),
            "{run:#}"
        );
    }
    // The stepped batch pushed twice as many in its second window as in its first: the
    // count follows the schedule (loosely here: a debug build on a shared machine).
    let stepped = runs[1]["windows"].as_array().unwrap();
    let (first, second) = (
        stepped[0]["pushed"].as_f64().unwrap(),
        stepped[1]["pushed"].as_f64().unwrap(),
    );
    assert!(
        (35.0..=65.0).contains(&first) && (85.0..=115.0).contains(&second),
        "{report:#}"
    );
}
