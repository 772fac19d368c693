//! Tasks whose devices were told to update and have not finished (NOTIFIED, IN_PROGRESS):
//! what a node recovering a lost one pushes again, batch by batch in chunks.

use crate::rows::{self, job_cols, task_cols};
use crate::{Result, Store};
use ota_domain::job::Job;
use ota_domain::task::Task;
use ota_domain::{JobId, TaskId};

impl Store {
    /// Batches with at least one NOTIFIED or IN_PROGRESS task, whatever their own status
    /// (a cancelled batch lets devices already told go on), oldest first. One index probe
    /// per batch on `tasks (job_id, status)`.
    pub async fn jobs_with_told_tasks(&self) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.job_id \
             AND t.status IN ('NOTIFIED', 'IN_PROGRESS')) ORDER BY j.created_at, j.job_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }

    /// Up to `limit` NOTIFIED or IN_PROGRESS tasks of a batch with ids after `after`, by id:
    /// pass the last id of one chunk to get the next.
    pub async fn told_tasks_of_job(
        &self,
        job_id: &JobId,
        after: Option<&TaskId>,
        limit: i64,
    ) -> Result<Vec<Task>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks t WHERE t.job_id = $1 AND t.status IN ('NOTIFIED', 'IN_PROGRESS') \
             AND t.task_id > $2 ORDER BY t.task_id LIMIT $3"
        ))
        .bind(job_id.as_str())
        .bind(after.map_or("", TaskId::as_str))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::task)
    }
}
