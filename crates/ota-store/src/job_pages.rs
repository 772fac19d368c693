//! Reads that keep a batch page fast at any size: task counts by state from the
//! `(job_id, status, …)` index alone, and a page of a batch's tasks in device order
//! (`job_tasks.rs`) without the total.

use crate::rows;
use crate::tasks::TaskFilter;
use crate::{Page, Result, Store};
use ota_domain::JobId;
use ota_domain::task::{Task, TaskStatus};
use sqlx::Row;
use std::collections::HashMap;

impl Store {
    /// Tasks of a batch by status, in one grouped query over an index.
    pub async fn job_status_counts(&self, job_id: &JobId) -> Result<HashMap<TaskStatus, i64>> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM tasks WHERE job_id = $1 GROUP BY status",
        )
        .bind(job_id.as_str())
        .fetch_all(self.pool())
        .await?;
        let mut out = HashMap::new();
        for r in &rows {
            let status = rows::parse_or_corrupt(r, "status", TaskStatus::parse)?;
            out.insert(status, r.try_get::<i64, _>("n")?);
        }
        Ok(out)
    }

    /// One page of a batch's tasks in any of `statuses` (all when empty), in device order.
    pub async fn job_task_page(
        &self,
        job_id: &JobId,
        statuses: &[TaskStatus],
        page: Page,
    ) -> Result<Vec<Task>> {
        let filter = TaskFilter {
            statuses: statuses.to_vec(),
            ..TaskFilter::default()
        };
        self.job_task_rows(job_id, &filter, page).await
    }
}
