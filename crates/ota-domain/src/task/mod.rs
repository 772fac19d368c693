//! Per-device tasks: one device's journey through one batch.
//!
//! A task is data ([`Task`]) plus one pure transition function ([`Task::apply`]). The engine
//! loads a task, applies an event with the current time and stores the result; the returned
//! effects tell it what else to do. Timers are fields (`retry_at`, `timeout_at`) rather than
//! effects, so the store alone knows every pending deadline and a restart resumes them.

mod machine;
mod status;
mod step;

pub use machine::{Effect, NUDGE_MAX, Rejection, TaskEvent, TaskRules, Transition};
pub use status::{CancelReason, FailureReason, QueuedReason, TaskStatus};
pub use step::ProgressStep;

use crate::{DeviceKey, DeviceName, FirmwareId, JobId, Millis, ProductKey, TaskId};
use serde::{Deserialize, Serialize};

/// One device's task in one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub task_id: TaskId,
    pub job_id: JobId,
    pub firmware_id: FirmwareId,
    pub product_key: ProductKey,
    pub device_name: DeviceName,
    pub module_name: String,
    /// The version the device reported when the task was created.
    pub src_version: Option<String>,
    pub dest_version: String,
    pub status: TaskStatus,
    /// Why a QUEUED task has not been pushed yet.
    pub queued_reason: Option<QueuedReason>,
    pub failure: Option<FailureReason>,
    pub cancel_reason: Option<CancelReason>,
    /// Last reported progress, 0–100.
    pub progress: i32,
    /// Last free-text description the device sent with its progress.
    pub desc: Option<String>,
    /// Automatic retries already used in this attempt series.
    pub retries_used: u32,
    /// When a scheduled retry becomes due.
    pub retry_at: Option<Millis>,
    /// When an IN_PROGRESS task times out (first progress + TimeoutInMinutes).
    pub timeout_at: Option<Millis>,
    /// First progress report of the current attempt.
    pub started_at: Option<Millis>,
    /// When a told task (NOTIFIED, IN_PROGRESS) whose device stays silent is pushed again.
    pub nudge_at: Option<Millis>,
    pub created_at: Millis,
    pub modified_at: Millis,
}

/// What a new task needs to know about its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskStart {
    pub need_confirm: bool,
    pub need_push: bool,
    /// The batch's start time when it is still PLANNED.
    pub scheduled_at: Option<Millis>,
}

/// Identity and versions of a new task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTask {
    pub task_id: TaskId,
    pub job_id: JobId,
    pub firmware_id: FirmwareId,
    pub product_key: ProductKey,
    pub device_name: DeviceName,
    pub module_name: String,
    pub src_version: Option<String>,
    pub dest_version: String,
}

impl Task {
    /// A task as it is created: CONFIRM when the batch needs confirmation, otherwise QUEUED
    /// with the reason it is not pushed yet.
    pub fn create(new: NewTask, start: TaskStart, now: Millis) -> Task {
        let (status, queued_reason) = if start.need_confirm {
            (TaskStatus::Confirm, None)
        } else {
            (TaskStatus::Queued, Some(initial_queued_reason(start)))
        };
        Task {
            task_id: new.task_id,
            job_id: new.job_id,
            firmware_id: new.firmware_id,
            product_key: new.product_key,
            device_name: new.device_name,
            module_name: new.module_name,
            src_version: new.src_version,
            dest_version: new.dest_version,
            status,
            queued_reason,
            failure: None,
            cancel_reason: None,
            progress: 0,
            desc: None,
            retries_used: 0,
            retry_at: None,
            timeout_at: None,
            started_at: None,
            nudge_at: None,
            created_at: now,
            modified_at: now,
        }
    }

    /// The device the task belongs to.
    pub fn device_key(&self) -> DeviceKey {
        DeviceKey {
            product_key: self.product_key.clone(),
            device_name: self.device_name.clone(),
        }
    }

    /// Whether the task still counts as the device's unfinished task.
    pub fn is_unfinished(&self) -> bool {
        !self.status.is_terminal()
    }
}

fn initial_queued_reason(start: TaskStart) -> QueuedReason {
    match (start.scheduled_at, start.need_push) {
        (Some(_), _) => QueuedReason::Scheduled,
        (None, false) => QueuedReason::AwaitingPull,
        (None, true) => QueuedReason::Ready,
    }
}

#[cfg(test)]
mod tests;
