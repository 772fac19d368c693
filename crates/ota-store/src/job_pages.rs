//! Reads that keep a batch page fast at any size: task counts by state from the
//! `(job_id, status)` index alone, and a page of a batch's tasks in device order, which
//! the `(job_id, device_id)` index serves without sorting. (`list_tasks` orders by creation
//! time and must sort every matching row first: fine for a device, slow for a batch of
//! 100,000.)

use crate::q::Q;
use crate::rows::{self, task_cols};
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
        let mut q = Q::new(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks t WHERE t.job_id = "
        ));
        q.bind(job_id.as_str());
        if !statuses.is_empty() {
            q.push(" AND t.status IN (")
                .bind_list(statuses.iter().map(|s| s.as_str()))
                .push(")");
        }
        q.push(" ORDER BY t.device_id LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        rows::all(&rows, rows::task)
    }
}
