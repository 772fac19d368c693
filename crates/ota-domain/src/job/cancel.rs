//! Which tasks a batch cancel stops (CancelOTATaskByJob).
//!
//! Aliyun's options are per task status, with one subtlety kept on purpose:
//! `CancelQueuedTask=true` with `CancelUnconfirmedTask` *unset* also cancels CONFIRM tasks,
//! while any explicit `CancelUnconfirmedTask` value decides CONFIRM on its own. Hence
//! `cancel_unconfirmed` is an `Option`.

use crate::DomainError;
use crate::task::{QueuedReason, Task, TaskStatus};
use serde::{Deserialize, Serialize};

/// The options of CancelOTATaskByJob. All default to false (`cancel_unconfirmed`: unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CancelOptions {
    /// `CancelInProgressTask`: IN_PROGRESS tasks.
    pub cancel_in_progress: bool,
    /// `CancelQueuedTask`: QUEUED tasks (and CONFIRM ones when `cancel_unconfirmed` is unset).
    pub cancel_queued: bool,
    /// `CancelNotifiedTask`: NOTIFIED tasks.
    pub cancel_notified: bool,
    /// `CancelScheduledTask`: tasks of a scheduled batch still waiting for its start time.
    pub cancel_scheduled: bool,
    /// `CancelUnconfirmedTask`: CONFIRM tasks; `None` when the parameter was not given.
    pub cancel_unconfirmed: Option<bool>,
}

impl CancelOptions {
    /// Every unfinished task.
    pub fn everything() -> Self {
        Self {
            cancel_in_progress: true,
            cancel_queued: true,
            cancel_notified: true,
            cancel_scheduled: true,
            cancel_unconfirmed: Some(true),
        }
    }

    /// Builds the options from the API parameters. Aliyun fails a call that selects no
    /// task at all, and so do we.
    pub fn from_params(
        in_progress: Option<bool>,
        queued: Option<bool>,
        notified: Option<bool>,
        scheduled: Option<bool>,
        unconfirmed: Option<bool>,
    ) -> Result<Self, DomainError> {
        let options = Self {
            cancel_in_progress: in_progress.unwrap_or(false),
            cancel_queued: queued.unwrap_or(false),
            cancel_notified: notified.unwrap_or(false),
            cancel_scheduled: scheduled.unwrap_or(false),
            cancel_unconfirmed: unconfirmed,
        };
        if options.selects_nothing() {
            return Err(DomainError::invalid(
                "CancelQueuedTask",
                "at least one of CancelInProgressTask, CancelQueuedTask, CancelNotifiedTask, \
                 CancelScheduledTask, CancelUnconfirmedTask must be true",
            ));
        }
        Ok(options)
    }

    /// Whether CONFIRM tasks are cancelled.
    pub fn cancels_unconfirmed(&self) -> bool {
        self.cancel_unconfirmed.unwrap_or(self.cancel_queued)
    }

    /// Whether no task could ever be selected.
    pub fn selects_nothing(&self) -> bool {
        !(self.cancel_in_progress
            || self.cancel_queued
            || self.cancel_notified
            || self.cancel_scheduled
            || self.cancels_unconfirmed())
    }
}

/// Whether a batch cancel with `options` stops `task`. Finished tasks are never selected.
pub fn task_selected_for_cancel(options: &CancelOptions, task: &Task) -> bool {
    match task.status {
        TaskStatus::Confirm => options.cancels_unconfirmed(),
        TaskStatus::Queued => {
            options.cancel_queued
                || (options.cancel_scheduled && task.queued_reason == Some(QueuedReason::Scheduled))
        }
        TaskStatus::Notified => options.cancel_notified,
        TaskStatus::InProgress => options.cancel_in_progress,
        TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Canceled => false,
    }
}
