//! Short runs of every fault scenario of `ota chaos` (docs/reliability.md), through the same
//! code as the command, against the real `ota` binary and the harness's own PostgreSQL,
//! Mosquitto and s3s-fs. A scenario whose invariant fails prints its whole summary.
//!
//! One scenario at a time: each runs hundreds of devices and several servers, and they
//! would otherwise fight over the machine's cores and distort each other's timing.
//! A missing PostgreSQL, Mosquitto or s3s-fs fails the scenario with one line naming it.
//!

use ota::chaos::{
    self, Common, DuplicatesArgs, KillArgs, NodeLossArgs, OutageArgs, S3OutageArgs, Scenario,
    StoreKind,
};
use std::path::PathBuf;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn common(devices: usize, seed: u64) -> Common {
    let mut common = Common::short(devices, PathBuf::from(env!("CARGO_BIN_EXE_ota")));
    common.seed = Some(seed);
    common
}

async fn passes(scenario: Scenario) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let summary = chaos::run(scenario)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        summary.passed,
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
}

fn kills(store: StoreKind, kills: usize, devices: usize, seed: u64) -> Scenario {
    Scenario::Kill(KillArgs {
        common: common(devices, seed),
        kills,
        store,
        min_gap: 1.0,
        max_gap: 3.0,
    })
}

fn outage(devices: usize, seed: u64) -> OutageArgs {
    OutageArgs {
        common: common(devices, seed),
        down: 3.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_kills_on_sqlite() {
    passes(kills(StoreKind::Sqlite, 5, 600, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_kills_on_postgres() {
    passes(kills(StoreKind::Postgres, 3, 600, 2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_three_nodes_lost() {
    passes(Scenario::NodeLoss(NodeLossArgs {
        common: common(600, 3),
        nodes: 3,
        wave_size: 100,
        wave_every: 1.0,
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted() {
    passes(Scenario::PgRestart(outage(300, 4))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarted() {
    passes(Scenario::BrokerRestart(outage(300, 5))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_down_during_downloads() {
    let mut common = common(30, 6);
    common.package_kib = Some(8 * 1024);
    passes(Scenario::S3Outage(S3OutageArgs {
        common,
        down: 3.0,
        link_kib: 1024,
    }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_reports() {
    passes(Scenario::Duplicates(DuplicatesArgs {
        common: common(300, 7),
        reorder_one_in: 4,
    }))
    .await;
}
