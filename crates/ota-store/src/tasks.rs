//! Per-device tasks: reads for the engine's hot paths, batched saves, timer scans and
//! leased claims.

use crate::q::{CHUNK, Q, ROWS, last_per_key};
use crate::rows::{self, task_cols};
use crate::{Dialect, NewEvent, Page, Result, Store, StoreError};
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, FirmwareId, JobId, Millis, TaskId};
use sqlx::Row;

/// The statuses of an unfinished task, exactly as the partial unique index names them (so
/// both planners match queries to it).
pub(crate) const UNFINISHED: &str = "('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS')";

/// Which tasks [`Store::list_tasks`] returns; every present clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub job_id: Option<JobId>,
    pub device: Option<DeviceKey>,
    /// Any of these statuses (empty = any).
    pub statuses: Vec<TaskStatus>,
    /// Any of these device names (empty = any).
    pub device_names: Vec<String>,
    pub firmware_id: Option<FirmwareId>,
    /// With `job_id`: only the tasks after this one in the batch's list (keyset paging).
    pub after: Option<TaskId>,
}

/// ` AND …` for the filter's device, states and package, over the tasks named `alias`:
/// the clauses every task list shares (names and `after` are each list's own).
pub(crate) fn push_task_clauses(q: &mut Q, alias: &str, filter: &TaskFilter) {
    if let Some(d) = &filter.device {
        q.push(&format!(
            " AND {alias}.device_id = (SELECT id FROM devices WHERE product_key = "
        ))
        .bind(d.product_key.as_str())
        .push(" AND device_name = ")
        .bind(d.device_name.as_str())
        .push(")");
    }
    if !filter.statuses.is_empty() {
        q.push(&format!(" AND {alias}.status IN ("))
            .bind_list(filter.statuses.iter().map(|s| s.as_str()))
            .push(")");
    }
    if let Some(fw) = &filter.firmware_id {
        // A task's package is its batch's: the package's batches (`jobs_firmware`) lead to
        // their tasks through the batch's indexes (there is no index of tasks by package).
        q.push(&format!(
            " AND {alias}.job_id IN (SELECT fj.job_id FROM jobs fj WHERE fj.firmware_id = "
        ))
        .bind(fw.as_str())
        .push(&format!(") AND {alias}.firmware_id = "))
        .bind(fw.as_str());
    }
}

/// Which due work a claim takes.
enum Due<'a> {
    Retries,
    Timeouts,
    Nudges,
    Ready(&'a JobId),
}

