//! The idle-connection memory budget (~10 KiB per device).

use std::time::Duration;

use crate::support::*;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Process RSS is shared with every other test of this binary, so this one is ignored by
/// default. Run it alone:
/// `cargo test -p ota-device-gateway --test gateway idle_connection -- --ignored --nocapture`.
/// The figure includes the client side of each loopback connection, so it is an upper bound.
#[tokio::test]
#[ignore = "measures process RSS; run alone"]
async fn idle_connection_memory_is_within_budget() {
    const WARMUP: usize = 100;
    const N: usize = 3000;
    let h = Harness::start().await;
    let mut conns = Vec::with_capacity(N);
    for i in 0..WARMUP {
        conns.push(raw_connect(&h, &format!("m{i}"), 60).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    for i in WARMUP..N {
        conns.push(raw_connect(&h, &format!("m{i}"), 60).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_conn = (rss_bytes().saturating_sub(before)) / (N - WARMUP);
    eprintln!("idle connection: {per_conn} bytes of RSS each (server and client side)");
    assert_eq!(h.gateway.online_count(), N);
    assert!(per_conn < 10 * 1024, "{per_conn} bytes per idle connection");
}
