//! Creating a batch's tasks with set-based SQL: each chunk of candidate devices is one
//! `UPDATE` (overwrite) plus one `INSERT … SELECT … ON CONFLICT DO NOTHING`, so a million
//! devices cost a few hundred statements, not a million round trips.
//!
//! Each chunk commits on its own, so a huge batch never holds SQLite's writer lock for
//! long. Creation is idempotent — devices that already have a task in the batch are
//! skipped — so a caller interrupted midway simply calls again (except for GRAY, whose
//! random pick would be drawn again from the devices not yet chosen).

use crate::filter::{push_filter, push_group};
use crate::q::{CHUNK, Q};
use crate::{Result, Store, StoreError};
use ota_domain::job::{Job, JobStatus, OverwriteMode};
use ota_domain::registry::{DeviceFilter, Group};
use ota_domain::task::{NewTask, QueuedReason, Task, TaskStart, TaskStatus};
use ota_domain::{DeviceKey, DeviceName, GroupId, Millis, TaskId};
use sqlx::Row;

/// Devices handled per statement when walking a product's devices by id.
const DEVICE_CHUNK: i64 = 5_000;

/// What to create: one task per chosen device of `job`'s product, for one module.
#[derive(Debug, Clone, Copy)]
pub struct TaskCreation<'a> {
    /// Supplies the id, product, package, `src_versions` filter, policy (overwrite mode,
    /// confirmation, push) and status (a PLANNED batch queues its tasks as SCHEDULED).
    pub job: &'a Job,
    pub module_name: &'a str,
    pub dest_version: &'a str,
    /// For a differential package: only devices currently at this version.
    pub required_src_version: Option<&'a str>,
    pub target: TaskTarget<'a>,
    pub now: Millis,
}

