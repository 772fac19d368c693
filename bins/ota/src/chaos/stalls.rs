//! How long unfinished tasks wait without anything happening to them. Polled about once a
//! second: a task whose status, progress and `modified_at` are what they were at the last
//! poll has waited since that state was first seen. A device updating reports progress
//! every few tenths of its download and a wave's pushes go out within seconds, so a task
//! waiting much longer than a lease (a node claimed it, or received its report, and died)
//! is stuck on the lost node.

use super::watch::{UNFINISHED, tasks_of};
use crate::client::ApiClient;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct StallWatch {
    /// Task id → (state, first seen in that state).
    since: HashMap<String, (String, Instant)>,
    longest: Duration,
    longest_task: Option<serde_json::Value>,
    over: HashSet<String>,
    polls: u64,
}

/// What the watch saw.
#[derive(Debug, Clone, Serialize)]
pub struct Stalls {
    pub polls: u64,
    pub longest_wait_s: f64,
    pub longest_waiting_task: Option<serde_json::Value>,
    /// Tasks that waited longer than the limit.
    pub tasks_over_limit: usize,
    pub limit_s: f64,
}

impl StallWatch {
    /// Looks at the unfinished tasks of `jobs` now. An unreadable page is skipped.
    pub async fn observe(&mut self, api: &ApiClient, jobs: &[String], limit: Duration) {
        let statuses = UNFINISHED.join(",");
        let now = Instant::now();
        let mut present = HashSet::new();
        for job in jobs {
            let Ok(tasks) = tasks_of(api, job, Some(&statuses)).await else {
                return;
            };
            for t in tasks {
                let Some(id) = t["task_id"].as_str() else {
                    continue;
                };
                let state = format!("{}/{}/{}", t["status"], t["progress"], t["modified_at"]);
                present.insert(id.to_owned());
                let entry = self
                    .since
                    .entry(id.to_owned())
                    .or_insert_with(|| (state.clone(), now));
                if entry.0 != state {
                    *entry = (state, now);
                    continue;
                }
                let waited = now - entry.1;
                if waited > self.longest {
                    self.longest = waited;
                    self.longest_task = Some(t.clone());
                }
                if waited > limit {
                    self.over.insert(id.to_owned());
                }
            }
        }
        self.since.retain(|id, _| present.contains(id));
        self.polls += 1;
    }

    pub fn figures(&self, limit: Duration) -> Stalls {
        Stalls {
            polls: self.polls,
            longest_wait_s: self.longest.as_secs_f64(),
            longest_waiting_task: self.longest_task.clone(),
            tasks_over_limit: self.over.len(),
            limit_s: limit.as_secs_f64(),
        }
    }
}
