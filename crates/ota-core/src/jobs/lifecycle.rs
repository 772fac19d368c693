//! Batch events and their effects on tasks: start, finish by schedule, cancel, and settling
//! a batch whose tasks have ended (completion, verification status).

use super::*;
use crate::engine::apply::TaskChanges;
use crate::error::Found;
use crate::{CoreResult, Jobs};
use ota_domain::JobId;
use ota_domain::firmware::FirmwareStatus;
use ota_domain::job::{
    CancelOptions, Job, JobEffect, JobEvent, JobStatus, JobType, SelectionType, cancel_selection,
};
use ota_domain::task::{CancelReason, Task, TaskEvent, TaskStatus};
use ota_domain::webhook::EventType;
use ota_store::{Page, TaskFilter};

impl Jobs<'_> {
    /// Applies a batch event and carries out its effects.
    pub async fn apply_event(&self, id: &JobId, event: JobEvent) -> CoreResult<Job> {
        let store = self.store();
        let job = store
            .get_job(id)
            .await
            .found("JobId", format!("batch {id}"))?;
        let now = self.now();
        let transition = job.apply(event, now).map_err(|r| rejected("JobId", r))?;
        // The tasks move first and the batch's new status is stored last, so nobody sees a
        // finished batch whose tasks are still being failed or cancelled. An interruption
        // leaves the batch as it was; applying the event again skips the tasks already done.
        let mut released = false;
        for effect in &transition.effects {
            match effect {
                JobEffect::ReleaseScheduledTasks => {
                    self.for_each_unfinished(id, |_| Some(TaskEvent::JobStarted))
                        .await?;
                    released = true;
                }
                JobEffect::FailUnfinishedTasks => {
                    self.for_each_unfinished(id, |_| Some(TaskEvent::ScheduleFinished))
                        .await?;
                }
                JobEffect::CancelTasks(options) => {
                    // Set-based: a cancel writes the same fields whatever a task holds
                    // (`ota_domain::job::cancel_selection`).
                    // With their webhook events when an endpoint takes task events.
                    let event: &(dyn Fn(&Task, TaskStatus) -> ota_store::NewEvent + Send + Sync) =
                        &crate::webhooks::task_event;
                    let wanted = self.task_events_wanted().await?;
                    let cancelled = store
                        .cancel_job_tasks_with_events(
                            id,
                            &cancel_selection(options),
                            CancelReason::JobCanceled,
                            now,
                            wanted.then_some(event),
                        )
                        .await?;
                    metrics::counter!("ota_task_transitions_total", "to" => TaskStatus::Canceled.as_str())
                        .increment(cancelled);
                    if cancelled > 0 && (options.cancel_notified || options.cancel_in_progress) {
                        // Devices told to update may be reading blocks: no more of them.
                        self.inner.block_grants.clear();
                    }
                }
                JobEffect::Resumed => released = true,
                JobEffect::StopStrategy | JobEffect::RateChanged | JobEffect::Finished(_) => {}
            }
        }
        let events = crate::webhooks::batch_events(&job, &transition.job, now);
        store
            .update_job_with_events(&transition.job, &events)
            .await?;
        self.inner.cache.evict_job(id);
        if !events.is_empty() {
            self.wake_webhooks();
        }
        if released {
            self.wake_dispatcher();
        }
        if transition.job.job_type == JobType::VerifyFirmware {
            self.update_verify_status(&transition.job).await?;
        }
        Ok(transition.job)
    }

    /// CancelOTATaskByJob.
    pub async fn cancel(&self, id: &JobId, options: CancelOptions) -> CoreResult<Job> {
        self.apply_event(id, JobEvent::Cancel(options)).await
    }

    pub(crate) async fn start(&self, id: &JobId) -> CoreResult<()> {
        self.apply_event(id, JobEvent::Start).await.map(drop)
    }

    pub(crate) async fn finish_by_schedule(&self, id: &JobId) -> CoreResult<()> {
        self.apply_event(id, JobEvent::ScheduleFinished)
            .await
            .map(drop)
    }

    /// Applies the event `pick` chooses to every unfinished task of a batch, in chunks.
    async fn for_each_unfinished(
        &self,
        id: &JobId,
        pick: impl Fn(&Task) -> Option<TaskEvent>,
    ) -> CoreResult<()> {
        let now = self.now();
        let filter = TaskFilter {
            job_id: Some(id.clone()),
            statuses: TaskStatus::ALL
                .into_iter()
                .filter(|s| !s.is_terminal())
                .collect(),
            ..TaskFilter::default()
        };
        let mut offset = 0;
        loop {
            let (tasks, _) = self
                .store()
                .list_tasks(
                    &filter,
                    Page {
                        offset,
                        limit: CHUNK,
                    },
                )
                .await?;
            if tasks.is_empty() {
                return Ok(());
            }
            let mut outcome = TaskChanges::default();
            for task in &tasks {
                if let Some(event) = pick(task) {
                    outcome.apply(self, task, event, now).await?;
                }
            }
            // Tasks that stayed unfinished keep their place in the listing; skip past them.
            let still_unfinished = outcome.changed.iter().filter(|t| t.is_unfinished()).count()
                + (tasks.len() - outcome.changed.len());
            outcome.commit(self).await?;
            offset += still_unfinished as i64;
            if (tasks.len() as i64) < CHUNK {
                return Ok(());
            }
        }
    }

    /// Completes a static batch whose tasks are all finished, and keeps a verification
    /// batch's package status current.
    ///
    /// Called for every batch that had a task finish, so the common case (tasks still
    /// unfinished) costs one count: the batch's kind and selection never change, so they are
    /// taken from the cache, and the batch row is read only when there is something to do.
    pub(crate) async fn settle(&self, id: &JobId) -> CoreResult<()> {
        let store = self.store();
        let cached = self.inner.cache.job(store, id).await?;
        if cached.wave.is_some() {
            // A rollout watches this batch: let it look now rather than at its next tick.
            self.rollouts().wake_rollouts();
        }
        if cached.is_creating() {
            // Nothing completes or is judged before the last task exists; the creator
            // settles the batch then (and evicts this entry first).
            return Ok(());
        }
        // The pause state is read fresh there: another node may have changed it.
        if cached.policy.failure_gate.is_some() && cached.status == JobStatus::InProgress {
            self.check_failure_gate(id).await?;
        }
        let verify = cached.job_type == JobType::VerifyFirmware;
        let may_complete = cached.selection_type == SelectionType::Static
            && store.count_unfinished(id).await? == 0;
        if !may_complete && !verify {
            return Ok(());
        }
        let job = store
            .get_job(id)
            .await
            .found("JobId", format!("batch {id}"))?;
        if may_complete && job.status == JobStatus::InProgress {
            let now = self.now();
            let transition = job.apply(JobEvent::AllTasksFinished, now);
            if let Ok(transition) = transition {
                let events = crate::webhooks::batch_events(&job, &transition.job, now);
                // Only if nobody changed the batch since it was read here: an operator's
                // cancel that finished its last tasks just now must stay a cancel.
                let stored = store
                    .update_job_if_unchanged(&transition.job, &events, &job)
                    .await?;
                self.inner.cache.evict_job(id);
                if !stored {
                    return Ok(());
                }
                self.wake_webhooks();
            }
        }
        if job.job_type == JobType::VerifyFirmware {
            self.update_verify_status(&job).await?;
        }
        Ok(())
    }

    async fn update_verify_status(&self, job: &Job) -> CoreResult<()> {
        let store = self.store();
        let tally = self.task_tally(&job.job_id).await?;
        let mut firmware = store
            .get_firmware(&job.firmware_id)
            .await
            .found("FirmwareId", format!("package {}", job.firmware_id))?;
        let (status, progress) = (
            ota_domain::job::verify_outcome(&tally),
            ota_domain::job::verify_progress(&tally),
        );
        if firmware.status != status || firmware.verify_progress != progress {
            firmware.status = status;
            firmware.verify_progress = progress;
            firmware.modified_at = self.now();
            // The verdict's event commits with the package's new status (ADR 0016).
            let judged = matches!(
                status,
                FirmwareStatus::Verified | FirmwareStatus::VerifyFailed
            )
            .then(|| {
                crate::webhooks::event(
                    EventType::PackageVerified,
                    firmware.modified_at,
                    job.job_id.as_str(),
                    serde_json::json!({
                        "firmware_id": firmware.firmware_id.as_str(),
                        "job_id": job.job_id.as_str(),
                        "verified": status == FirmwareStatus::Verified,
                    }),
                )
            });
            store
                .update_firmware_with_events(&firmware, judged.as_slice())
                .await?;
            self.inner.cache.evict_firmware(&firmware.firmware_id);
            if judged.is_some() {
                self.wake_webhooks();
            }
        }
        Ok(())
    }
}
