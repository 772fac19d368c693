//! `ota chaos`: the fault suite. Each scenario runs a real rollout against real processes —
//! `ota serve` nodes, and the harness's own PostgreSQL, Mosquitto and S3 server where the
//! scenario needs them — breaks something in the middle of it (kill -9 of the server, loss
//! of a node, a store, broker or bucket outage, duplicated and reordered device messages),
//! lets the rollout finish and checks the invariants ([`invariant`]). It prints a JSON
//! summary and fails when an invariant does not hold.
//!
//! Why a harness of its own and not only tests: the long runs (thousands of devices, tens of
//! kills) are commands anyone can run and whose figures go in `docs/reliability.md`; the
//! test suite runs short versions of the same code (`bins/ota/tests/chaos.rs`).
//!
//! The harness owns every process it stops or kills and signals them by process id only.
//! Everything listens on 127.0.0.1 on free ports; the machine's own PostgreSQL and
//! Mosquitto are never touched. Processes and the run's directory go when a run ends,
//! failed or not (`--keep` keeps the directory, with every log).

pub mod invariant;
pub mod mosquitto;
pub mod node;
pub mod postgres;
pub mod procs;
pub mod proxy;
pub mod rollout;
pub mod run;
pub mod s3;
mod scenarios;
pub mod stalls;
pub mod watch;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

pub use run::Summary;

/// The scenarios.
#[derive(Subcommand, Debug, Clone)]
pub enum Scenario {
    /// kill -9 the server at random moments of a rollout, restarting it each time on the
    /// same data and ports.
    Kill(KillArgs),
    /// Nodes on PostgreSQL behind Mosquitto, packages in an S3 bucket; one node is killed
    /// -9 mid-rollout and not restarted: the others finish, and no task waits longer than
    /// one lease.
    NodeLoss(NodeLossArgs),
    /// PostgreSQL stopped (immediate shutdown) mid-rollout and started again.
    PgRestart(OutageArgs),
    /// The external broker (Mosquitto) killed -9 mid-rollout and started again.
    BrokerRestart(OutageArgs),
    /// The package bucket (s3s-fs) killed during downloads and started again: devices
    /// resume with `Range` and the digests match.
    S3Outage(S3OutageArgs),
    /// Every device report sent twice, some out of order: the final states must be those
    /// of the same rollout without.
    Duplicates(DuplicatesArgs),
}

/// Settings every scenario takes.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Simulated devices.
    #[arg(long, default_value_t = 3_000)]
    pub devices: usize,
    /// Seed of every random choice (fault moments, the node lost, reordering); random
    /// (and printed) when absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// What devices do (see `ota sim --behaviour`); each device's expected final state
    /// follows from it. Default: the scenario's.
    #[arg(long)]
    pub behaviour: Option<String>,
    /// Package size in KiB. Default: the scenario's.
    #[arg(long)]
    pub package_kib: Option<usize>,
    /// Push rate of each batch, per minute (10-10,000). Default: the scenario's, chosen so
    /// the faults land while the rollout is under way.
    #[arg(long)]
    pub rate: Option<u32>,
    /// How often a device resumes a download (with `Range`) after a failure that made no
    /// progress, before it reports step -2 (default: the SDK's, 8, about a minute).
    #[arg(long)]
    pub download_retries: Option<u32>,
    /// Give up after this many seconds in all.
    #[arg(long, default_value_t = 1_200)]
    pub timeout: u64,
    /// After the last fault, how long the task counts may stay unchanged before the
    /// rollout is judged as it is (stuck tasks stay stuck).
    #[arg(long, default_value_t = 60)]
    pub settle: u64,
    /// The `ota` binary run as the server (default: this executable).
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Keep the run's directory (logs of every process, databases) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

impl Common {
    /// Settings for a short run of `devices` devices (what the test suite uses).
    pub fn short(devices: usize, server: PathBuf) -> Common {
        Common {
            devices,
            seed: None,
            behaviour: None,
            package_kib: None,
            rate: None,
            download_retries: None,
            timeout: 600,
            settle: 30,
            server: Some(server),
            keep: false,
        }
    }
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    #[command(flatten)]
    pub common: Common,
    /// How many times to kill the server.
    #[arg(long, default_value_t = 20)]
    pub kills: usize,
    /// The store: a SQLite file, or a PostgreSQL cluster of the harness's own.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub store: StoreKind,
    /// Shortest time from the server being ready to the next kill, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub min_gap: f64,
    /// Longest time from the server being ready to the next kill, in seconds.
    #[arg(long, default_value_t = 5.0)]
    pub max_gap: f64,
}

