//! Batches ("jobs").

use crate::changes::Change;
use crate::error::touched;
use crate::q::Q;
use crate::rows::{self, job_cols, to_json};
use crate::{NewEvent, Page, Result, Store};
use ota_domain::job::{Creation, Job, JobStatus, SelectionType};
use ota_domain::{DeviceKey, FirmwareId, JobId, Millis, ProductKey};
use sqlx::Row;

impl Store {
    /// Adds a batch; `Conflict` if the id exists. Its module is taken from its package.
    pub async fn insert_job(&self, j: &Job) -> Result<()> {
        self.insert_job_with_events(j, &[]).await
    }

    /// [`Store::insert_job`] with the webhook events the new batch causes, appended to the
    /// outbox in the same transaction.
    pub async fn insert_job_with_events(&self, j: &Job, events: &[NewEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO jobs (job_id, firmware_id, product_key, module_name, job_type, \
             selection_type, target_json, src_versions_json, policy_json, tags_json, name, \
             description, status, schedule_time, schedule_finish_time, created_at, modified_at, \
             started_at, finished_at, control_json, creation_json, creating, wave_json) \
             VALUES ($1, $2, $3, (SELECT module_name FROM firmwares WHERE firmware_id = $2), \
             $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22)",
        )
        .bind(j.job_id.as_str())
        .bind(j.firmware_id.as_str())
        .bind(j.product_key.as_str())
        .bind(j.job_type.as_str())
        .bind(j.selection_type.as_str())
        .bind(to_json(&j.target_selection))
        .bind(to_json(&j.src_versions))
        .bind(to_json(&j.policy))
        .bind(to_json(&j.tags))
        .bind(j.name.as_deref())
        .bind(j.description.as_deref())
        .bind(j.status.as_str())
        .bind(j.policy.schedule_time)
        .bind(j.policy.schedule_finish_time)
        .bind(j.created_at)
        .bind(j.modified_at)
        .bind(j.started_at)
        .bind(j.finished_at)
        .bind(to_json(&j.control))
        .bind(j.creation.as_ref().map(to_json))
        .bind(i64::from(j.is_creating()))
        .bind(j.wave.as_ref().map(to_json))
        .execute(&mut *tx)
        .await?;
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_job(&self, id: &JobId) -> Result<Option<Job>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.job_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::job).transpose()
    }

    /// Rewrites every mutable field (status, policy, selection, tags, texts, times), and
    /// announces the change to the other nodes' caches.
    pub async fn update_job(&self, j: &Job) -> Result<()> {
        self.update_job_with_events(j, &[]).await
    }

    /// [`Store::update_job`] with the webhook events the change causes, appended to the
    /// outbox in the same transaction.
    pub async fn update_job_with_events(&self, j: &Job, events: &[NewEvent]) -> Result<()> {
        touched(self.write_job(j, events, None).await?)
    }

    /// [`Store::update_job_with_events`] only if the stored batch is still as `read` was
    /// (same status and `modified_at`): false, writing nothing, when another writer got
    /// there first. For writes a timer decides from what it read (a batch settling as
    /// completed must not overwrite an operator's cancel stored meanwhile).
    pub async fn update_job_if_unchanged(
        &self,
        j: &Job,
        events: &[NewEvent],
        read: &Job,
    ) -> Result<bool> {
        Ok(self.write_job(j, events, Some(read)).await? > 0)
    }

    async fn write_job(&self, j: &Job, events: &[NewEvent], read: Option<&Job>) -> Result<u64> {
        let condition = if read.is_some() {
            " AND status = $16 AND modified_at = $17"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET selection_type = $2, target_json = $3, src_versions_json = $4, \
             policy_json = $5, tags_json = $6, name = $7, description = $8, status = $9, \
             schedule_time = $10, schedule_finish_time = $11, modified_at = $12, \
             started_at = $13, finished_at = $14, control_json = $15 WHERE job_id = $1{condition}"
        );
        let mut write = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(j.job_id.as_str())
            .bind(j.selection_type.as_str())
            .bind(to_json(&j.target_selection))
            .bind(to_json(&j.src_versions))
            .bind(to_json(&j.policy))
            .bind(to_json(&j.tags))
            .bind(j.name.as_deref())
            .bind(j.description.as_deref())
            .bind(j.status.as_str())
            .bind(j.policy.schedule_time)
            .bind(j.policy.schedule_finish_time)
            .bind(j.modified_at)
            .bind(j.started_at)
            .bind(j.finished_at)
            .bind(to_json(&j.control));
        if let Some(read) = read {
            write = write.bind(read.status.as_str()).bind(read.modified_at);
        }
        let change = Change::Job(j.job_id.as_str().to_owned());
        self.write_announced_with_events(write, change, events)
            .await
    }

    /// A package's batches, newest first.
    pub async fn list_jobs_by_firmware(
        &self,
        firmware_id: &FirmwareId,
        page: Page,
    ) -> Result<(Vec<Job>, i64)> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.firmware_id = $1 ORDER BY j.created_at DESC, j.job_id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(firmware_id.as_str())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE firmware_id = $1")
            .bind(firmware_id.as_str())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows::all(&rows, rows::job)?, total))
    }

    /// Every batch in one of `statuses`, oldest first (the engine's scan; active batches
    /// are few).
    pub async fn list_jobs_by_status(&self, statuses: &[JobStatus]) -> Result<Vec<Job>> {
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", job_cols!(), " FROM jobs j WHERE j.status IN ("),
        );
        q.bind_list(statuses.iter().map(|s| s.as_str()))
            .push(") ORDER BY j.created_at, j.job_id");
        rows::all(&q.fetch_all(self.pool()).await?, rows::job)
    }

    /// Ends a batch's creation at `progress` (its target is gone), if still at `progress`.
    pub async fn end_creation(&self, id: &JobId, progress: &Creation, now: Millis) -> Result<()> {
        let mut done = *progress;
        done.finish(now);
        let mut tx = self.begin_write().await?;
        crate::task_creation::record_progress(&mut tx, self, id, progress, &done).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Batches whose tasks are still being created, oldest first.
    pub async fn jobs_being_created(&self) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.creating <> 0 ORDER BY j.created_at, j.job_id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }

    /// IN_PROGRESS static batches whose tasks are all created and finished: batches whose
    /// completion was missed (the node that stored the last report died before it
    /// settled the batch). One probe of the status index per active batch.
    pub async fn finished_unsettled_jobs(&self) -> Result<Vec<JobId>> {
        let rows = sqlx::query(
            "SELECT j.job_id AS job_id FROM jobs j WHERE j.status = 'IN_PROGRESS' \
             AND j.selection_type = 'STATIC' AND j.creating = 0 \
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.job_id \
             AND t.status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS')) \
             ORDER BY j.job_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(JobId(r.try_get("job_id")?)))
            .collect()
    }

    /// PLANNED batches whose start time has come (and whose tasks are all created).
    pub async fn due_planned_jobs(&self, now: Millis) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.status = 'PLANNED' AND j.schedule_time <= $1 \
             AND j.creating = 0 \
             ORDER BY j.schedule_time, j.job_id"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }

    /// IN_PROGRESS batches whose finish time has come (and whose tasks are all created).
    pub async fn due_finishing_jobs(&self, now: Millis) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.status = 'IN_PROGRESS' AND j.schedule_finish_time <= $1 \
             AND j.creating = 0 \
             ORDER BY j.schedule_finish_time, j.job_id"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }

    /// IN_PROGRESS dynamic batches of a product's module, newest first: the batches a
    /// newly reporting device may join.
    pub async fn active_dynamic_jobs(&self, pk: &ProductKey, module: &str) -> Result<Vec<Job>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.product_key = $1 AND j.module_name = $2 \
             AND j.status = 'IN_PROGRESS' AND j.selection_type = $3 \
             ORDER BY j.created_at DESC, j.job_id DESC"
        ))
        .bind(pk.as_str())
        .bind(module)
        .bind(SelectionType::Dynamic.as_str())
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::job)
    }

    /// Batches that have a task for the device, newest first.
    pub async fn jobs_by_device(&self, key: &DeviceKey, page: Page) -> Result<(Vec<Job>, i64)> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            job_cols!(),
            " FROM jobs j WHERE j.job_id IN (SELECT t.job_id FROM tasks t \
             WHERE t.device_id = (SELECT id FROM devices \
             WHERE product_key = $1 AND device_name = $2)) \
             ORDER BY j.created_at DESC, j.job_id LIMIT $3 OFFSET $4"
        ))
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query(
            "SELECT COUNT(DISTINCT job_id) AS n FROM tasks WHERE device_id = \
             (SELECT id FROM devices WHERE product_key = $1 AND device_name = $2)",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok((rows::all(&rows, rows::job)?, total))
    }
}