impl Store {
    pub async fn get_task(&self, id: &TaskId) -> Result<Option<Task>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks t WHERE t.task_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::task).transpose()
    }

    /// Writes every mutable field of each task in one transaction (and drops any lease),
    /// a few hundred tasks per statement. When a task appears twice, the later copy wins.
    /// `NotFound` if a task does not exist, `Conflict` if a task would become a second
    /// unfinished task of its device and module; either way nothing is written. (Within one
    /// batch, finish a device's old task before, not after, starting its next one.)
    pub async fn save_tasks(&self, tasks: &[Task]) -> Result<()> {
        self.write_tasks(tasks, None, &[]).await
    }

    /// Saves tasks only if each row is still as it was read: `before[i]` is the status and
    /// `modified_at` task `i` had when loaded. When another node or request changed one of
    /// them meanwhile, nothing is saved and [`StoreError::Stale`] says to read and apply
    /// again, so a late writer never overwrites a newer state (a finished task brought back
    /// to IN_PROGRESS by a report applied elsewhere first, for instance).
    pub async fn save_tasks_unchanged_since(
        &self,
        tasks: &[Task],
        before: &[(TaskStatus, Millis)],
    ) -> Result<()> {
        self.save_tasks_with_events(tasks, before, &[]).await
    }

    /// [`Store::save_tasks_unchanged_since`] with the webhook events the changes cause,
    /// appended to the outbox in the same transaction (nothing more when `events` is empty).
    pub async fn save_tasks_with_events(
        &self,
        tasks: &[Task],
        before: &[(TaskStatus, Millis)],
        events: &[NewEvent],
    ) -> Result<()> {
        assert_eq!(tasks.len(), before.len(), "one prior state per task");
        self.write_tasks(tasks, Some(before), events).await
    }

    async fn write_tasks(
        &self,
        tasks: &[Task],
        before: Option<&[(TaskStatus, Millis)]>,
        events: &[NewEvent],
    ) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        let rows: Vec<(&Task, Option<(TaskStatus, Millis)>)> = match before {
            Some(before) => tasks.iter().zip(before.iter().map(|b| Some(*b))).collect(),
            None => tasks.iter().map(|t| (t, None)).collect(),
        };
        let rows = last_per_key(&rows, |(t, _)| t.task_id.as_str());
        let mut tx = self.begin_write().await?;
        for chunk in rows.chunks(ROWS) {
            if self.dialect() == Dialect::Postgres {
                // Lock in id order first: the UPDATE's own order depends on its plan.
                let mut lock = Q::with(self.dialect(), "SELECT t.task_id FROM tasks t JOIN ");
                lock.values(chunk, |q, (t, _)| {
                    q.bind(t.task_id.as_str());
                })
                .push(" ON t.task_id = v.column1 ORDER BY t.task_id FOR NO KEY UPDATE OF t");
                lock.fetch_all(&mut *tx).await?;
            }
            let mut q = Q::with(
                self.dialect(),
                "UPDATE tasks SET status = v.column2, queued_reason = v.column3, \
                 failure = v.column4, cancel_reason = v.column5, progress = v.column6, \
                 description = v.column7, retries_used = v.column8, retry_at = v.column9, \
                 timeout_at = v.column10, started_at = v.column11, modified_at = v.column12, \
                 nudge_at = v.column13, lease_until = NULL FROM ",
            );
            q.values(chunk, |q, (t, was)| {
                q.bind(t.task_id.as_str())
                    .then(t.status.as_str())
                    .then(t.queued_reason.map(|r| r.as_str()))
                    .then(t.failure.map(|r| r.as_str()))
                    .then(t.cancel_reason.map(|r| r.as_str()))
                    .then(i64::from(t.progress))
                    .then(t.desc.as_deref())
                    .then(i64::from(t.retries_used))
                    .then(t.retry_at)
                    .then(t.timeout_at)
                    .then(t.started_at)
                    .then(t.modified_at)
                    .then(t.nudge_at);
                if let Some((status, modified_at)) = was {
                    q.then(status.as_str()).then(*modified_at);
                }
            })
            .push(" WHERE tasks.task_id = v.column1");
            if before.is_some() {
                q.push(" AND tasks.status = v.column14 AND tasks.modified_at = v.column15");
            }
            if q.execute(&mut *tx).await? != chunk.len() as u64 {
                // The transaction is dropped unfinished: nothing of it is saved.
                return Err(if before.is_some() {
                    StoreError::Stale
                } else {
                    StoreError::NotFound
                });
            }
        }
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The unfinished tasks of these devices (the hot path of every device message).
    pub async fn active_tasks_for_devices(&self, devices: &[DeviceKey]) -> Result<Vec<Task>> {
        let mut out = Vec::new();
        for chunk in devices.chunks(CHUNK) {
            // A join against VALUES keeps one index probe per device on both engines; an
            // IN list of parameters in a generic PostgreSQL plan is re-evaluated per row.
            let mut q = Q::with(self.dialect(), concat!("SELECT ", task_cols!(), " FROM "));
            q.values(chunk, |q, d| {
                q.bind(d.product_key.as_str()).then(d.device_name.as_str());
            })
            .push(
                " JOIN devices d ON d.product_key = v.column1 AND d.device_name = v.column2 \
                 JOIN tasks t ON t.device_id = d.id WHERE t.status IN ",
            )
            .push(UNFINISHED);
            out.extend(rows::all(&q.fetch_all(self.pool()).await?, rows::task)?);
        }
        Ok(out)
    }

    /// Tasks matching `filter` with the total: a batch's in device order (after
    /// `filter.after`; device names are those of the devices registered now), any other
    /// list oldest first.
    pub async fn list_tasks(&self, filter: &TaskFilter, page: Page) -> Result<(Vec<Task>, i64)> {
        if let Some(job) = &filter.job_id {
            return self.list_job_tasks(job, filter, page).await;
        }
        let push = |q: &mut Q| {
            push_task_clauses(q, "t", filter);
            if !filter.device_names.is_empty() {
                q.push(" AND t.device_name IN (")
                    .bind_list(filter.device_names.iter().map(String::as_str))
                    .push(")");
            }
        };
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", task_cols!(), " FROM tasks t WHERE 1 = 1"),
        );
        push(&mut q);
        q.push(" ORDER BY t.created_at, t.device_id, t.task_id LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::with(
            self.dialect(),
            "SELECT COUNT(*) AS n FROM tasks t WHERE 1 = 1",
        );
        push(&mut count);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok((rows::all(&rows, rows::task)?, total))
    }

    /// The tasks with these ids that exist, in no particular order.
    pub async fn tasks_by_ids(&self, ids: &[TaskId]) -> Result<Vec<Task>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut q = Q::with(
                self.dialect(),
                concat!(
                    "SELECT ",
                    task_cols!(),
                    " FROM tasks t WHERE t.task_id IN ("
                ),
            );
            q.bind_list(chunk.iter().map(TaskId::as_str)).push(")");
            out.extend(rows::all(&q.fetch_all(self.pool()).await?, rows::task)?);
        }
        Ok(out)
    }

    /// QUEUED tasks of a batch waiting only for a push slot (READY, OFFLINE or RATE_LIMITED)
    /// whose device is online now, in device order.
    pub async fn ready_tasks(&self, job_id: &JobId, limit: i64) -> Result<Vec<Task>> {
        self.due(Due::Ready(job_id), 0, limit, None).await
    }

    /// The device's NOTIFIED tasks: pushed before, re-pushed when it reconnects.
    pub async fn tasks_to_repush_for(&self, key: &DeviceKey) -> Result<Vec<Task>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks t WHERE t.device_id = (SELECT id FROM devices \
             WHERE product_key = $1 AND device_name = $2) \
             AND t.status = 'NOTIFIED' ORDER BY t.created_at"
        ))
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::task)
    }

    /// QUEUED tasks whose retry time has come, earliest first.
    pub async fn due_retries(&self, now: Millis, limit: i64) -> Result<Vec<Task>> {
        self.due(Due::Retries, now, limit, None).await
    }

    /// IN_PROGRESS tasks whose timeout has passed, earliest first.
    pub async fn due_timeouts(&self, now: Millis, limit: i64) -> Result<Vec<Task>> {
        self.due(Due::Timeouts, now, limit, None).await
    }

    /// Like [`Store::due_retries`], but leases the tasks for `lease_ms` so that other nodes
    /// skip them until the lease ends or the tasks are saved.
    pub async fn claim_due_retries(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Task>> {
        self.due(Due::Retries, now, limit, Some(lease_ms)).await
    }

    /// Like [`Store::due_timeouts`], with a lease (see [`Store::claim_due_retries`]).
    pub async fn claim_due_timeouts(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Task>> {
        self.due(Due::Timeouts, now, limit, Some(lease_ms)).await
    }

    /// Told tasks whose device has been silent past their nudge time, earliest first.
    pub async fn due_nudges(&self, now: Millis, limit: i64) -> Result<Vec<Task>> {
        self.due(Due::Nudges, now, limit, None).await
    }

    /// Like [`Store::due_nudges`], with a lease (see [`Store::claim_due_retries`]).
    pub async fn claim_due_nudges(
        &self,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Task>> {
        self.due(Due::Nudges, now, limit, Some(lease_ms)).await
    }

    /// Like [`Store::ready_tasks`], with a lease (see [`Store::claim_due_retries`]).
    pub async fn claim_ready_tasks(
        &self,
        job_id: &JobId,
        now: Millis,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<Task>> {
        self.due(Due::Ready(job_id), now, limit, Some(lease_ms))
            .await
    }

    /// Ends the leases of claimed tasks that were left as they were (a push that reached no
    /// connection on this node), so another node may take them at once.
    pub async fn release_leases(&self, ids: &[TaskId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in ids.chunks(CHUNK) {
            let mut up = Q::with(
                self.dialect(),
                "UPDATE tasks SET lease_until = NULL WHERE task_id IN (",
            );
            up.bind_list(chunk.iter().map(TaskId::as_str)).push(")");
            up.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` unfinished tasks of a batch (to cancel or finish it in chunks).
    pub async fn unfinished_tasks_of_job(&self, job_id: &JobId, limit: i64) -> Result<Vec<Task>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            task_cols!(),
            " FROM tasks t WHERE t.job_id = $1 \
             AND t.status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS') \
             ORDER BY t.device_id LIMIT $2"
        ))
        .bind(job_id.as_str())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::task)
    }

    pub async fn count_unfinished(&self, job_id: &JobId) -> Result<i64> {
        Ok(sqlx::query(
            "SELECT COUNT(*) AS n FROM tasks WHERE job_id = $1 \
             AND status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS')",
        )
        .bind(job_id.as_str())
        .fetch_one(self.pool())
        .await?
        .try_get("n")?)
    }

    async fn due(
        &self,
        what: Due<'_>,
        now: Millis,
        limit: i64,
        lease: Option<i64>,
    ) -> Result<Vec<Task>> {
        let mut q = Q::with(self.dialect(), concat!("SELECT ", task_cols!()));
        let order = match what {
            Due::Retries => {
                q.push(" FROM tasks t WHERE t.retry_at <= ")
                    .bind(now)
                    .push(" AND t.status = 'QUEUED' AND t.queued_reason = 'RETRY_SCHEDULED'");
                " ORDER BY t.retry_at, t.task_id"
            }
            Due::Timeouts => {
                q.push(" FROM tasks t WHERE t.timeout_at <= ")
                    .bind(now)
                    .push(" AND t.status = 'IN_PROGRESS'");
                " ORDER BY t.timeout_at, t.task_id"
            }
            Due::Nudges => {
                q.push(" FROM tasks t WHERE t.nudge_at <= ")
                    .bind(now)
                    .push(" AND t.status IN ('NOTIFIED', 'IN_PROGRESS')");
                " ORDER BY t.nudge_at, t.task_id"
            }
            Due::Ready(job) => {
                // From the online devices (`devices_online`), few beside a fleet, to their
                // task in the batch, in device order: a million QUEUED tasks of offline
                // devices are never read, and the first `limit` found end the walk.
                q.push(
                    " FROM devices d CROSS JOIN tasks t WHERE d.online = 1 \
                     AND t.device_id = d.id AND t.job_id = ",
                )
                .bind(job.as_str())
                .push(
                    " AND t.status = 'QUEUED' AND t.queued_reason IN \
                     ('READY', 'OFFLINE', 'RATE_LIMITED')",
                );
                " ORDER BY d.id"
            }
        };
        let Some(lease_ms) = lease else {
            q.push(order).push(" LIMIT ").bind(limit);
            return rows::all(&q.fetch_all(self.pool()).await?, rows::task);
        };
        q.push(" AND (t.lease_until IS NULL OR t.lease_until <= ")
            .bind(now)
            .push(")")
            .push(order)
            .push(" LIMIT ")
            .bind(limit);
        if self.dialect() == Dialect::Postgres {
            // Concurrent claimers pass over each other's rows instead of waiting on them.
            q.push(" FOR UPDATE OF t SKIP LOCKED");
        }
        let mut tx = self.begin_write().await?;
        let tasks = rows::all(&q.fetch_all(&mut *tx).await?, rows::task)?;
        for chunk in tasks.chunks(CHUNK) {
            let mut up = Q::with(self.dialect(), "UPDATE tasks SET lease_until = ");
            up.bind(now + lease_ms)
                .push(" WHERE task_id IN (")
                .bind_list(chunk.iter().map(|t| t.task_id.as_str()))
                .push(")");
            up.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(tasks)
    }
}