/// Which of the product's devices are considered.
#[derive(Debug, Clone, Copy)]
pub enum TaskTarget<'a> {
    All,
    /// Devices with these names.
    Names(&'a [String]),
    /// floor(eligible × milli_percent / 100,000) eligible devices chosen at random, at least
    /// one when any is eligible.
    Gray {
        milli_percent: u32,
    },
    /// The members of a group (a dynamic group's filter is evaluated now).
    Group(&'a GroupId),
    Filter(&'a DeviceFilter),
    /// These devices (those of another product are ignored).
    Devices(&'a [DeviceKey]),
}

/// What [`Store::create_tasks`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreatedTasks {
    pub created: i64,
    /// Eligible devices left out because they already have an unfinished task for the
    /// module that may not be replaced.
    pub skipped_busy: i64,
    /// Pending tasks of other batches cancelled (OVERWRITTEN) to make room.
    pub overwritten: i64,
}

/// One statement's worth of devices.
enum Chunk<'a> {
    /// Devices with `lo < id <= hi` that match the target.
    Ids {
        lo: i64,
        hi: i64,
    },
    Names(&'a [&'a str]),
    Picked(&'a [i64]),
}

/// The target with its group loaded.
enum Scope<'a> {
    All,
    Group(Group),
    Filter(&'a DeviceFilter),
}

impl Store {
    /// Creates the tasks `spec` describes (rules in the module docs and on the fields).
    pub async fn create_tasks(&self, spec: &TaskCreation<'_>) -> Result<CreatedTasks> {
        let (status, queued_reason) = initial_state(spec);
        let init = Init {
            status: status.as_str(),
            queued_reason: queued_reason.map(QueuedReason::as_str),
        };
        let mut out = CreatedTasks::default();
        let pk = spec.job.product_key.as_str();
        match spec.target {
            TaskTarget::Names(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                for chunk in names.chunks(CHUNK) {
                    self.create_chunk(spec, &init, &Scope::All, &Chunk::Names(chunk), &mut out)
                        .await?;
                }
            }
            TaskTarget::Devices(keys) => {
                let names: Vec<&str> = keys
                    .iter()
                    .filter(|k| k.product_key.as_str() == pk)
                    .map(|k| k.device_name.as_str())
                    .collect();
                for chunk in names.chunks(CHUNK) {
                    self.create_chunk(spec, &init, &Scope::All, &Chunk::Names(chunk), &mut out)
                        .await?;
                }
            }
            TaskTarget::Gray { milli_percent } => {
                let ids = self.pick_gray(spec, milli_percent).await?;
                for chunk in ids.chunks(CHUNK) {
                    self.create_chunk(spec, &init, &Scope::All, &Chunk::Picked(chunk), &mut out)
                        .await?;
                }
            }
            TaskTarget::All | TaskTarget::Group(_) | TaskTarget::Filter(_) => {
                let scope = match spec.target {
                    TaskTarget::Group(id) => {
                        Scope::Group(self.get_group(id).await?.ok_or(StoreError::NotFound)?)
                    }
                    TaskTarget::Filter(f) => Scope::Filter(f),
                    _ => Scope::All,
                };
                let mut lo = i64::MIN;
                while let Some(hi) = self.next_bound(pk, &scope, lo).await? {
                    self.create_chunk(spec, &init, &scope, &Chunk::Ids { lo, hi }, &mut out)
                        .await?;
                    lo = hi;
                }
            }
        }
        Ok(out)
    }

    /// The id ending the next chunk of the scope's devices after `lo`, if any remain.
    async fn next_bound(&self, pk: &str, scope: &Scope<'_>, lo: i64) -> Result<Option<i64>> {
        let mut q = Q::with(
            self.dialect(),
            "SELECT MAX(s.id) AS hi FROM (SELECT d.id FROM devices d WHERE d.product_key = ",
        );
        q.bind(pk).push(" AND d.id > ").bind(lo);
        push_scope(&mut q, scope);
        q.push(" ORDER BY d.id LIMIT ")
            .bind(DEVICE_CHUNK)
            .push(") s");
        Ok(q.fetch_one(self.pool()).await?.try_get("hi")?)
    }

    /// Draws the GRAY share of the eligible devices.
    async fn pick_gray(&self, spec: &TaskCreation<'_>, milli_percent: u32) -> Result<Vec<i64>> {
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n");
        push_candidates(&mut count, spec, &Scope::All, None);
        let eligible: i64 = count.fetch_one(self.pool()).await?.try_get("n")?;
        if eligible == 0 {
            return Ok(Vec::new());
        }
        let n = (eligible * i64::from(milli_percent) / 100_000).clamp(1, eligible);
        let mut q = Q::with(self.dialect(), "SELECT d.id AS id");
        push_candidates(&mut q, spec, &Scope::All, None);
        q.push(" ORDER BY random() LIMIT ").bind(n);
        let mut ids = q
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<Vec<i64>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    async fn create_chunk(
        &self,
        spec: &TaskCreation<'_>,
        init: &Init,
        scope: &Scope<'_>,
        chunk: &Chunk<'_>,
        out: &mut CreatedTasks,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n");
        push_candidates(&mut count, spec, scope, Some(chunk));
        let candidates: i64 = count.fetch_one(&mut *tx).await?.try_get("n")?;
        if candidates == 0 {
            return Ok(());
        }
        if spec.job.policy.overwrite_mode == OverwriteMode::Overwrite {
            // Only tasks the device has not started give way; IN_PROGRESS ones stay and
            // make the device count as busy below.
            let mut q = Q::with(
                self.dialect(),
                "UPDATE tasks SET status = 'CANCELED', cancel_reason = 'OVERWRITTEN', \
                 queued_reason = NULL, retry_at = NULL, timeout_at = NULL, nudge_at = NULL, \
                 lease_until = NULL, \
                 modified_at = ",
            );
            q.bind(spec.now)
                .push(" WHERE status IN ('CONFIRM', 'QUEUED', 'NOTIFIED') AND module_name = ")
                .bind(spec.module_name)
                .push(" AND product_key = ")
                .bind(spec.job.product_key.as_str())
                .push(" AND device_name IN (SELECT d.device_name");
            push_candidates(&mut q, spec, scope, Some(chunk));
            q.push(")");
            out.overwritten += q.execute(&mut *tx).await? as i64;
        }
        let job = spec.job;
        let mut q = Q::with(
            self.dialect(),
            "INSERT INTO tasks (task_id, job_id, firmware_id, device_id, product_key, \
             device_name, module_name, src_version, dest_version, status, queued_reason, \
             progress, retries_used, created_at, modified_at) SELECT ",
        );
        q.bind(job.job_id.as_str())
            .push(" || '-' || CAST(d.id AS TEXT), ")
            .bind(job.job_id.as_str())
            .push(", ")
            .bind(job.firmware_id.as_str())
            .push(", d.id, d.product_key, d.device_name, ")
            .bind(spec.module_name)
            .push(", mv.version, ")
            .bind(spec.dest_version)
            .push(", ")
            .bind(init.status)
            .push(", ")
            .bind(init.queued_reason)
            .push(", 0, 0, ")
            .bind(spec.now)
            .push(", ")
            .bind(spec.now);
        push_candidates(&mut q, spec, scope, Some(chunk));
        // The partial unique index refuses a second unfinished task per device and module.
        q.push(" ON CONFLICT DO NOTHING");
        let created = q.execute(&mut *tx).await? as i64;
        tx.commit().await?;
        out.created += created;
        out.skipped_busy += candidates - created;
        Ok(())
    }
}

/// The stored strings of a new task's state.
struct Init {
    status: &'static str,
    queued_reason: Option<&'static str>,
}

/// The state `Task::create` gives a task of this batch — taken from the domain itself so
/// the two can never disagree.
fn initial_state(spec: &TaskCreation<'_>) -> (TaskStatus, Option<QueuedReason>) {
    let job = spec.job;
    let start = TaskStart {
        need_confirm: job.policy.need_confirm,
        need_push: job.policy.need_push,
        scheduled_at: (job.status == JobStatus::Planned)
            .then(|| job.policy.schedule_time.unwrap_or(spec.now)),
    };
    let probe = NewTask {
        task_id: TaskId::from(""),
        job_id: job.job_id.clone(),
        firmware_id: job.firmware_id.clone(),
        product_key: job.product_key.clone(),
        device_name: DeviceName::from(""),
        module_name: spec.module_name.to_owned(),
        src_version: None,
        dest_version: spec.dest_version.to_owned(),
    };
    let t = Task::create(probe, start, spec.now);
    (t.status, t.queued_reason)
}

/// Appends ` AND …` for the scope's target.
fn push_scope(q: &mut Q, scope: &Scope<'_>) {
    match scope {
        Scope::All => {}
        Scope::Group(g) => push_group(q, g),
        Scope::Filter(f) => push_filter(q, f),
    }
}

/// Appends `FROM … WHERE …` selecting the eligible devices `d` (with their reported
/// version `mv.version`) of the chunk, or of the whole product when `chunk` is `None`.
fn push_candidates(
    q: &mut Q,
    spec: &TaskCreation<'_>,
    scope: &Scope<'_>,
    chunk: Option<&Chunk<'_>>,
) {
    let job = spec.job;
    q.push(
        " FROM devices d LEFT JOIN module_versions mv ON mv.device_id = d.id \
         AND mv.module_name = ",
    )
    .bind(spec.module_name)
    .push(" WHERE d.product_key = ")
    .bind(job.product_key.as_str());
    match chunk {
        None => {}
        Some(Chunk::Ids { lo, hi }) => {
            q.push(" AND d.id > ")
                .bind(*lo)
                .push(" AND d.id <= ")
                .bind(*hi);
        }
        Some(Chunk::Names(names)) => {
            q.push(" AND d.device_name IN (")
                .bind_list(names.iter().copied())
                .push(")");
        }
        Some(Chunk::Picked(ids)) => {
            q.push(" AND d.id IN (")
                .bind_list(ids.iter().copied())
                .push(")");
        }
    }
    push_scope(q, scope);
    if !job.src_versions.is_empty() {
        q.push(" AND mv.version IN (")
            .bind_list(job.src_versions.iter().map(String::as_str))
            .push(")");
    }
    if let Some(v) = spec.required_src_version {
        q.push(" AND mv.version = ").bind(v);
    }
    q.push(" AND (mv.version IS NULL OR mv.version <> ")
        .bind(spec.dest_version)
        .push(") AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.job_id = ")
        .bind(job.job_id.as_str())
        .push(" AND x.device_id = d.id)");
}
