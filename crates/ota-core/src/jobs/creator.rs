//! The batch creator: creates the tasks of batches whose creation runs, chunk by chunk,
//! and releases each batch when its last chunk is committed (rules in
//! `ota_domain::job::creation`).
//!
//! One worker per node serves every batch being created in turn, a slice of time each, so a
//! million-device batch does not hold back a small one created after it. Each batch's
//! creation is leased in the store while a node works on it, so on a shared store one node
//! creates it; a creation left by a stopped node is resumed by any node once its lease
//! expires, from the last committed chunk.

use crate::engine::worker::{Pace, Worker};
use crate::{Core, CoreResult, Jobs};
use ota_domain::job::{Creation, DynamicMode, Job, JobStatus, SelectionType, TargetSelection};
use ota_domain::{JobId, Millis};
use ota_store::{StoreError, TaskCreation, TaskTarget};
use std::time::{Duration, Instant};

/// How long one batch is worked on before the next one's turn.
const SLICE: Duration = Duration::from_millis(250);
/// How long a node's claim on a batch's creation lasts without renewal (milliseconds):
/// the push lease's length, so a node that stalls for a moment (a slow disk, a busy
/// machine) does not lose the creation to another one midway.
const LEASE_MS: Millis = 10_000;
/// How often creations left by other nodes or a restart are looked for when nothing wakes
/// the creator.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// The tasks a batch gets at creation: `None` for a dynamic batch that only takes devices
/// reporting from now on.
pub(crate) fn creation_target(job: &Job) -> Option<TaskTarget<'_>> {
    if let Some(link) = &job.wave {
        return Some(TaskTarget::Wave(link));
    }
    match (
        &job.selection_type,
        &job.target_selection,
        job.policy.dynamic_mode,
    ) {
        (SelectionType::Dynamic, _, Some(DynamicMode::OnlyNewReports)) => None,
        (_, TargetSelection::All, _) => Some(TaskTarget::All),
        (_, TargetSelection::Specific { device_names }, _) => Some(TaskTarget::Names(device_names)),
        (_, TargetSelection::Gray { milli_percent }, _) => Some(TaskTarget::Gray {
            milli_percent: *milli_percent,
        }),
        (_, TargetSelection::Group { group_id }, _) => Some(TaskTarget::Group(group_id)),
    }
}

/// The creator worker.
pub(crate) struct Creator;

impl Worker for Creator {
    const NAME: &'static str = "batch-creator";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<Pace> {
        let mut more = false;
        for job in core.store().jobs_being_created().await? {
            let lease = format!("batch-creation/{}", job.job_id);
            if !core
                .store()
                .hold_lease(&lease, &core.inner.holder, core.now(), LEASE_MS)
                .await?
            {
                continue;
            }
            if core.jobs().create_for_a_while(&job).await? {
                more = true;
            } else {
                core.store()
                    .release_lease(&lease, &core.inner.holder)
                    .await?;
            }
        }
        Ok(if more { Pace::More } else { Pace::Idle })
    }

    async fn until_next(&mut self, core: &Core) {
        let _ = tokio::time::timeout(LOOK_EVERY, core.inner.creation_wake.notified()).await;
    }
}

impl Jobs<'_> {
    /// Wakes the creator (a batch was stored with its creation to run).
    pub(crate) fn kick_creator(&self) {
        self.inner.creation_wake.notify_one();
    }

    /// Waits until `id`'s tasks are all created or `wait` has passed; the batch as it is then.
    pub(crate) async fn wait_created(&self, id: &JobId, wait: Duration) -> CoreResult<Job> {
        let mut finished = self.inner.creations_finished.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let job = self.get(id).await?;
            if !job.is_creating() || tokio::time::Instant::now() >= deadline {
                return Ok(job);
            }
            // Another node may be the one creating it: look again now and then.
            let look = (tokio::time::Instant::now() + Duration::from_millis(250)).min(deadline);
            let _ = tokio::time::timeout_at(look, finished.changed()).await;
        }
    }

    /// Creates chunks of `job`'s tasks for up to [`SLICE`]. True while more remain.
    async fn create_for_a_while(&self, job: &Job) -> CoreResult<bool> {
        let Some(mut progress) = job.creation else {
            return Ok(false);
        };
        let firmware = self
            .inner
            .cache
            .firmware(self.store(), &job.firmware_id)
            .await?;
        let Some(target) = creation_target(job) else {
            self.store()
                .end_creation(&job.job_id, &progress, self.now())
                .await?;
            self.created(job, &progress).await?;
            return Ok(false);
        };
        let started = Instant::now();
        while progress.is_running() {
            if started.elapsed() >= SLICE {
                return Ok(true);
            }
            let spec = TaskCreation {
                job,
                module_name: &firmware.module_name,
                dest_version: &firmware.dest_version,
                required_src_version: super::required_src(&firmware),
                target,
                now: self.now(),
            };
            progress = match self.store().create_task_chunk(&spec, &progress, true).await {
                Ok(next) => next,
                Err(StoreError::NotFound) => {
                    // The target went away meanwhile (a deleted group): the batch keeps
                    // what was created.
                    tracing::warn!(job = %job.job_id, "batch target gone during creation");
                    self.store()
                        .end_creation(&job.job_id, &progress, self.now())
                        .await?;
                    break;
                }
                Err(err) => return Err(err.into()),
            };
        }
        self.created(job, &progress).await?;
        Ok(false)
    }

    /// A batch's last task is created: it may be pushed, completed, started and ended now.
    async fn created(&self, job: &Job, creation: &Creation) -> CoreResult<()> {
        self.inner.cache.evict_job(&job.job_id);
        metrics::histogram!("ota_batch_creation_seconds")
            .record((self.now() - creation.started_at).max(0) as f64 / 1000.0);
        tracing::info!(job = %job.job_id, tasks = creation.created,
            busy = creation.skipped_busy, overwritten = creation.overwritten,
            "batch created");
        if creation.overwritten > 0 {
            // Tasks of other batches were cancelled (OVERWRITTEN): they may be done now.
            for other in self
                .store()
                .list_jobs_by_status(&[JobStatus::InProgress])
                .await?
            {
                if other.job_id != job.job_id && other.product_key == job.product_key {
                    self.settle(&other.job_id).await?;
                }
            }
        }
        self.wake_dispatcher();
        self.settle(&job.job_id).await?;
        self.inner.creations_finished.send_modify(|n| *n += 1);
        Ok(())
    }
}
