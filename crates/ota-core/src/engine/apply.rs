//! Applying one event to many tasks: the shared step of every engine loop and of the
//! operator commands that touch tasks in bulk.

use crate::{Core, CoreResult};
use ota_domain::JobId;
use ota_domain::task::{Effect, Rejection, Task, TaskEvent, TaskRules};
use std::collections::BTreeSet;

/// What applying events produced, to be saved and acted upon.
#[derive(Default)]
pub(crate) struct Outcome {
    pub changed: Vec<Task>,
    pub finished_jobs: BTreeSet<JobId>,
    pub ready: bool,
    pub rejected: usize,
}

impl Outcome {
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
                    }
                }
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
    pub async fn commit(self, core: &Core) -> CoreResult<usize> {
        let count = self.changed.len();
        if !self.changed.is_empty() {
            core.inner.store.save_tasks(&self.changed).await?;
            for task in &self.changed {
                metrics::counter!("ota_task_transitions_total", "to" => task.status.as_str())
                    .increment(1);
            }
        }
        if self.ready {
            core.wake_dispatcher();
        }
        for job in &self.finished_jobs {
            core.settle_job(job).await?;
        }
        Ok(count)
    }
}

/// The batch rules that govern a task.
pub(crate) async fn rules_of(core: &Core, task: &Task) -> CoreResult<TaskRules> {
    let job = core
        .inner
        .cache
        .job(&core.inner.store, &task.job_id)
        .await?;
    Ok(TaskRules {
        retry: job.policy.retry,
        timeout_minutes: job.policy.timeout_minutes,
        need_push: job.policy.need_push,
    })
}
