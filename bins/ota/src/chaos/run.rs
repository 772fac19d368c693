//! What one scenario run owns and records: its directory (databases, logs; removed at the
//! end unless kept), its seeded randomness, the faults it injected with the time each
//! service took to be ready again, and the summary printed at the end.

use super::Common;
use super::invariant::{Ledger, TransitionCount, Verdict};
use super::rollout::Rollout;
use super::watch::Settled;
use crate::launch::Launch;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A restarted server must be ready again within this long.
pub const READY_LIMIT: Duration = Duration::from_secs(10);

/// One injected fault.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub what: String,
    /// Seconds since the run started.
    pub at_s: f64,
    /// A process was killed (SIGKILL).
    pub killed: bool,
    /// From the restart to ready again (`ota serve`: spawn to its ready line; a store or
    /// broker: until it accepts connections); absent when nothing was restarted.
    pub ready_ms: Option<u64>,
    /// Scenario-specific detail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

pub struct Run {
    pub scenario: &'static str,
    pub seed: u64,
    pub rng: StdRng,
    pub started: Instant,
    pub path: PathBuf,
    dir: Option<tempfile::TempDir>,
    pub server: PathBuf,
    secret: String,
    pub faults: Vec<Fault>,
    pub ledger: Ledger,
    pub transitions: TransitionCount,
    pub violations: Vec<String>,
    pub timeout: Duration,
    pub quiet: Duration,
}

impl Run {
    pub fn new(scenario: &'static str, common: &Common) -> anyhow::Result<Run> {
        let seed = common.seed.unwrap_or_else(rand::random);
        let dir = tempfile::Builder::new()
            .prefix(&format!("ota-chaos-{scenario}-"))
            .tempdir()?;
        let server = match &common.server {
            Some(path) => path.clone(),
            None => std::env::current_exe()?,
        };
        let path = dir.path().to_owned();
        let dir = if common.keep {
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        eprintln!(
            "chaos {scenario}: seed {seed}, run directory {}",
            path.display()
        );
        Ok(Run {
            scenario,
            seed,
            rng: StdRng::seed_from_u64(seed),
            started: Instant::now(),
            path,
            dir,
            server,
            secret: format!("{:032x}", rand::random::<u128>()),
            faults: Vec::new(),
            ledger: Ledger::default(),
            transitions: TransitionCount::new(),
            violations: Vec::new(),
            timeout: Duration::from_secs(common.timeout),
            quiet: Duration::from_secs(common.settle),
        })
    }

    /// How to start a server node called `name` with its own data directory and log under
    /// the run's directory; every node of a run shares one admin key.
    pub fn launch(&self, name: &str) -> Launch {
        let mut launch = Launch::new(&self.server, &self.path.join(name));
        launch.key_id = "chaos".to_owned();
        launch.secret = self.secret.clone();
        launch.log_file = Some(self.path.join(format!("{name}.log")));
        launch
    }

    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Time left of the run's limit.
    pub fn remaining(&self) -> Duration {
        self.timeout.saturating_sub(self.started.elapsed())
    }

    /// Records a fault; a server that took longer than [`READY_LIMIT`] to be ready again
    /// is a violation.
    pub fn fault(&mut self, what: String, killed: bool, ready: Option<Duration>) -> &mut Fault {
        if let Some(ready) = ready.filter(|r| *r > READY_LIMIT) {
            self.violations.push(format!(
                "{what}: ready again only after {:.1} s (limit {} s)",
                ready.as_secs_f64(),
                READY_LIMIT.as_secs()
            ));
        }
        eprintln!(
            "[{:7.1} s] {what}{}",
            self.elapsed_s(),
            ready
                .map(|r| format!(": ready again in {} ms", r.as_millis()))
                .unwrap_or_default()
        );
        self.faults.push(Fault {
            what,
            at_s: self.elapsed_s(),
            killed,
            ready_ms: ready.map(|r| r.as_millis() as u64),
            detail: None,
        });
        self.faults.last_mut().expect("just pushed")
    }

    /// Prints a progress line on stderr.
    pub fn note(&self, what: &str) {
        eprintln!("[{:7.1} s] {what}", self.elapsed_s());
    }

    /// The summary of the run. (The run's directory goes when the run is dropped, after
    /// the services using it, unless it is kept.)
    pub fn finish(
        &mut self,
        store: &str,
        rollout: &Rollout,
        behaviour: &str,
        settled: Settled,
        verdict: Verdict,
        figures: serde_json::Value,
    ) -> Summary {
        let mut violations = std::mem::take(&mut self.violations);
        violations.extend(verdict.violations.iter().cloned());
        let s = rollout.stats.snapshot();
        let slowest = self.faults.iter().filter_map(|f| f.ready_ms).max();
        Summary {
            scenario: self.scenario.to_owned(),
            passed: violations.is_empty(),
            violations,
            seed: self.seed,
            store: store.to_owned(),
            devices: rollout.names.len(),
            batches: rollout.job_ids().len(),
            package_bytes: rollout.package_bytes,
            behaviour: behaviour.to_owned(),
            elapsed_s: self.elapsed_s(),
            kills: self.faults.iter().filter(|f| f.killed).count(),
            restarts: self.faults.iter().filter(|f| f.ready_ms.is_some()).count(),
            slowest_ready_ms: slowest,
            faults: std::mem::take(&mut self.faults),
            settled,
            verdict,
            simulator: serde_json::json!({
                "updates_succeeded": s.succeeded,
                "updates_failed": {"-1": s.failed[0], "-2": s.failed[1], "-3": s.failed[2], "-4": s.failed[3]},
                "wrong_version": s.wrong_version,
                "connect_failures": s.connect_failures,
                "bytes_downloaded": s.bytes,
                "reports_duplicated": s.reports_duplicated,
                "reports_reordered": s.reports_reordered,
            }),
            figures,
            run_dir: self.dir.is_none().then(|| self.path.display().to_string()),
        }
    }
}

/// The JSON printed at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub passed: bool,
    pub violations: Vec<String>,
    pub seed: u64,
    pub store: String,
    pub devices: usize,
    pub batches: usize,
    pub package_bytes: u64,
    pub behaviour: String,
    pub elapsed_s: f64,
    pub kills: usize,
    pub restarts: usize,
    pub slowest_ready_ms: Option<u64>,
    pub faults: Vec<Fault>,
    pub settled: Settled,
    pub verdict: Verdict,
    /// What the simulated devices saw.
    pub simulator: serde_json::Value,
    /// Scenario-specific figures.
    pub figures: serde_json::Value,
    /// Where the logs and data are, when kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<String>,
}
