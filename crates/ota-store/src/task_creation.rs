//! Creating a batch's tasks with set-based SQL: each chunk of candidate devices is one
//! `UPDATE` (overwrite) plus one `INSERT … SELECT … ON CONFLICT DO NOTHING`, so a million
//! devices cost a few hundred statements, not a million round trips.
//!
//! Each chunk commits on its own, so a huge batch never holds the writer for long. With a
//! recorded creation ([`Store::create_task_chunk`] with `record`) the chunk's transaction
//! also stores the batch's progress (`ota_domain::job::Creation`): the cursor after the
//! chunk and the counts. A creation interrupted anywhere resumes from its last commit, and
//! two nodes can never both commit the same chunk (the progress is written only over the
//! progress the chunk started from).
//!
//! GRAY draws its share without keeping a list: every device gets a rank, a fixed
//! pseudo-random permutation of its id seeded by the batch, and the batch takes the devices
//! whose rank is at most the threshold that lets exactly its share through. The threshold
//! is fixed by the first chunk, so later chunks (after a restart too) walk the devices by
//! id like ALL does.

use crate::changes::Change;
use crate::filter::{push_filter, push_group};
use crate::q::{CHUNK, Q};
use crate::rows::to_json;
use crate::{Result, Store, StoreError};
use ota_domain::job::{CreatedTasks, Creation, Job, JobStatus, OverwriteMode};
use ota_domain::registry::{DeviceFilter, Group};
use ota_domain::rollout::WaveLink;
use ota_domain::task::{NewTask, QueuedReason, Task, TaskStart, TaskStatus};
use ota_domain::{DeviceKey, DeviceName, GroupId, JobId, Millis, TaskId};
use sqlx::{Any, Row, Transaction};

/// Device ids per chunk when walking a product's devices by id: a chunk holds
/// the store's writer for a few tens of milliseconds, so device reports waiting behind it
/// are not held long.
const DEVICE_CHUNK: i64 = 2_000;

/// The GRAY rank of device `d`: `(d.id × multiplier) mod PRIME`, where the multiplier
/// (1..PRIME) is drawn from the batch id. Multiplying by a number coprime with a prime is
/// a permutation of the ids below it, so no two devices tie; different multipliers order
/// the devices differently (an added offset would only rotate one order). Ids and the
/// multiplier stay below 2^31, so the product fits in 64 bits on both engines.
const RANK_PRIME: i64 = 2_147_483_647;

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
    /// floor(eligible × milli_percent / 100,000) eligible devices, at least one when any is
    /// eligible, drawn by the batch's rank (module docs).
    Gray {
        milli_percent: u32,
    },
    /// The members of a group (a dynamic group's filter is evaluated now).
    Group(&'a GroupId),
    Filter(&'a DeviceFilter),
    /// These devices (those of another product are ignored).
    Devices(&'a [DeviceKey]),
    /// A rollout wave: eligible devices no earlier wave took, the members of a group or
    /// the first `pick` of them in the rollout's rank order (module docs).
    Wave(&'a WaveLink),
}

/// One statement's worth of devices.
enum Chunk<'a> {
    /// Devices with `lo < id <= hi` that match the target.
    Ids {
        lo: i64,
        hi: i64,
    },
    Names(&'a [&'a str]),
}

/// The target with its group loaded.
enum Scope<'a> {
    All,
    Group(Group),
    Filter(&'a DeviceFilter),
    /// GRAY: the devices whose rank under `seed` is at most `threshold`.
    Ranked {
        seed: i64,
        threshold: i64,
    },
    /// A rollout wave: not in the `exclude`d batches, in the group if any, and ranked
    /// at most `threshold` under `seed` when it draws a number of devices.
    Wave {
        group: Option<Box<Group>>,
        exclude: &'a [JobId],
        ranked: Option<(i64, i64)>,
    },
}

/// The next chunk of a creation, or none left.
enum Next<'a> {
    /// The chunk, its scope (boxed: a group is large) and the cursor after it.
    Chunk(Chunk<'a>, Box<Scope<'a>>, i64),
    Done,
}

impl Store {
    /// Creates every task `spec` describes, chunk after chunk (rules in the module docs
    /// and on the fields), without recording progress.
    pub async fn create_tasks(&self, spec: &TaskCreation<'_>) -> Result<CreatedTasks> {
        let mut creation = Creation::start(spec.now);
        while creation.is_running() {
            creation = self.create_task_chunk(spec, &creation, false).await?;
        }
        Ok(creation.counts())
    }

