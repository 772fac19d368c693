//! Batch use cases: create, start, finish, cancel, change; and the task commands operators
//! issue (confirm, cancel, re-upgrade). Batch transitions come from `Job::apply`; their
//! effects are carried out here by applying task events, so every task still moves only
//! through its own state machine.

use crate::engine::apply::Outcome;
use crate::error::Found;
use crate::{Core, CoreResult, ids};
use ota_domain::firmware::{FirmwareStatus, FirmwareType};
use ota_domain::job::{
    CancelOptions, DynamicMode, Job, JobEffect, JobEvent, JobStatus, JobType, SelectionType,
    TargetSelection, task_selected_for_cancel,
};
use ota_domain::registry::ModuleVersion;
use ota_domain::task::{CancelReason, QueuedReason, Rejection, Task, TaskEvent, TaskStatus};
use ota_domain::validate::{self, DynamicJobRequest, StaticJobRequest, VerifyJobRequest};
use ota_domain::{DeviceKey, DomainError, ErrorCode, FirmwareId, JobId, ProductKey, TaskId};
use ota_store::{CreatedTasks, JobCounts, Page, TaskCreation, TaskFilter, TaskTarget};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A request for a new batch, as the faces received it; validated against its package.
#[derive(Debug, Clone)]
pub enum JobRequest {
    Verify(VerifyJobRequest),
    Static(StaticJobRequest),
    Dynamic(DynamicJobRequest),
}

/// Tasks are read and changed in chunks of this many, so a batch of a million devices
/// never sits in memory at once.
const CHUNK: i64 = 2_000;

fn rejected(field: &str, rejection: Rejection) -> DomainError {
    let message = match rejection {
        Rejection::Stale(m) | Rejection::Invalid(m) => m,
    };
    DomainError::new(ErrorCode::InvalidState, Some(field), message)
}