#[derive(Args, Debug, Clone)]
pub struct NodeLossArgs {
    #[command(flatten)]
    pub common: Common,
    /// Nodes of the platform (one of them is lost).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Devices per batch: batches start one after the other (waves), so pushes, downloads
    /// and reports are all under way when the node goes.
    #[arg(long, default_value_t = 200)]
    pub wave_size: usize,
    /// Seconds between two waves.
    #[arg(long, default_value_t = 2.0)]
    pub wave_every: f64,
}

#[derive(Args, Debug, Clone)]
pub struct OutageArgs {
    #[command(flatten)]
    pub common: Common,
    /// Seconds the service stays down.
    #[arg(long, default_value_t = 5.0)]
    pub down: f64,
}

#[derive(Args, Debug, Clone)]
pub struct S3OutageArgs {
    #[command(flatten)]
    pub common: Common,
    /// Seconds the bucket stays down.
    #[arg(long, default_value_t = 5.0)]
    pub down: f64,
    /// Each device's download speed from the bucket, in KiB/s: slow enough that a
    /// download is still under way when the bucket goes.
    #[arg(long, default_value_t = 1024)]
    pub link_kib: u64,
}

#[derive(Args, Debug, Clone)]
pub struct DuplicatesArgs {
    #[command(flatten)]
    pub common: Common,
    /// After one report in this many, a device also sends an earlier one.
    #[arg(long, default_value_t = 4)]
    pub reorder_one_in: u32,
}

impl Scenario {
    pub fn common(&self) -> &Common {
        match self {
            Scenario::Kill(args) => &args.common,
            Scenario::NodeLoss(args) => &args.common,
            Scenario::PgRestart(args) | Scenario::BrokerRestart(args) => &args.common,
            Scenario::S3Outage(args) => &args.common,
            Scenario::Duplicates(args) => &args.common,
        }
    }
}

/// Beyond `--timeout`, the time a run may take to judge and clean up before it is cut short.
const GRACE: Duration = Duration::from_secs(300);

/// Runs one scenario to its summary (`Err` only when the harness itself could not run it:
/// a missing program, a service that would not start, the time limit). A run cut short
/// still stops every process it started and removes its directory, as it drops them.
pub async fn run(scenario: Scenario) -> anyhow::Result<Summary> {
    let limit = Duration::from_secs(scenario.common().timeout) + GRACE;
    let running = async move {
        match scenario {
            Scenario::Kill(args) => scenarios::kill::run(args).await,
            Scenario::NodeLoss(args) => scenarios::node_loss::run(args).await,
            Scenario::PgRestart(args) => scenarios::pg_restart::run(args).await,
            Scenario::BrokerRestart(args) => scenarios::broker_restart::run(args).await,
            Scenario::S3Outage(args) => scenarios::s3_outage::run(args).await,
            Scenario::Duplicates(args) => scenarios::duplicates::run(args).await,
        }
    };
    match tokio::time::timeout(limit, running).await {
        Ok(summary) => summary,
        Err(_) => bail!("the run did not end within {} s", limit.as_secs()),
    }
}

/// `ota chaos …`: runs the scenario, prints its summary as JSON on stdout and says whether
/// every invariant held. Interrupted (SIGINT, SIGTERM), it stops what it started first.
pub async fn main(scenario: Scenario) -> anyhow::Result<bool> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let summary = tokio::select! {
        summary = run(scenario) => summary?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; the processes it started are stopped"),
        _ = terminate.recv() => bail!("terminated; the processes it started are stopped"),
    };
    println!("{}", serde_json::to_string_pretty(&summary)?);
    if !summary.passed {
        eprintln!("chaos {}: FAILED", summary.scenario);
        for v in &summary.violations {
            eprintln!("  - {v}");
        }
    }
    Ok(summary.passed)
}
