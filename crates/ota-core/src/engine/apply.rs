//! Applying one event to many tasks: the shared step of every engine loop and of the
//! operator commands that touch tasks in bulk.

use crate::{Core, CoreResult};
use ota_domain::task::{Effect, Rejection, Task, TaskEvent, TaskRules, TaskStatus};
use ota_domain::{JobId, Millis, TaskId};
use ota_store::{NewEvent, StoreError};
use std::collections::{BTreeSet, HashMap};

/// What applying events produced, to be saved and acted upon.
#[derive(Default)]
pub(crate) struct TaskChanges {
    pub changed: Vec<Task>,
    /// Status and `modified_at` of each changed task as it was read, before this outcome
    /// changed it: the save only lands on rows still in that state.
    read_as: HashMap<TaskId, (TaskStatus, Millis)>,
    pub finished_jobs: BTreeSet<JobId>,
    /// Tasks whose push is to be sent again (the engine sends them once saved).
    pub repush: Vec<Task>,
    pub ready: bool,
    pub rejected: usize,
}

impl TaskChanges {
    /// Applies `event` to `task` under its batch's rules; stale events are counted, not errors.
    pub async fn apply(
        &mut self,
        core: &Core,
        task: &Task,
        event: TaskEvent,
        now: i64,
    ) -> CoreResult<Option<Task>> {
        let rules = rules_of(core, task).await?;
        match task.apply(event, &rules, now) {
            Ok(transition) => {
                for effect in &transition.effects {
                    match effect {
                        Effect::ReadyToPush | Effect::RetryScheduled(_) => self.ready = true,
                        Effect::Finished(_) => {
                            self.finished_jobs.insert(task.job_id.clone());
                        }
                        Effect::Repush => self.repush.push(transition.task.clone()),
                    }
                }
                self.read_as
                    .entry(task.task_id.clone())
                    .or_insert((task.status, task.modified_at));
                self.changed.push(transition.task.clone());
                Ok(Some(transition.task))
            }
            Err(Rejection::Stale(why) | Rejection::Invalid(why)) => {
                tracing::debug!(task = %task.task_id, why, "event left task unchanged");
                self.rejected += 1;
                Ok(None)
            }
        }
    }

    /// Saves the changed tasks, wakes the dispatcher and settles finished batches.
    ///
    /// A task is saved only if its row is still as it was read. When another node or
    /// request changed some meanwhile, the others are saved one by one and the call ends
    /// with [`StoreError::Stale`] (transient): the caller reads again and re-applies, which
    /// is safe because a transition applied twice is refused as stale.
    pub async fn commit(mut self, core: &Core) -> CoreResult<usize> {
        let store = &core.inner.store;
        keep_last_copies(&mut self.changed);
        let tasks = &self.changed;
        let before: Vec<(TaskStatus, Millis)> =
            tasks.iter().map(|t| self.read_as[&t.task_id]).collect();
        let mut stale = false;
        // Webhook events of status changes, in the same transaction; when no endpoint takes
        // them (known from memory), none are made and the save writes nothing more.
        let wanted = !tasks.is_empty() && core.task_events_wanted().await?;
        let events_of = |tasks: &[Task], before: &[(TaskStatus, Millis)]| -> Vec<NewEvent> {
            if !wanted {
                return Vec::new();
            }
            tasks
                .iter()
                .zip(before)
                .filter(|(t, (was, _))| t.status != *was)
                .map(|(t, (was, _))| crate::webhooks::task_event(t, *was))
                .collect()
        };
        let events = events_of(tasks, &before);
        let saved: Vec<&Task> = match store.save_tasks_with_events(tasks, &before, &events).await {
            Ok(()) => tasks.iter().collect(),
            Err(StoreError::Stale) if tasks.len() > 1 => {
                let mut saved = Vec::with_capacity(tasks.len());
                for (task, was) in tasks.iter().zip(&before) {
                    let one = std::slice::from_ref(task);
                    let was = std::slice::from_ref(was);
                    match store
                        .save_tasks_with_events(one, was, &events_of(one, was))
                        .await
                    {
                        Ok(()) => saved.push(task),
                        Err(StoreError::Stale) => stale = true,
                        Err(err) => return Err(err.into()),
                    }
                }
                saved
            }
            Err(err) => return Err(err.into()),
        };
        for task in &saved {
            metrics::counter!("ota_task_transitions_total", "to" => task.status.as_str())
                .increment(1);
        }
        // A device whose task ended may read no more blocks of it.
        let ended: Vec<_> = saved
            .iter()
            .filter(|t| t.status.is_terminal())
            .map(|t| t.device_key())
            .collect();
        core.inner.block_grants.forget(&ended);
        if self.ready {
            core.wake_dispatcher();
        }
        for job in &self.finished_jobs {
            core.jobs().settle(job).await?;
        }
        if stale {
            metrics::counter!("ota_task_stale_writes_total").increment(1);
            return Err(StoreError::Stale.into());
        }
        Ok(saved.len())
    }
}

/// Keeps only the last copy of each task (a burst of reports for one task is one write),
/// in the order of those last copies.
fn keep_last_copies(tasks: &mut Vec<Task>) {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Task> = Vec::with_capacity(tasks.len());
    for task in tasks.drain(..).rev() {
        if seen.insert(task.task_id.clone()) {
            kept.push(task);
        }
    }
    kept.reverse();
    *tasks = kept;
}

/// The batch rules that govern a task.
pub(crate) async fn rules_of(core: &Core, task: &Task) -> CoreResult<TaskRules> {
    let job = core
        .inner
        .cache
        .job(&core.inner.store, &task.job_id)
        .await?;
    Ok(TaskRules {
        nudge_after: core.inner.config.nudge_after,
        ..job.task_rules()
    })
}