impl Core {
    /// Creates a batch and its tasks (set-based), then lets the dispatcher push.
    pub async fn create_job(
        &self,
        firmware_id: &FirmwareId,
        product_key: Option<&ProductKey>,
        request: JobRequest,
    ) -> CoreResult<(Job, CreatedTasks)> {
        let store = self.store();
        let now = self.now();
        let mut firmware = store
            .get_firmware(firmware_id)
            .await
            .found("FirmwareId", format!("package {firmware_id}"))?;
        if product_key.is_some_and(|pk| pk != &firmware.product_key) {
            return Err(DomainError::invalid("ProductKey", "is not the package's product").into());
        }
        let validated = match request {
            JobRequest::Verify(r) => {
                validate::check_firmware_verifiable(&firmware)?;
                r.validate(&firmware, now)?
            }
            JobRequest::Static(r) => {
                validate::check_firmware_usable_for_batch(&firmware)?;
                r.validate(&firmware, now)?
            }
            JobRequest::Dynamic(r) => {
                validate::check_firmware_usable_for_batch(&firmware)?;
                r.validate(&firmware, now)?
            }
        };
        let mut validated = validated;
        if let Some(url) = validated.dn_list_file_url.take() {
            let names = self.device_list_file(&url).await?;
            validated.target_selection = TargetSelection::Specific {
                device_names: names,
            };
        }
        if validated.selection_type == SelectionType::Dynamic
            && store
                .list_jobs_by_status(&[JobStatus::InProgress, JobStatus::Planned])
                .await?
                .iter()
                .any(|j| {
                    j.firmware_id == firmware.firmware_id
                        && j.selection_type == SelectionType::Dynamic
                })
        {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("FirmwareId"),
                "the package already has an active dynamic batch; cancel its policy first",
            )
            .into());
        }
        if let TargetSelection::Specific { device_names } = &validated.target_selection {
            self.require_devices(&firmware.product_key, device_names)
                .await?;
        }
        if let TargetSelection::Group { group_id } = &validated.target_selection {
            self.group(group_id).await?;
        }
        let job = validated.into_job(JobId(ids::job_id()), &firmware, now);
        store.insert_job(&job).await?;
        let target = match (
            &job.selection_type,
            &job.target_selection,
            job.policy.dynamic_mode,
        ) {
            (SelectionType::Dynamic, _, Some(DynamicMode::OnlyNewReports)) => None,
            (_, TargetSelection::All, _) => Some(TaskTarget::All),
            (_, TargetSelection::Specific { device_names }, _) => {
                Some(TaskTarget::Names(device_names))
            }
            (_, TargetSelection::Gray { milli_percent }, _) => Some(TaskTarget::Gray {
                milli_percent: *milli_percent,
            }),
            (_, TargetSelection::Group { group_id }, _) => Some(TaskTarget::Group(group_id)),
        };
        let created = match target {
            Some(target) => {
                store
                    .create_tasks(&TaskCreation {
                        job: &job,
                        module_name: &firmware.module_name,
                        dest_version: &firmware.dest_version,
                        required_src_version: required_src(&firmware),
                        target,
                        now,
                    })
                    .await?
            }
            None => CreatedTasks::default(),
        };
        if created.overwritten > 0 {
            // The store cancelled tasks of other batches (OVERWRITTEN): they may be done now.
            for other in store.list_jobs_by_status(&[JobStatus::InProgress]).await? {
                if other.job_id != job.job_id && other.product_key == job.product_key {
                    self.settle_job(&other.job_id).await?;
                }
            }
        }
        if job.job_type == JobType::VerifyFirmware {
            firmware.status = FirmwareStatus::Verifying;
            firmware.verify_progress = 0;
            firmware.modified_at = now;
            store.update_firmware(&firmware).await?;
            self.inner.cache.evict_firmware(&firmware.firmware_id);
        }
        metrics::counter!("ota_jobs_created_total", "type" => job.job_type.as_str()).increment(1);
        self.wake_dispatcher();
        self.settle_job(&job.job_id).await?;
        let job = store
            .get_job(&job.job_id)
            .await
            .found("JobId", format!("batch {}", job.job_id))?;
        Ok((job, created))
    }

    /// Reads an uploaded device-list CSV (GenerateDeviceNameListURL / DnListFileUrl).
    async fn device_list_file(&self, url: &str) -> CoreResult<Vec<String>> {
        let key = crate::packages::upload_key_from_url(url);
        let limit = validate::MAX_DEVICE_LIST_BYTES as u64;
        let size = self.blobs().size(key).await.map_err(|_| {
            DomainError::not_found("DnListFileUrl", "no uploaded device list under this URL")
        })?;
        if size > limit {
            return Err(DomainError::invalid(
                "DnListFileUrl",
                "the device list must be at most 5 MB",
            )
            .into());
        }
        let bytes = self.blobs().read_range(key, 0, size as usize).await?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            DomainError::invalid("DnListFileUrl", "the device list must be UTF-8 text")
        })?;
        Ok(validate::parse_device_list_csv(text)?)
    }

    async fn require_devices(&self, pk: &ProductKey, names: &[String]) -> CoreResult<()> {
        let missing = self.store().missing_device_names(pk, names).await?;
        if let Some(name) = missing.first() {
            return Err(DomainError::not_found(
                "TargetDeviceName",
                format!(
                    "device {name:?} does not exist in product {pk} ({} unknown names)",
                    missing.len()
                ),
            )
            .into());
        }
        Ok(())
    }

    pub async fn job(&self, id: &JobId) -> CoreResult<Job> {
        self.store()
            .get_job(id)
            .await
            .found("JobId", format!("batch {id}"))
    }

    pub async fn jobs_of_firmware(
        &self,
        id: &FirmwareId,
        page: Page,
    ) -> CoreResult<(Vec<Job>, i64)> {
        Ok(self.store().list_jobs_by_firmware(id, page).await?)
    }

    /// Task counts of a batch, by state and reason.
    pub async fn job_counts(&self, id: &JobId) -> CoreResult<JobCounts> {
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

    /// Applies a batch event and carries out its effects.
    pub async fn apply_job_event(&self, id: &JobId, event: JobEvent) -> CoreResult<Job> {
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
                    self.for_each_unfinished(id, |task| {
                        task_selected_for_cancel(options, task)
                            .then_some(TaskEvent::Cancel(CancelReason::JobCanceled))
                    })
                    .await?;
                }
                JobEffect::Resumed => released = true,
                JobEffect::StopStrategy | JobEffect::RateChanged | JobEffect::Finished(_) => {}
            }
        }
        store.update_job(&transition.job).await?;
        self.inner.cache.evict_job(id);
        if released {
            self.wake_dispatcher();
        }
        if transition.job.job_type == JobType::VerifyFirmware {
            self.update_verify_status(&transition.job).await?;
        }
        Ok(transition.job)
    }

    /// CancelOTATaskByJob.
    pub async fn cancel_job(&self, id: &JobId, options: CancelOptions) -> CoreResult<Job> {
        self.apply_job_event(id, JobEvent::Cancel(options)).await
    }

    pub(crate) async fn start_job(&self, id: &JobId) -> CoreResult<()> {
        self.apply_job_event(id, JobEvent::Start).await.map(drop)
    }

    pub(crate) async fn finish_job_by_schedule(&self, id: &JobId) -> CoreResult<()> {
        self.apply_job_event(id, JobEvent::ScheduleFinished)
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
            let mut outcome = Outcome::default();
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
    pub(crate) async fn settle_job(&self, id: &JobId) -> CoreResult<()> {
        let store = self.store();
        let cached = self.inner.cache.job(store, id).await?;
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
            let transition = job.apply(JobEvent::AllTasksFinished, self.now());
            if let Ok(transition) = transition {
                store.update_job(&transition.job).await?;
                self.inner.cache.evict_job(id);
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
            store.update_firmware(&firmware).await?;
            self.inner.cache.evict_firmware(&firmware.firmware_id);
        }
        Ok(())
    }

    /// Applies an operator command to named tasks. Every task must exist and accept it;
    /// otherwise nothing changes.
    async fn command_tasks(&self, ids: &[TaskId], event: TaskEvent) -> CoreResult<Vec<Task>> {
        let tasks = self.store().tasks_by_ids(ids).await?;
        if let Some(missing) = ids
            .iter()
            .find(|id| !tasks.iter().any(|t| &t.task_id == *id))
        {
            return Err(
                DomainError::not_found("TaskId", format!("task {missing} does not exist")).into(),
            );
        }
        let now = self.now();
        for task in &tasks {
            let rules = crate::engine::apply::rules_of(self, task).await?;
            task.apply(event.clone(), &rules, now)
                .map_err(|r| rejected("TaskId", r))?;
        }
        let mut outcome = Outcome::default();
        for task in &tasks {
            outcome.apply(self, task, event.clone(), now).await?;
        }
        let result = outcome.changed.clone();
        outcome.commit(self).await?;
        Ok(result)
    }

    /// ConfirmOTATask: releases tasks waiting in CONFIRM. A task of a batch that has not
    /// reached its start time is held for the schedule instead of being pushed.
    pub async fn confirm_tasks(&self, ids: &[TaskId]) -> CoreResult<Vec<Task>> {
        let confirmed = self.command_tasks(ids, TaskEvent::Confirm).await?;
        let now = self.now();
        let mut outcome = Outcome::default();
        let mut result = Vec::with_capacity(confirmed.len());
        for task in confirmed {
            let job = self.inner.cache.job(self.store(), &task.job_id).await?;
            if job.status == JobStatus::Planned {
                let held = outcome
                    .apply(self, &task, TaskEvent::Held(QueuedReason::Scheduled), now)
                    .await?;
                result.push(held.unwrap_or(task));
            } else {
                result.push(task);
            }
        }
        outcome.commit(self).await?;
        Ok(result)
    }

    /// CancelOTATaskByDevice and the console's per-device cancel.
    pub async fn cancel_tasks(&self, ids: &[TaskId]) -> CoreResult<Vec<Task>> {
        self.command_tasks(ids, TaskEvent::Cancel(CancelReason::Operator))
            .await
    }

    /// ReupgradeOTATask: re-runs FAILED or CANCELED tasks. A device that meanwhile got
    /// another unfinished task for the module is refused.
    pub async fn reupgrade_tasks(&self, ids: &[TaskId]) -> CoreResult<Vec<Task>> {
        let tasks = self.store().tasks_by_ids(ids).await?;
        let devices: Vec<DeviceKey> = tasks.iter().map(Task::device_key).collect();
        let busy = self.store().active_tasks_for_devices(&devices).await?;
        let mut reopen = BTreeSet::new();
        for task in &tasks {
            if busy.iter().any(|b| {
                b.device_name == task.device_name
                    && b.product_key == task.product_key
                    && b.module_name == task.module_name
            }) {
                return Err(DomainError::new(
                    ErrorCode::DeviceInTask,
                    Some("TaskId"),
                    format!(
                        "device {} already has an unfinished task for module {}",
                        task.device_name, task.module_name
                    ),
                )
                .into());
            }
            let job = self
                .store()
                .get_job(&task.job_id)
                .await
                .found("JobId", format!("batch {}", task.job_id))?;
            if job.status == JobStatus::Canceled {
                return Err(DomainError::new(
                    ErrorCode::InvalidState,
                    Some("TaskId"),
                    "the batch was cancelled",
                )
                .into());
            }
            if job.status == JobStatus::Completed {
                job.apply(JobEvent::Reopen, self.now())
                    .map_err(|r| rejected("TaskId", r))?;
                reopen.insert(job.job_id);
            }
        }
        let rerun = self.command_tasks(ids, TaskEvent::Reupgrade).await?;
        // The dispatcher serves running batches only.
        for job in &reopen {
            self.apply_job_event(job, JobEvent::Reopen).await?;
        }
        self.wake_dispatcher();
        Ok(rerun)
    }

    /// Dynamic batches: devices that reported a version matching an active policy get a
    /// task. When several packages' policies match, the newest batch wins.
    pub(crate) async fn offer_dynamic_jobs(&self, reports: &[ModuleVersion]) -> CoreResult<()> {
        let now = self.now();
        let mut by_job: BTreeMap<JobId, Vec<DeviceKey>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        // A group of reports comes mostly from one product and module: look their active
        // dynamic batches up once each, not once per report.
        let mut active: HashMap<(&ProductKey, &str), Vec<Job>> = HashMap::new();
        for report in reports {
            let jobs = match active.entry((&report.product_key, report.module_name.as_str())) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(
                    self.store()
                        .active_dynamic_jobs(&report.product_key, &report.module_name)
                        .await?,
                ),
            };
            let device = DeviceKey {
                product_key: report.product_key.clone(),
                device_name: report.device_name.clone(),
            };
            for job in jobs.iter() {
                let firmware = self
                    .inner
                    .cache
                    .firmware(self.store(), &job.firmware_id)
                    .await?;
                let wanted =
                    job.src_versions.is_empty() || job.src_versions.contains(&report.version);
                let diff_ok = required_src(&firmware).is_none_or(|src| src == report.version);
                if report.version != firmware.dest_version && wanted && diff_ok {
                    if seen.insert((device.clone(), report.module_name.clone())) {
                        by_job
                            .entry(job.job_id.clone())
                            .or_default()
                            .push(device.clone());
                    }
                    break;
                }
            }
        }
        for (job_id, devices) in by_job {
            let job = self
                .store()
                .get_job(&job_id)
                .await
                .found("JobId", format!("batch {job_id}"))?;
            let firmware = self
                .inner
                .cache
                .firmware(self.store(), &job.firmware_id)
                .await?;
            self.store()
                .create_tasks(&TaskCreation {
                    job: &job,
                    module_name: &firmware.module_name,
                    dest_version: &firmware.dest_version,
                    required_src_version: required_src(&firmware),
                    target: TaskTarget::Devices(&devices),
                    now,
                })
                .await?;
            self.wake_dispatcher();
        }
        Ok(())
    }
}

fn required_src(firmware: &ota_domain::firmware::Firmware) -> Option<&str> {
    (firmware.firmware_type == FirmwareType::Differential)
        .then_some(firmware.src_version.as_deref())
        .flatten()
}
