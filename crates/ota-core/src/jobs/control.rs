//! Rollout control of a running batch: an operator's pause and resume, and the failure gate
//! that pauses or cancels a batch whose devices fail too often (rules in
//! `ota_domain::job::gate`). Kept apart from the batch life cycle in `jobs.rs`: these act on
//! a batch that is already running, from its task counts.

use crate::{CoreResult, Jobs};
use ota_domain::JobId;
use ota_domain::job::{FinishedCounts, Job, JobEvent, PauseReason};
use ota_domain::stats::TaskCounts;

impl Jobs<'_> {
    /// Stops pushing new devices of a batch (devices already told go on) until resumed.
    pub async fn pause(&self, id: &JobId) -> CoreResult<Job> {
        self.apply_event(id, JobEvent::Pause(PauseReason::Operator))
            .await
    }

    /// Decides a batch created requiring approval: approved, it starts pushing; denied, it
    /// is cancelled with every task. `by` is the deciding user, kept with the remark.
    pub async fn decide_approval(
        &self,
        id: &JobId,
        approved: bool,
        by: &str,
        remark: &str,
    ) -> CoreResult<Job> {
        let decision = ota_domain::job::ApprovalDecision::new(approved, by, remark, self.now())?;
        let event = if approved {
            JobEvent::Approve(decision)
        } else {
            JobEvent::Deny(decision)
        };
        self.apply_event(id, event).await
    }

    /// Pushes a paused batch again. Its failure gate, if any, counts from now on.
    pub async fn resume(&self, id: &JobId) -> CoreResult<Job> {
        let counts = self.task_tally(id).await?;
        self.apply_event(id, JobEvent::Resume(FinishedCounts::of(&counts)))
            .await
    }

    /// A batch's tasks counted by status (one grouped count, no join).
    pub(crate) async fn task_tally(&self, id: &JobId) -> CoreResult<TaskCounts> {
        let mut tally = TaskCounts::default();
        for (status, n) in self.store().job_status_counts(id).await? {
            tally.add(status, n as u64);
        }
        Ok(tally)
    }

    /// Pauses or cancels a running batch whose failure gate the latest results broke.
    pub(crate) async fn check_failure_gate(&self, id: &JobId) -> CoreResult<()> {
        let tally = self.task_tally(id).await?;
        let job = self.get(id).await?;
        let Some(event) = job.gate_verdict(&tally) else {
            return Ok(());
        };
        let finished = FinishedCounts::of(&tally);
        tracing::warn!(
            job = %id,
            failed = finished.failed,
            finished = finished.finished,
            action = ?job.policy.failure_gate.map(|g| g.action),
            "failure gate tripped"
        );
        metrics::counter!("ota_failure_gate_trips_total").increment(1);
        // Boxed: applying the event commits task changes, whose commit settles batches.
        match Box::pin(self.apply_event(id, event)).await {
            // Someone else paused or ended the batch meanwhile.
            Err(err) if err.is_client_error() => Ok(()),
            other => other.map(drop),
        }
    }
}
