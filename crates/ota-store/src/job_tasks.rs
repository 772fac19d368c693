//! One batch's task list, at a million tasks. Within a batch a device has one task, so the
//! list goes in device order: a page is a range of `tasks_job_status (job_id, status,
//! device_id)` (or `tasks_job_device` without a state filter), found by keyset after a
//! given task or, for a page number, by skipping index entries alone; only the page's own
//! rows are then read. Sorting or skipping whole rows made the last page of a million
//! QUEUED tasks take over a second.

use crate::q::Q;
use crate::rows::{self, task_cols};
use crate::tasks::{TaskFilter, push_task_clauses};
use crate::{Page, Result, Store};
use ota_domain::JobId;
use ota_domain::task::Task;
use sqlx::Row;

impl Store {
    /// [`Store::list_tasks`] for a filter naming a batch: in device order, after
    /// `filter.after` when given.
    pub(crate) async fn list_job_tasks(
        &self,
        job: &JobId,
        filter: &TaskFilter,
        page: Page,
    ) -> Result<(Vec<Task>, i64)> {
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n FROM tasks j");
        push_conditions(&mut count, job, filter);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        let tasks = self.task_rows(job, filter, page, Some(total)).await?;
        Ok((tasks, total))
    }

    /// One page of the batch's tasks matching `filter`, in device order.
    pub(crate) async fn job_task_rows(
        &self,
        job: &JobId,
        filter: &TaskFilter,
        page: Page,
    ) -> Result<Vec<Task>> {
        self.task_rows(job, filter, page, None).await
    }

    /// One page of the batch's tasks; with the number of matching tasks known, a page past
    /// the middle is read from the end.
    async fn task_rows(
        &self,
        job: &JobId,
        filter: &TaskFilter,
        page: Page,
        total: Option<i64>,
    ) -> Result<Vec<Task>> {
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", task_cols!(), " FROM tasks t WHERE t.job_id = "),
        );
        q.bind(job.as_str())
            .push(" AND t.device_id IN (SELECT j.device_id FROM tasks j");
        push_conditions(&mut q, job, filter);
        if let Some(after) = &filter.after {
            q.push(" AND j.device_id > (SELECT a.device_id FROM tasks a WHERE a.task_id = ")
                .bind(after.as_str())
                .push(")");
        }
        let from_end = total
            .filter(|_| filter.after.is_none())
            .and_then(|total| page.counted_from_end(total));
        let (order, page) = match from_end {
            Some(page) => (" ORDER BY j.device_id DESC LIMIT ", page),
            None => (" ORDER BY j.device_id LIMIT ", page),
        };
        q.push(order)
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset)
            .push(") ORDER BY t.device_id");
        rows::all(&q.fetch_all(self.pool()).await?, rows::task)
    }
}

/// `WHERE …` over the batch's tasks as `j`: every clause of the filter but `after`.
fn push_conditions(q: &mut Q, job: &JobId, filter: &TaskFilter) {
    q.push(" WHERE j.job_id = ").bind(job.as_str());
    push_task_clauses(q, "j", filter);
    // Names become device ids through the batch's product, so the batch's index is used.
    if !filter.device_names.is_empty() {
        q.push(
            " AND j.device_id IN (SELECT d.id FROM devices d WHERE d.product_key = \
             (SELECT product_key FROM jobs WHERE job_id = ",
        )
        .bind(job.as_str())
        .push(") AND d.device_name IN (")
        .bind_list(filter.device_names.iter().map(String::as_str))
        .push("))");
    }
}