    /// Creates the next chunk of `spec`'s tasks after `progress` and returns the progress
    /// after it, finished when no device is left. With `record`, the chunk's transaction
    /// also stores the new progress as the batch's creation (and ends it when finished),
    /// but only over `progress`: if the stored creation moved meanwhile, nothing is
    /// written and the result is [`StoreError::Stale`].
    pub async fn create_task_chunk(
        &self,
        spec: &TaskCreation<'_>,
        progress: &Creation,
        record: bool,
    ) -> Result<Creation> {
        let mut next = *progress;
        let names: Vec<&str>;
        let pk = spec.job.product_key.as_str();
        let from = progress.cursor.unwrap_or(0);
        let step = match spec.target {
            TaskTarget::Names(list) => {
                let (start, end) = list_window(from, list.len());
                names = list[start..end].iter().map(String::as_str).collect();
                list_step(&names, start, end)
            }
            TaskTarget::Devices(keys) => {
                let (start, end) = list_window(from, keys.len());
                names = keys[start..end]
                    .iter()
                    .filter(|k| k.product_key.as_str() == pk)
                    .map(|k| k.device_name.as_str())
                    .collect();
                list_step(&names, start, end)
            }
            TaskTarget::Gray { milli_percent } => {
                let seed = rank_seed(spec.job.job_id.as_str());
                let threshold = match progress.threshold {
                    Some(threshold) => threshold,
                    None => {
                        let (pick, threshold) =
                            self.gray_threshold(spec, milli_percent, seed).await?;
                        next.pick = Some(pick);
                        next.threshold = Some(threshold);
                        threshold
                    }
                };
                self.id_step(pk, Scope::Ranked { seed, threshold }, progress.cursor)
                    .await?
            }
            TaskTarget::Wave(link) => {
                let group = match &link.group_id {
                    Some(id) => Some(Box::new(
                        self.get_group(id).await?.ok_or(StoreError::NotFound)?,
                    )),
                    None => None,
                };
                let seed = rank_seed(link.rollout_id.as_str());
                let mut scope = Scope::Wave {
                    group,
                    exclude: &link.exclude,
                    ranked: None,
                };
                if let Some(pick) = link.pick {
                    let threshold = match progress.threshold {
                        Some(threshold) => threshold,
                        None => {
                            let (taken, threshold) =
                                self.rank_threshold(spec, &scope, pick, seed).await?;
                            next.pick = Some(taken);
                            next.threshold = Some(threshold);
                            threshold
                        }
                    };
                    if let Scope::Wave { ranked, .. } = &mut scope {
                        *ranked = Some((seed, threshold));
                    }
                }
                self.id_step(pk, scope, progress.cursor).await?
            }
            TaskTarget::All | TaskTarget::Group(_) | TaskTarget::Filter(_) => {
                let scope = match spec.target {
                    TaskTarget::Group(id) => {
                        Scope::Group(self.get_group(id).await?.ok_or(StoreError::NotFound)?)
                    }
                    TaskTarget::Filter(f) => Scope::Filter(f),
                    _ => Scope::All,
                };
                self.id_step(pk, scope, progress.cursor).await?
            }
        };
        let mut tx = self.begin_write().await?;
        let (counts, cursor) = match &step {
            Next::Chunk(chunk, scope, cursor) => (
                create_chunk(&mut tx, self, spec, scope, chunk).await?,
                *cursor,
            ),
            Next::Done => (CreatedTasks::default(), from),
        };
        next.advance(counts, cursor);
        if matches!(step, Next::Done) {
            next.finish(spec.now);
        }
        if record {
            record_progress(&mut tx, self, &spec.job.job_id, progress, &next).await?;
        }
        tx.commit().await?;
        Ok(next)
    }

