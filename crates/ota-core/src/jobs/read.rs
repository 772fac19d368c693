//! Batches and their tasks as they are.

use crate::error::Found;
use crate::{CoreResult, Jobs};
use ota_domain::job::Job;
use ota_domain::task::Task;
use ota_domain::{FirmwareId, JobId};
use ota_store::{JobCounts, Page, TaskFilter};

impl Jobs<'_> {
    pub async fn get(&self, id: &JobId) -> CoreResult<Job> {
        self.store()
            .get_job(id)
            .await
            .found("JobId", format!("batch {id}"))
    }

    pub async fn of_firmware(&self, id: &FirmwareId, page: Page) -> CoreResult<(Vec<Job>, i64)> {
        Ok(self.store().list_jobs_by_firmware(id, page).await?)
    }

    /// Task counts of a batch, by state and reason.
    pub async fn counts(&self, id: &JobId) -> CoreResult<JobCounts> {
        self.store()
            .get_job(id)
            .await
            .found("JobId", format!("batch {id}"))?;
        Ok(self.store().job_task_counts(id).await?)
    }

    pub async fn list_tasks(
        &self,
        filter: &TaskFilter,
        page: Page,
    ) -> CoreResult<(Vec<Task>, i64)> {
        Ok(self.store().list_tasks(filter, page).await?)
    }
}
