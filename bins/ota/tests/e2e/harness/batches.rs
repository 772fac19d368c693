//! What tests ask the server under test about batches and tasks, and the poll that waits
//! for an answer to change.

use super::{DEADLINE, Server};
use serde_json::Value;
use std::future::Future;
use std::time::{Duration, Instant};

impl Server {
    pub async fn job(&self, id: &str) -> Value {
        self.api.get(&format!("/jobs/{id}")).await.expect("get job")
    }

    /// Polls the batch until `pred` holds; panics with the last state after [`DEADLINE`].
    pub async fn wait_job(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let (ok, last) = poll_value(|| self.job(id), pred).await;
        assert!(
            ok,
            "batch {id}: timed out waiting for {what}; last: {last:#}"
        );
        last
    }

    /// Every task of a batch.
    pub async fn tasks(&self, job_id: &str) -> Vec<Value> {
        let v = self
            .api
            .get(&format!("/jobs/{job_id}/tasks?page_size=200"))
            .await
            .expect("list tasks");
        v["items"].as_array().cloned().unwrap_or_default()
    }

    /// The task of `device` in a batch.
    pub async fn task(&self, job_id: &str, device: &str) -> Value {
        let v = self
            .api
            .get(&format!("/jobs/{job_id}/tasks?device_name={device}"))
            .await
            .expect("get task");
        v["items"][0].clone()
    }

    /// Polls a device's task until `pred` holds.
    pub async fn wait_task(
        &self,
        job_id: &str,
        device: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let (ok, last) = poll_value(|| self.task(job_id, device), pred).await;
        assert!(
            ok,
            "task of {device}: timed out waiting for {what}; last: {last:#}"
        );
        last
    }

    /// A task's status, as shorthand for the common wait.
    pub async fn wait_status(&self, job_id: &str, device: &str, status: &str) -> Value {
        self.wait_task(job_id, device, status, |t| t["status"] == status)
            .await
    }
}

/// Fetches every 100 ms until `pred` holds: (true, value), or (false, last value) after
/// [`DEADLINE`].
pub async fn poll_value<F: Future<Output = Value>>(
    mut fetch: impl FnMut() -> F,
    pred: impl Fn(&Value) -> bool,
) -> (bool, Value) {
    let end = Instant::now() + DEADLINE;
    loop {
        let v = fetch().await;
        if pred(&v) {
            return (true, v);
        }
        if Instant::now() > end {
            return (false, v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Tasks of `job` in `status` (from the batch's counts).
pub fn count(job: &Value, status: &str) -> i64 {
    job["counts"]["by_status"][status].as_i64().unwrap_or(0)
}
