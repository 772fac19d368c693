//! One batch's task list, at a million tasks. Within a batch a device has one task, so the
//! list goes in device order: a page is a range of `tasks_job_status (job_id, status,
//! device_id)` for one state, or a merge of the ranges of several states (every state
//! without a state filter), found by keyset after a given task or, for a page number, by
//! skipping index entries alone; only the page's own rows are then read, by task id (the
//! batch's id, '-', the device's id). Sorting or skipping whole rows made the last page of
//! a million QUEUED tasks take over a second.

use crate::q::Q;
use crate::rows::{self, task_cols};
use crate::tasks::{TaskFilter, push_task_clauses};
use crate::{Dialect, Page, Result, Store};
use ota_domain::JobId;
use ota_domain::task::{Task, TaskStatus};
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
        let from_end = total
            .filter(|_| filter.after.is_none())
            .and_then(|total| page.counted_from_end(total));
        let (dir, page) = match from_end {
            Some(page) => (" DESC", page),
            None => ("", page),
        };
        let mut statuses: Vec<TaskStatus> = if filter.statuses.is_empty() {
            TaskStatus::ALL.to_vec()
        } else {
            filter.statuses.clone()
        };
        statuses.sort();
        statuses.dedup();
        let mut q = Q::with(
            self.dialect(),
            concat!(
                "SELECT ",
                task_cols!(),
                " FROM tasks t WHERE t.task_id IN (SELECT "
            ),
        );
        q.bind(job.as_str())
            .push(" || '-' || CAST(u.device_id AS TEXT) FROM (");
        // Each state's range of the index is in device order; the page is taken from their
        // merge. SQLite merges the ordered terms of a compound SELECT itself; PostgreSQL
        // merges ordered subqueries of a UNION ALL it reads from (a Merge Append) but sorts
        // the whole union when the ORDER BY is the compound's own.
        let merged = statuses.len() > 1 && self.dialect() == Dialect::Postgres;
        if merged {
            q.push("SELECT v.device_id FROM (");
        }
        for (i, status) in statuses.iter().enumerate() {
            if i > 0 {
                q.push(" UNION ALL ");
            }
            if merged {
                q.push("(");
            }
            q.push("SELECT j.device_id FROM tasks j");
            let arm = TaskFilter {
                statuses: vec![*status],
                ..filter.clone()
            };
            push_conditions(&mut q, job, &arm);
            if let Some(after) = &filter.after {
                q.push(" AND j.device_id > (SELECT a.device_id FROM tasks a WHERE a.task_id = ")
                    .bind(after.as_str())
                    .push(")");
            }
            if merged {
                q.push(" ORDER BY j.device_id").push(dir).push(")");
            }
        }
        if merged {
            q.push(") v ORDER BY v.device_id");
        } else {
            q.push(" ORDER BY device_id");
        }
        q.push(dir)
            .push(" LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset)
            .push(") u) ORDER BY t.device_id");
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
