//! The check every scenario ends with, through the native API:
//!
//! - every device has exactly one task, in the state its behaviour implies (SUCCEEDED for a
//!   device that updates, FAILED for one that fails) — so no task is left unfinished;
//! - each batch's counts add up to its tasks, the batches' to the fleet, and a batch whose
//!   tasks have all finished is COMPLETED;
//! - no terminal transition was applied twice, seen two ways: a task seen finished earlier
//!   in the run (a [`Ledger`] is taken before every fault) is unchanged at the end — status
//!   and `modified_at` — and the servers' `ota_task_transitions_total{to=…}` counters,
//!   scraped before every kill and at the end and summed, never exceed the number of tasks
//!   in that state.

use super::node::Node;
use super::rollout::Expected;
use super::watch::{TERMINAL, UNFINISHED, tasks_of};
use crate::client::ApiClient;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Tasks seen finished during the run: id → (status, modified_at) when first seen.
#[derive(Debug, Default)]
pub struct Ledger {
    seen: HashMap<String, (String, i64)>,
}

impl Ledger {
    /// Records the finished tasks of `jobs` as they are now. A page that cannot be read (a
    /// node going away) is skipped: the ledger is a sample, and a sample is enough.
    pub async fn record(&mut self, api: &ApiClient, jobs: &[String]) {
        let statuses = TERMINAL.join(",");
        for job in jobs {
            let Ok(tasks) = tasks_of(api, job, Some(&statuses)).await else {
                continue;
            };
            for t in tasks {
                let (Some(id), Some(status), Some(at)) = (
                    t["task_id"].as_str(),
                    t["status"].as_str(),
                    t["modified_at"].as_i64(),
                ) else {
                    continue;
                };
                self.seen
                    .entry(id.to_owned())
                    .or_insert_with(|| (status.to_owned(), at));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// `ota_task_transitions_total` summed over every server life of the run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TransitionCount {
    pub by_status: BTreeMap<String, u64>,
    /// False once a server was killed after its last scrape: its last transitions are
    /// missing from the sum. (Even when true the sum is a lower bound: a commit whose answer
    /// a store outage lost is applied but not counted.)
    pub complete: bool,
}

impl TransitionCount {
    pub fn new() -> TransitionCount {
        TransitionCount {
            by_status: BTreeMap::new(),
            complete: true,
        }
    }

    /// Adds one server life's counters, scraped just before it ends. Without a scrape
    /// (the node did not answer) the sum is incomplete.
    pub async fn add_final_scrape(&mut self, node: &Node) {
        match node.transitions().await {
            Ok(counts) => {
                for (status, n) in counts {
                    *self.by_status.entry(status).or_insert(0) += n;
                }
            }
            Err(_) => self.complete = false,
        }
    }
}

/// One batch's counts against its tasks.
#[derive(Debug, Clone, Serialize)]
pub struct BatchCounts {
    pub job_id: String,
    pub status: String,
    pub total: u64,
    pub sum_by_status: u64,
    pub tasks_listed: u64,
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub tasks_checked: u64,
    pub by_status: BTreeMap<String, u64>,
    pub expected: BTreeMap<String, u64>,
    /// "EXPECTED -> FOUND": devices whose task is not in the state their behaviour implies.
    pub wrong_state: BTreeMap<String, u64>,
    /// A few of them, for the log.
    pub examples: Vec<serde_json::Value>,
    pub batches: Vec<BatchCounts>,
    pub finished_tasks_sampled: u64,
    pub finished_tasks_changed_later: u64,
    pub transitions_counted: TransitionCount,
    pub violations: Vec<String>,
    /// Each device's final task status, by simulator index.
    #[serde(skip)]
    pub statuses: Vec<String>,
}

/// Checks the final state of `jobs` for the fleet `names` (by simulator index) with final
/// states `expected`.
pub async fn verify(
    api: &ApiClient,
    jobs: &[String],
    names: &[String],
    expected: &[Expected],
    ledger: &Ledger,
    transitions: &TransitionCount,
) -> anyhow::Result<Verdict> {
    let mut violations = Vec::new();
    let mut by_device: HashMap<String, serde_json::Value> = HashMap::new();
    let mut duplicate_tasks = 0u64;
    let mut batches = Vec::new();
    let mut tasks_checked = 0u64;
    for job in jobs {
        let tasks = tasks_of(api, job, None).await?;
        let info = api.get(&format!("/jobs/{job}")).await?;
        let by_status = info["counts"]["by_status"].as_object();
        let counts = BatchCounts {
            job_id: job.clone(),
            status: info["status"].as_str().unwrap_or_default().to_owned(),
            total: info["counts"]["total"].as_u64().unwrap_or(0),
            sum_by_status: by_status
                .into_iter()
                .flatten()
                .filter_map(|(_, n)| n.as_u64())
                .sum(),
            tasks_listed: tasks.len() as u64,
        };
        if counts.total != counts.sum_by_status || counts.total != counts.tasks_listed {
            violations.push(format!(
                "batch {job}: total {} but {} by status and {} tasks listed",
                counts.total, counts.sum_by_status, counts.tasks_listed
            ));
        }
        let unfinished: u64 = UNFINISHED
            .iter()
            .filter_map(|s| by_status.and_then(|m| m[*s].as_u64()))
            .sum();
        if unfinished == 0 && counts.status != "COMPLETED" {
            violations.push(format!(
                "batch {job}: every task finished but the batch is {}",
                counts.status
            ));
        }
        batches.push(counts);
        tasks_checked += tasks.len() as u64;
        for t in tasks {
            let name = t["device_name"].as_str().unwrap_or_default().to_owned();
            if by_device.insert(name, t).is_some() {
                duplicate_tasks += 1;
            }
        }
    }
    if duplicate_tasks > 0 {
        violations.push(format!("{duplicate_tasks} devices have more than one task"));
    }

    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut expected_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut wrong_state: BTreeMap<String, u64> = BTreeMap::new();
    let mut examples = Vec::new();
    let mut statuses = Vec::with_capacity(names.len());
    for (name, want) in names.iter().zip(expected) {
        *expected_counts.entry(want.status().to_owned()).or_insert(0) += 1;
        let found = by_device
            .get(name)
            .and_then(|t| t["status"].as_str())
            .unwrap_or("NO TASK");
        *by_status.entry(found.to_owned()).or_insert(0) += 1;
        statuses.push(found.to_owned());
        if found != want.status() {
            *wrong_state
                .entry(format!("{} -> {found}", want.status()))
                .or_insert(0) += 1;
            if examples.len() < 10 {
                let t = by_device.get(name);
                examples.push(serde_json::json!({
                    "device": name, "expected": want.status(), "found": found,
                    "progress": t.map(|t| t["progress"].clone()),
                    "failure": t.map(|t| t["failure"].clone()),
                    "modified_at": t.map(|t| t["modified_at"].clone()),
                }));
            }
        }
    }
    let unfinished: BTreeMap<&str, u64> = UNFINISHED
        .iter()
        .filter_map(|s| by_status.get(*s).map(|n| (*s, *n)))
        .collect();
    if !unfinished.is_empty() {
        violations.push(format!(
            "{} tasks unfinished: {unfinished:?}",
            unfinished.values().sum::<u64>()
        ));
    }
    if !wrong_state.is_empty() {
        violations.push(format!(
            "{} devices not in the state their behaviour implies: {wrong_state:?}",
            wrong_state.values().sum::<u64>()
        ));
    }
    if tasks_checked != names.len() as u64 {
        violations.push(format!(
            "{} devices but {tasks_checked} tasks in the rollout's batches",
            names.len()
        ));
    }

    let by_task: HashMap<&str, &serde_json::Value> = by_device
        .values()
        .filter_map(|t| Some((t["task_id"].as_str()?, t)))
        .collect();
    let mut changed = 0u64;
    for (id, (status, at)) in &ledger.seen {
        let now = by_task
            .get(id.as_str())
            .map(|t| (t["status"].as_str(), t["modified_at"].as_i64()));
        if now != Some((Some(status.as_str()), Some(*at))) {
            changed += 1;
        }
    }
    if changed > 0 {
        violations.push(format!(
            "{changed} tasks changed after they were seen finished"
        ));
    }

    for status in ["SUCCEEDED", "FAILED"] {
        let counted = transitions.by_status.get(status).copied().unwrap_or(0);
        let found = by_status.get(status).copied().unwrap_or(0);
        // Fewer is no violation: a kill loses what was counted since the last scrape, and a
        // commit whose answer was lost (the store went away mid-commit) is applied but not
        // counted, its retry finding the task already finished.
        if counted > found {
            violations.push(format!(
                "{counted} transitions to {status} counted but {found} tasks are {status}: \
                 a terminal transition was applied more than once"
            ));
        }
    }

    Ok(Verdict {
        tasks_checked,
        by_status,
        expected: expected_counts,
        wrong_state,
        examples,
        batches,
        finished_tasks_sampled: ledger.len() as u64,
        finished_tasks_changed_later: changed,
        transitions_counted: transitions.clone(),
        violations,
        statuses,
    })
}
