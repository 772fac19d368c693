//! The operator's commands on a rollout, and how any transition is carried out.
//!
//! A transition's batch effects (pause, resume or cancel the wave's batch) run before the
//! rollout is written, and the rollout is written only over the version that was read:
//! so an interruption between the two leaves a batch ahead of its rollout, never behind,
//! and the next observation of that batch brings the rollout level again. Creating the
//! next wave's batch runs after: the stored STARTING phase is the promise to create it,
//! kept by whichever node drives the rollout next.

use crate::{CoreError, CoreResult, Rollouts};
use ota_domain::job::{ApprovalDecision, JobEvent, PauseReason, gate_cancel_options};
use ota_domain::rollout::{
    Rollout, RolloutEffect, RolloutEvent, RolloutPauseReason, RolloutTransition, WaveCounts,
    WaveObservation, WavePhase,
};
use ota_domain::task::Rejection;
use ota_domain::webhook::EventType;
use ota_domain::{DomainError, ErrorCode, JobId, RolloutId};
use serde_json::json;

/// How often a command is tried again when the driver wrote the rollout meanwhile.
const ATTEMPTS: usize = 5;
/// Transitions one drive may chain (observe, start the next wave, its batch created, …).
const STEPS: usize = 8;

impl Rollouts<'_> {
    /// Pauses the rollout and its running wave's batch.
    pub async fn pause(&self, id: &RolloutId) -> CoreResult<Rollout> {
        self.command(id, |_| RolloutEvent::Pause).await
    }

    /// Resumes a paused rollout; the wave's error conditions count from now on.
    pub async fn resume(&self, id: &RolloutId) -> CoreResult<Rollout> {
        self.command(id, RolloutEvent::Resume).await
    }

    /// Cancels the rollout: the running wave's devices not yet started are cancelled,
    /// later waves never start.
    pub async fn cancel(&self, id: &RolloutId) -> CoreResult<Rollout> {
        self.command(id, |_| RolloutEvent::Cancel).await
    }

    /// Starts the next wave now, without waiting for the current one's success condition.
    pub async fn start_next_wave(&self, id: &RolloutId) -> CoreResult<Rollout> {
        self.command(id, |_| RolloutEvent::StartNextWave).await
    }

    /// Approves or denies the wave awaiting approval, as user `by`.
    pub async fn decide(
        &self,
        id: &RolloutId,
        approved: bool,
        by: &str,
        remark: &str,
    ) -> CoreResult<Rollout> {
        let decision = ApprovalDecision::new(approved, by, remark, self.now())?;
        self.command(id, |_| {
            if approved {
                RolloutEvent::Approve(decision.clone())
            } else {
                RolloutEvent::Deny(decision.clone())
            }
        })
        .await
    }

    /// Applies the event `event` makes of the current wave's counts, and carries it out.
    async fn command(
        &self,
        id: &RolloutId,
        event: impl Fn(WaveCounts) -> RolloutEvent,
    ) -> CoreResult<Rollout> {
        for _ in 0..ATTEMPTS {
            let read = self.get(id).await?;
            let counts = match read.watched_job() {
                Some(job_id) => match self.store().get_job(job_id).await? {
                    Some(job) => self.wave_counts(&job).await?,
                    None => WaveCounts::default(),
                },
                None => WaveCounts::default(),
            };
            let transition = read
                .apply(event(counts), self.now())
                .map_err(|r| rejected(&read, r))?;
            if self.commit(&read, transition).await? {
                self.drive(id).await?;
                return self.get(id).await;
            }
        }
        Err(DomainError::new(
            ErrorCode::InvalidState,
            Some("RolloutId"),
            "the rollout kept changing while the command was applied; try again",
        )
        .into())
    }

    /// Moves a rollout as far as it can go now: creates the batch of a starting wave,
    /// observes the running one, and applies what follows, a few steps at most.
    pub(crate) async fn drive(&self, id: &RolloutId) -> CoreResult<()> {
        for _ in 0..STEPS {
            let read = self.get(id).await?;
            if read.status.is_terminal() {
                return Ok(());
            }
            let wave = read.current_wave();
            let event = match wave.state.phase {
                WavePhase::Starting => {
                    self.create_wave_batch(&read, read.current).await?;
                    RolloutEvent::BatchCreated
                }
                WavePhase::Running | WavePhase::Soaking => {
                    let job_id = read.wave_job_id(read.current);
                    let Some(job) = self.store().get_job(&job_id).await? else {
                        tracing::warn!(rollout = %id, job = %job_id, "a wave's batch is gone");
                        return Ok(());
                    };
                    if let Some(pause) = read.pause
                        && !job.is_paused()
                        && job.status == ota_domain::job::JobStatus::InProgress
                    {
                        // Paused while the batch was not (an interrupted command).
                        let reason = match pause.reason {
                            RolloutPauseReason::ErrorCondition => PauseReason::FailureGate,
                            _ => PauseReason::Operator,
                        };
                        self.batch_effect(&job_id, JobEvent::Pause(reason)).await?;
                    }
                    RolloutEvent::Observe(WaveObservation {
                        batch: job.status,
                        creating: job.is_creating(),
                        counts: self.wave_counts(&job).await?,
                    })
                }
                _ => return Ok(()),
            };
            match read.apply(event, self.now()) {
                Ok(transition) => {
                    self.commit(&read, transition).await?;
                }
                Err(Rejection::Stale(_)) => return Ok(()),
                Err(Rejection::Invalid(why)) => {
                    tracing::warn!(rollout = %id, why, "rollout event refused");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Carries out `transition` of `read`: batch effects, then the rollout over the
    /// version read with its webhook events. False when someone wrote it meanwhile.
    async fn commit(&self, read: &Rollout, transition: RolloutTransition) -> CoreResult<bool> {
        let rollout = &transition.rollout;
        let wave_job = rollout.wave_job_id(rollout.current);
        let mut events = Vec::new();
        for effect in &transition.effects {
            match effect {
                RolloutEffect::PauseBatch(reason) => {
                    self.batch_effect(&wave_job, JobEvent::Pause(*reason))
                        .await?;
                }
                RolloutEffect::ResumeBatch => {
                    let counts = self.jobs().task_tally(&wave_job).await?;
                    let baseline = ota_domain::job::FinishedCounts::of(&counts);
                    self.batch_effect(&wave_job, JobEvent::Resume(baseline))
                        .await?;
                }
                RolloutEffect::CancelBatch => {
                    self.batch_effect(&wave_job, JobEvent::Cancel(gate_cancel_options()))
                        .await?;
                }
                RolloutEffect::WaveStarted(index) => {
                    events.push(wave_started(rollout, *index, self.now()));
                }
                RolloutEffect::CreateBatch(_) => {}
            }
        }
        if !self
            .store()
            .update_rollout(rollout, read.version, &events)
            .await?
        {
            return Ok(false);
        }
        if !events.is_empty() {
            self.wake_webhooks();
        }
        if rollout.status != read.status {
            tracing::info!(rollout = %rollout.rollout_id, status = rollout.status.as_str(),
                wave = rollout.current + 1, "rollout status changed");
        }
        Ok(true)
    }

    /// Applies a batch event to a wave's batch; a batch already in that state is fine.
    async fn batch_effect(&self, job: &JobId, event: JobEvent) -> CoreResult<()> {
        match Box::pin(self.jobs().apply_event(job, event)).await {
            Err(err) if err.is_client_error() => Ok(()),
            other => other.map(drop),
        }
    }
}

/// The `batch.wave_started` event of wave `index`, ordered with its batch's events.
fn wave_started(rollout: &Rollout, index: usize, now: ota_domain::Millis) -> ota_store::NewEvent {
    let job = rollout.wave_job_id(index);
    crate::webhooks::event(
        EventType::WaveStarted,
        now,
        job.as_str(),
        json!({
            "rollout_id": rollout.rollout_id.as_str(),
            "wave": index + 1,
            "waves": rollout.waves.len(),
            "job_id": job.as_str(),
            "firmware_id": rollout.firmware_id.as_str(),
            "product_key": rollout.product_key.as_str(),
            "name": rollout.waves[index].plan.name,
        }),
    )
}

fn rejected(rollout: &Rollout, rejection: Rejection) -> CoreError {
    let message = match rejection {
        Rejection::Stale(m) | Rejection::Invalid(m) => m,
    };
    DomainError::new(
        ErrorCode::InvalidState,
        Some("RolloutId"),
        format!("rollout {}: {message}", rollout.rollout_id),
    )
    .into()
}