    /// The next chunk of the scope's devices after `cursor` (a device id): the ids from
    /// the scope's next device up to [`DEVICE_CHUNK`] ids further. Found with one index
    /// probe (the smallest id above the cursor) rather than by sorting the ids left, which
    /// a planner with stale statistics did for every chunk: quadratic over a large product.
    async fn id_step<'a>(
        &self,
        pk: &str,
        scope: Scope<'a>,
        cursor: Option<i64>,
    ) -> Result<Next<'a>> {
        let lo = cursor.unwrap_or(i64::MIN);
        // The walk is over the product's devices; the scope narrows each chunk. A ranked
        // scope filters on an expression no index has, so it walks all of them.
        let mut q = Q::with(
            self.dialect(),
            "SELECT MIN(d.id) AS next FROM devices d WHERE d.product_key = ",
        );
        q.bind(pk).push(" AND d.id > ").bind(lo);
        match &scope {
            Scope::Ranked { .. } => {}
            Scope::Wave { group, .. } => {
                if let Some(g) = group {
                    push_group(&mut q, g);
                }
            }
            _ => push_scope(&mut q, &scope),
        }
        let next: Option<i64> = q.fetch_one(self.pool()).await?.try_get("next")?;
        Ok(match next {
            Some(next) => {
                let hi = next.saturating_add(DEVICE_CHUNK - 1);
                Next::Chunk(Chunk::Ids { lo, hi }, Box::new(scope), hi)
            }
            None => Next::Done,
        })
    }

    /// Devices of `spec`'s product eligible for its batch: what a rollout's wave
    /// percentages are of.
    pub async fn count_eligible(&self, spec: &TaskCreation<'_>) -> Result<u64> {
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n");
        push_candidates(&mut count, spec, &Scope::All, None);
        let n: i64 = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok(n.max(0) as u64)
    }

    /// How many of the devices in `scope` a wave drawing `pick` takes (all of them when
    /// fewer are left), and the rank threshold that lets exactly those through.
    async fn rank_threshold(
        &self,
        spec: &TaskCreation<'_>,
        scope: &Scope<'_>,
        pick: u64,
        seed: i64,
    ) -> Result<(u64, i64)> {
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n");
        push_candidates(&mut count, spec, scope, None);
        let left: i64 = count.fetch_one(self.pool()).await?.try_get("n")?;
        let n = (pick.min(i64::MAX as u64) as i64).min(left);
        if n <= 0 {
            return Ok((0, -1));
        }
        let mut q = Q::with(self.dialect(), "SELECT ");
        push_rank(&mut q, seed);
        q.push(" AS r");
        push_candidates(&mut q, spec, scope, None);
        q.push(" ORDER BY r LIMIT 1 OFFSET ").bind(n - 1);
        let threshold: i64 = q.fetch_one(self.pool()).await?.try_get("r")?;
        Ok((n as u64, threshold))
    }

    /// How many devices the GRAY share takes, and the rank threshold that lets exactly
    /// that many of the eligible devices through.
    async fn gray_threshold(
        &self,
        spec: &TaskCreation<'_>,
        milli_percent: u32,
        seed: i64,
    ) -> Result<(u64, i64)> {
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n");
        push_candidates(&mut count, spec, &Scope::All, None);
        let eligible: i64 = count.fetch_one(self.pool()).await?.try_get("n")?;
        if eligible == 0 {
            return Ok((0, -1));
        }
        let n = (eligible * i64::from(milli_percent) / 100_000).clamp(1, eligible);
        let mut q = Q::with(self.dialect(), "SELECT ");
        push_rank(&mut q, seed);
        q.push(" AS r");
        push_candidates(&mut q, spec, &Scope::All, None);
        q.push(" ORDER BY r LIMIT 1 OFFSET ").bind(n - 1);
        let threshold: i64 = q.fetch_one(self.pool()).await?.try_get("r")?;
        Ok((n as u64, threshold))
    }
}

/// The entries `start..end` of a list of `len` the next chunk takes after `cursor` (the
/// entries done so far).
fn list_window(cursor: i64, len: usize) -> (usize, usize) {
    let start = usize::try_from(cursor).unwrap_or(0).min(len);
    (start, (start + CHUNK).min(len))
}

