//! Batches the dispatcher must serve besides the running ones: a cancelled batch whose
//! cancel left some tasks alone (per-state cancel options, or a dynamic batch's cancelled
//! policy) still pushes those tasks until they end.

use crate::rows::{self, job_cols};
use crate::{Result, Store};
use ota_domain::job::Job;

impl Store {
    /// CANCELED batches that still have QUEUED tasks, oldest first. One index probe per
    /// cancelled batch on `tasks (job_id, status)`.
    pub async fn cancelled_jobs_with_queued_tasks(&self) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.status = 'CANCELED' AND EXISTS \
             (SELECT 1 FROM tasks t WHERE t.job_id = j.job_id AND t.status = 'QUEUED') \
             ORDER BY j.created_at, j.job_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }
}
