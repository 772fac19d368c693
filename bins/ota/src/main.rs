//! `ota`: one binary for the whole platform. See `ota --help`.

use clap::{Parser, Subcommand};
use ota::admin::AdminCommand;
use ota::config::{ServeArgs, ServeConfig};

/// jemalloc serves Rust and C allocations alike (`ota::heap` says why).
#[cfg(all(feature = "jemalloc", target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "ota",
    version,
    about = "Self-hosted OTA update platform for IoT fleets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: store, engine, MQTT device endpoint and HTTP API.
    Serve(ServeArgs),
    /// Simulate a fleet of devices against an MQTT endpoint.
    Sim(ota::sim::SimArgs),
    /// Benchmarks against a real server process.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Copy a running embedded platform (SQLite store and packages) into one archive.
    Backup(ota::backup::BackupArgs),
    /// Unpack an `ota backup` archive into a new data directory (the server stopped).
    Restore(ota::backup::RestoreArgs),
    /// The fault suite: a rollout against real processes while the server is killed, a
    /// node lost, the store, broker or bucket restarted, or device messages duplicated;
    /// prints a JSON summary and fails when an invariant does not hold.
    #[command(subcommand)]
    Chaos(ota::chaos::Scenario),
    /// Create and inspect delta (differential) packages.
    #[command(subcommand)]
    Delta(DeltaCommand),
    /// Admin commands over the native API (OTA_URL, OTA_ACCESS_KEY_ID, OTA_ACCESS_KEY_SECRET).
    #[command(flatten)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Roll a package out to a simulated fleet; report updates/s and server memory.
    Rollout(ota::bench::RolloutArgs),
    /// Create and cancel batches over a large fleet, for each kind of target; report times.
    Batch(ota::bench_batch::BatchArgs),
    /// Everyday reads (device and task lists, counts, versions, console pages) over a large
    /// fleet and batch; report p50/p95 of each.
    Reads(ota::bench_reads::ReadsArgs),
    /// Many concurrent `Range` downloads of one large package; report throughput, server
    /// CPU and memory.
    Download(ota::bench_download::DownloadArgs),
    /// Push-rate fidelity: pushes counted per minute against MaximumPerMinute, fixed and
    /// stepped.
    Rate(ota::bench_rate::RateArgs),
    /// Server-side delta generation of one image pair: time, CPU, memory and patch size,
    /// with `zstd --patch-from` beside it on request.
    Delta(ota::bench_delta::DeltaArgs),
    /// The store locked for a while in the middle of a rollout; server memory meanwhile.
    Outage(ota::outage::OutageArgs),
    /// A churning fleet under back-to-back batches for a long time; memory, descriptors,
    /// errors.
    Soak(ota::soak::SoakArgs),
}

#[derive(Subcommand)]
enum DeltaCommand {
    /// Write a patch that turns OLD into NEW.
    Diff {
        old: std::path::PathBuf,
        new: std::path::PathBuf,
        patch: std::path::PathBuf,
    },
    /// Rebuild NEW from OLD and a patch, verifying both digests.
    Apply {
        old: std::path::PathBuf,
        patch: std::path::PathBuf,
        out: std::path::PathBuf,
    },
}

/// Runs `work` to its end on a multi-threaded runtime of its own.
fn block_on<T>(work: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal: not in files, pipes or journald, nor with
    // NO_COLOR set.
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One line, the causes after colons: what failed and why, said once.
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = ServeConfig::load(&args)?;
            if args.check_config {
                print!("{}", config.describe());
                return Ok(());
            }
            init_logging(&config.log);
            block_on(ota::serve::run(config))
        }
        Command::Delta(DeltaCommand::Diff { old, new, patch }) => {
            let header = ota_delta::cli::run_diff(&old, &new, &patch)?;
            println!("{header:?}");
            Ok(())
        }
        Command::Delta(DeltaCommand::Apply { old, patch, out }) => {
            let report = ota_delta::cli::run_apply(&old, &patch, &out)?;
            println!("{report:?}");
            Ok(())
        }
        Command::Bench(BenchCommand::Rollout(args)) => {
            init_logging("warn");
            block_on(ota::bench::rollout(args))
        }
        Command::Bench(BenchCommand::Batch(args)) => {
            init_logging("warn");
            let report = block_on(ota::bench_batch::batch(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Bench(BenchCommand::Reads(args)) => {
            init_logging("warn");
            let report = block_on(ota::bench_reads::reads(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Bench(BenchCommand::Download(args)) => {
            init_logging("warn");
            let report = block_on(ota::bench_download::download(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            match report["errors"].as_u64() {
                Some(0) => Ok(()),
                errors => anyhow::bail!("{errors:?} downloads failed or returned the wrong bytes"),
            }
        }
        Command::Bench(BenchCommand::Delta(args)) => {
            init_logging("warn");
            let report = block_on(ota::bench_delta::delta(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            match report["verified"].as_bool() {
                Some(true) => Ok(()),
                _ => anyhow::bail!("the stored delta does not rebuild the new image"),
            }
        }
        Command::Bench(BenchCommand::Rate(args)) => {
            init_logging("warn");
            let report = block_on(ota::bench_rate::rate(args))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Backup(args) => {
            init_logging("warn");
            block_on(ota::backup::backup(args))?;
            Ok(())
        }
        Command::Restore(args) => {
            init_logging("warn");
            block_on(ota::backup::restore(args))?;
            Ok(())
        }
        Command::Bench(BenchCommand::Outage(args)) => {
            init_logging("warn");
            block_on(ota::outage::outage(args))?;
            Ok(())
        }
        Command::Bench(BenchCommand::Soak(args)) => {
            init_logging("warn");
            let report = block_on(ota::soak::soak(args))?;
            if !report.passed() {
                anyhow::bail!("the soak failed a check: {:?}", report.checks);
            }
            Ok(())
        }
        Command::Sim(args) => {
            init_logging("warn");
            block_on(ota::sim::run(args))
        }
        Command::Chaos(scenario) => {
            init_logging("warn");
            if !block_on(ota::chaos::main(scenario))? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Admin(command) => {
            init_logging("warn");
            block_on(command.run())
        }
    }
}
