//! Watching a rollout through the native API: task counts of its batches, whether every task
//! has finished, and the wait for a rollout to settle after the last fault — until every task
//! is finished, or nothing has changed for a while (stuck tasks stay stuck), or time is up.

use crate::client::ApiClient;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The statuses a task does not leave.
pub const TERMINAL: [&str; 3] = ["SUCCEEDED", "FAILED", "CANCELED"];
/// The statuses of a task still under way.
pub const UNFINISHED: [&str; 4] = ["CONFIRM", "QUEUED", "NOTIFIED", "IN_PROGRESS"];

/// Task counts summed over a rollout's batches.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    pub total: u64,
    pub by_status: BTreeMap<String, u64>,
}

impl Tally {
    pub fn count(&self, status: &str) -> u64 {
        self.by_status.get(status).copied().unwrap_or(0)
    }

    pub fn unfinished(&self) -> u64 {
        UNFINISHED.iter().map(|s| self.count(s)).sum()
    }

    pub fn finished(&self) -> u64 {
        TERMINAL.iter().map(|s| self.count(s)).sum()
    }
}

/// The counts of `jobs` now.
pub async fn tally(api: &ApiClient, jobs: &[String]) -> anyhow::Result<Tally> {
    let mut out = Tally::default();
    for id in jobs {
        let job = api.get(&format!("/jobs/{id}")).await?;
        out.total += job["counts"]["total"].as_u64().unwrap_or(0);
        for (status, n) in job["counts"]["by_status"].as_object().into_iter().flatten() {
            *out.by_status.entry(status.clone()).or_insert(0) += n.as_u64().unwrap_or(0);
        }
    }
    Ok(out)
}

/// How waiting for a rollout ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Settled {
    pub tally: Tally,
    /// Every one of `expected_tasks` tasks finished.
    pub finished: bool,
    /// Seconds from the start of the wait.
    pub waited_s: f64,
}

/// Polls until all `expected_tasks` tasks of the (current) batches are finished, or the
/// counts have not changed for `quiet`, or `limit` has passed. API errors (a node
/// restarting) are waited out.
pub async fn wait_settled(
    api: &ApiClient,
    jobs: impl Fn() -> Vec<String>,
    expected_tasks: u64,
    quiet: Duration,
    limit: Duration,
) -> Settled {
    let started = Instant::now();
    let mut last = Tally::default();
    let mut changed = Instant::now();
    loop {
        if let Ok(now) = tally(api, &jobs()).await {
            if now.total >= expected_tasks && now.unfinished() == 0 {
                return Settled {
                    tally: now,
                    finished: true,
                    waited_s: started.elapsed().as_secs_f64(),
                };
            }
            if now != last {
                last = now;
                changed = Instant::now();
            }
        }
        if changed.elapsed() > quiet || started.elapsed() > limit {
            return Settled {
                tally: last,
                finished: false,
                waited_s: started.elapsed().as_secs_f64(),
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Once every task has finished, waits up to `limit` for the batches to end: a batch is
/// completed by the node that stored its last report or, when that node died first, by the
/// next timer tick of any node. Returns how long it waited.
pub async fn wait_batches_ended(api: &ApiClient, jobs: &[String], limit: Duration) -> f64 {
    let started = Instant::now();
    loop {
        let mut running = false;
        for job in jobs {
            match api.get(&format!("/jobs/{job}")).await {
                Ok(info) if info["status"] != "IN_PROGRESS" => {}
                _ => running = true,
            }
        }
        if !running || started.elapsed() > limit {
            return started.elapsed().as_secs_f64();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every task of `job`, as the API lists them (optionally only some statuses).
pub async fn tasks_of(
    api: &ApiClient,
    job: &str,
    statuses: Option<&str>,
) -> anyhow::Result<Vec<serde_json::Value>> {
    const PAGE: u64 = 200;
    let filter = statuses.map(|s| format!("&status={s}")).unwrap_or_default();
    let mut out = Vec::new();
    for page in 1.. {
        let v = api
            .get(&format!(
                "/jobs/{job}/tasks?page={page}&page_size={PAGE}{filter}"
            ))
            .await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let n = items.len() as u64;
        out.extend(items);
        let total = v["total"].as_u64().unwrap_or(0);
        if n < PAGE || page * PAGE >= total {
            break;
        }
    }
    Ok(out)
}