/// The step over list entries `start..end`, whose names in the product are `names` (none
/// when all are of other products); done when the window is empty.
fn list_step<'a>(names: &'a [&'a str], start: usize, end: usize) -> Next<'a> {
    if start == end {
        Next::Done
    } else {
        Next::Chunk(Chunk::Names(names), Box::new(Scope::All), end as i64)
    }
}

/// Creates one chunk's tasks inside `tx`.
async fn create_chunk(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    spec: &TaskCreation<'_>,
    scope: &Scope<'_>,
    chunk: &Chunk<'_>,
) -> Result<CreatedTasks> {
    if matches!(chunk, Chunk::Names([])) {
        return Ok(CreatedTasks::default());
    }
    let dialect = store.dialect();
    // A range of devices none of which holds an unfinished task of the module has nobody
    // busy and nothing to overwrite: the chunk is its INSERT alone (most chunks of most
    // batches). Otherwise the candidates are counted first and pending tasks overwritten.
    let range = match chunk {
        Chunk::Ids { lo, hi } => Some((*lo, *hi)),
        Chunk::Names(_) => None,
    };
    let quiet = match range {
        Some((lo, hi)) => unfinished_in(tx, store, spec.module_name, lo, hi).await? == 0,
        None => false,
    };
    let mut candidates = None;
    let mut overwritten = 0;
    if !quiet {
        let n = count_candidates(tx, store, spec, scope, chunk).await?;
        if n == 0 {
            return Ok(CreatedTasks::default());
        }
        candidates = Some(n);
        if spec.job.policy.overwrite_mode == OverwriteMode::Overwrite {
            overwritten = overwrite(tx, store, spec, scope, chunk).await?;
        }
    }
    let (status, queued_reason) = initial_state(spec);
    let job = spec.job;
    let mut q = Q::with(
        dialect,
        "INSERT INTO tasks (task_id, job_id, firmware_id, device_id, product_key, \
         device_name, module_name, src_version, dest_version, status, queued_reason, \
         progress, retries_used, created_at, modified_at) SELECT ",
    );
    push_task_id(&mut q, job.job_id.as_str());
    q.push(", ")
        .bind(job.job_id.as_str())
        .push(", ")
        .bind(job.firmware_id.as_str())
        .push(", d.id, d.product_key, d.device_name, ")
        .bind(spec.module_name)
        .push(", mv.version, ")
        .bind(spec.dest_version)
        .push(", ")
        .bind(status.as_str())
        .push(", ")
        .bind(queued_reason.map(QueuedReason::as_str))
        .push(", 0, 0, ")
        .bind(spec.now)
        .push(", ")
        .bind(spec.now);
    push_candidates(&mut q, spec, scope, Some(chunk));
    // The partial unique index refuses a second unfinished task per device and module.
    q.push(" ON CONFLICT DO NOTHING");
    let created = q.execute(&mut **tx).await?;
    let skipped_busy = match (candidates, range) {
        (Some(candidates), _) => candidates.saturating_sub(created),
        (None, Some((lo, hi))) => {
            // Quiet when looked at; on PostgreSQL another batch's transaction may have
            // committed tasks in the range since. Then the eligible devices still without
            // a task of this batch are the busy ones.
            if unfinished_in(tx, store, spec.module_name, lo, hi).await? == created {
                0
            } else {
                count_candidates(tx, store, spec, scope, chunk).await?
            }
        }
        (None, None) => 0,
    };
    Ok(CreatedTasks {
        created,
        skipped_busy,
        overwritten,
    })
}

/// The chunk's eligible devices without a task of this batch.
async fn count_candidates(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    spec: &TaskCreation<'_>,
    scope: &Scope<'_>,
    chunk: &Chunk<'_>,
) -> Result<u64> {
    let mut count = Q::with(store.dialect(), "SELECT COUNT(*) AS n");
    push_candidates(&mut count, spec, scope, Some(chunk));
    let n: i64 = count.fetch_one(&mut **tx).await?.try_get("n")?;
    Ok(n.max(0) as u64)
}

/// Unfinished tasks of `module` of the devices with `lo < id <= hi`, counted from the
/// `tasks_one_unfinished` index alone.
async fn unfinished_in(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    module: &str,
    lo: i64,
    hi: i64,
) -> Result<u64> {
    let mut q = Q::with(
        store.dialect(),
        "SELECT COUNT(*) AS n FROM tasks WHERE device_id > ",
    );
    q.bind(lo)
        .push(" AND device_id <= ")
        .bind(hi)
        .push(" AND module_name = ")
        .bind(module)
        .push(" AND status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS')");
    let n: i64 = q.fetch_one(&mut **tx).await?.try_get("n")?;
    Ok(n.max(0) as u64)
}

/// Cancels (OVERWRITTEN) the pending tasks of the module of the chunk's candidates. Only
/// tasks the device has not started give way; IN_PROGRESS ones stay and make the device
/// count as busy.
async fn overwrite(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    spec: &TaskCreation<'_>,
    scope: &Scope<'_>,
    chunk: &Chunk<'_>,
) -> Result<u64> {
    let mut q = Q::with(
        store.dialect(),
        "UPDATE tasks SET status = 'CANCELED', cancel_reason = 'OVERWRITTEN', \
         queued_reason = NULL, retry_at = NULL, timeout_at = NULL, nudge_at = NULL, \
         lease_until = NULL, modified_at = ",
    );
    q.bind(spec.now)
        .push(" WHERE status IN ('CONFIRM', 'QUEUED', 'NOTIFIED') AND module_name = ")
        .bind(spec.module_name)
        .push(" AND product_key = ")
        .bind(spec.job.product_key.as_str())
        .push(" AND device_id IN (SELECT d.id");
    push_candidates(&mut q, spec, scope, Some(chunk));
    q.push(")");
    Ok(q.execute(&mut **tx).await?)
}

/// Stores `next` as batch `job`'s creation over `progress` (or fails with
/// [`StoreError::Stale`]), ending it when finished.
pub(crate) async fn record_progress(
    tx: &mut Transaction<'static, Any>,
    store: &Store,
    job: &JobId,
    progress: &Creation,
    next: &Creation,
) -> Result<()> {
    let written = sqlx::query(
        "UPDATE jobs SET creation_json = $1, creating = $2 \
         WHERE job_id = $3 AND creating <> 0 AND creation_json = $4",
    )
    .bind(to_json(next))
    .bind(i64::from(next.is_running()))
    .bind(job.as_str())
    .bind(to_json(progress))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written == 0 {
        return Err(StoreError::Stale);
    }
    if !next.is_running() {
        // Other nodes' caches hold the batch as still being created.
        store
            .announce_in(tx, Change::Job(job.as_str().to_owned()))
            .await?;
    }
    Ok(())
}

/// The GRAY multiplier of a batch, 1..[`RANK_PRIME`], from a hash of its id: FNV-1a, then
/// MurmurHash3's finaliser so that ids differing in one character get unrelated
/// multipliers. Stable across versions and platforms, unlike the standard library's hasher.
fn rank_seed(job_id: &str) -> i64 {
    let mut h = job_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    1 + (h % (RANK_PRIME as u64 - 1)) as i64
}

/// Appends the rank expression of device `d`.
fn push_rank(q: &mut Q, seed: i64) {
    q.push("((d.id * ")
        .bind(seed)
        .push(") % ")
        .bind(RANK_PRIME)
        .push(")");
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
        Scope::Ranked { seed, threshold } => {
            q.push(" AND ");
            push_rank(q, *seed);
            q.push(" <= ").bind(*threshold);
        }
        Scope::Wave {
            group,
            exclude,
            ranked,
        } => {
            if let Some(g) = group {
                push_group(q, g);
            }
            if !exclude.is_empty() {
                // By task id (batch id, '-', device id): one primary-key probe per batch.
                q.push(" AND NOT EXISTS (SELECT 1 FROM tasks w WHERE w.task_id IN (");
                for (i, job) in exclude.iter().enumerate() {
                    if i > 0 {
                        q.push(", ");
                    }
                    push_task_id(q, job.as_str());
                }
                q.push("))");
            }
            if let Some((seed, threshold)) = ranked {
                q.push(" AND ");
                push_rank(q, *seed);
                q.push(" <= ").bind(*threshold);
            }
        }
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
        .push(") AND NOT EXISTS (SELECT 1 FROM tasks x WHERE x.task_id = ");
    // The task's own id, as the INSERT builds it: one primary-key probe per device. A
    // probe on `job_id` and `device_id` was planned by PostgreSQL, whose statistics never
    // see the batch's fresh tasks, as a merge with every task of the batch created so far,
    // read and sorted for each chunk: quadratic (docs/benchmarks.md, "Batch creation").
    push_task_id(q, job.job_id.as_str());
    q.push(")");
}

/// Appends the id of batch `job`'s task of device `d`: the batch id, '-', the device id.
fn push_task_id(q: &mut Q, job: &str) {
    q.bind(job).push(" || '-' || CAST(d.id AS TEXT)");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_are_a_permutation_and_batches_order_differently() {
        let rank = |seed: i64, id: i64| (id * seed) % RANK_PRIME;
        let (a, b) = (rank_seed("job-1"), rank_seed("job-2"));
        assert!((1..RANK_PRIME).contains(&a) && a != b);
        let mut ranks: Vec<i64> = (1..=10_000).map(|id| rank(a, id)).collect();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!(ranks.len(), 10_000, "no two devices tie");
        // The first half by one batch's rank shares about half its devices with the
        // other's first half.
        let first_half = |seed: i64| {
            let mut ids: Vec<i64> = (1..=10_000).collect();
            ids.sort_by_key(|&id| rank(seed, id));
            ids.truncate(5_000);
            ids.into_iter().collect::<std::collections::HashSet<i64>>()
        };
        let shared = first_half(a).intersection(&first_half(b)).count();
        assert!((2_000..3_000).contains(&shared), "{shared}");
        assert!(
            (RANK_PRIME - 1).checked_mul(RANK_PRIME - 1).is_some(),
            "fits 64 bits"
        );
    }
}
