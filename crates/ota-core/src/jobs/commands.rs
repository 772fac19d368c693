//! Operator commands on named tasks: confirm, cancel, re-upgrade.

use super::*;
use crate::engine::apply::TaskChanges;
use crate::error::Found;
use crate::{CoreResult, Tasks};
use ota_domain::job::{JobEvent, JobStatus};
use ota_domain::task::{CancelReason, QueuedReason, Task, TaskEvent};
use ota_domain::{DeviceKey, DomainError, ErrorCode, TaskId};
use std::collections::BTreeSet;

impl Tasks<'_> {
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
        let mut outcome = TaskChanges::default();
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
        let mut outcome = TaskChanges::default();
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
            self.jobs().apply_event(job, JobEvent::Reopen).await?;
        }
        self.wake_dispatcher();
        Ok(rerun)
    }
}
