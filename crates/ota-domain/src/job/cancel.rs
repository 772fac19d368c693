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

/// Every (status, queued reason) a batch cancel with `options` stops: what
/// [`task_selected_for_cancel`] selects, as a set the store can cancel in bulk. Cancelling
/// writes the same fields whatever else a task holds (status CANCELED, the reason, and no
/// failure, queued reason, retry, timeout or nudge), so a set-based cancel of these tasks
/// is exactly what their machine would do one by one (tested below).
pub fn cancel_selection(options: &CancelOptions) -> Vec<(TaskStatus, Option<QueuedReason>)> {
    let reasons = std::iter::once(None).chain(QueuedReason::ALL.into_iter().map(Some));
    TaskStatus::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .flat_map(|status| reasons.clone().map(move |reason| (status, reason)))
        .filter(|&(status, queued_reason)| {
            let probe = Task {
                status,
                queued_reason,
                ..probe_task()
            };
            task_selected_for_cancel(options, &probe)
        })
        .collect()
}

/// A task to ask the rules about: only its status and queued reason matter to them.
fn probe_task() -> Task {
    Task::create(
        crate::task::NewTask {
            task_id: "probe".into(),
            job_id: "probe".into(),
            firmware_id: "probe".into(),
            product_key: "probe".into(),
            device_name: "probe".into(),
            module_name: "default".to_owned(),
            src_version: None,
            dest_version: "1".to_owned(),
        },
        crate::task::TaskStart {
            need_confirm: false,
            need_push: true,
            scheduled_at: None,
        },
        0,
    )
}

#[cfg(test)]
mod bulk_tests {
    use super::*;
    use crate::task::{CancelReason, Effect, FailureReason, TaskEvent, TaskRules};

    #[test]
    fn the_selection_is_what_the_rule_selects_task_by_task() {
        let everything = CancelOptions::everything();
        let all = cancel_selection(&everything);
        assert!(all.iter().all(|(s, _)| !s.is_terminal()));
        assert_eq!(all.len(), 4 * (1 + QueuedReason::ALL.len()));
        let scheduled_only = CancelOptions {
            cancel_scheduled: true,
            cancel_unconfirmed: Some(false),
            ..CancelOptions::default()
        };
        assert_eq!(
            cancel_selection(&scheduled_only),
            [(TaskStatus::Queued, Some(QueuedReason::Scheduled))]
        );
        let queued = CancelOptions {
            cancel_queued: true,
            ..CancelOptions::default()
        };
        let picked = cancel_selection(&queued);
        assert!(
            picked.contains(&(TaskStatus::Confirm, None)),
            "unset: CONFIRM too"
        );
        assert!(!picked.iter().any(|(s, _)| *s == TaskStatus::Notified));
    }

    #[test]
    fn a_bulk_cancel_writes_what_the_machine_writes() {
        for (status, queued_reason) in cancel_selection(&CancelOptions::everything()) {
            let before = Task {
                status,
                queued_reason,
                failure: Some(FailureReason::Timeout),
                retry_at: Some(5),
                timeout_at: Some(6),
                nudge_at: Some(7),
                progress: 40,
                ..probe_task()
            };
            let t = before
                .apply(
                    TaskEvent::Cancel(CancelReason::JobCanceled),
                    &TaskRules::default(),
                    9,
                )
                .unwrap();
            let want = Task {
                status: TaskStatus::Canceled,
                cancel_reason: Some(CancelReason::JobCanceled),
                failure: None,
                queued_reason: None,
                retry_at: None,
                timeout_at: None,
                nudge_at: None,
                modified_at: 9,
                ..before.clone()
            };
            assert_eq!(t.task, want, "{status:?} {queued_reason:?}");
            assert_eq!(t.effects, [Effect::Finished(TaskStatus::Canceled)]);
        }
    }
}
