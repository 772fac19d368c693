//! The rollout transition function: one `match` per event over the rollout's status and
//! its current wave's phase; each arm says why.
//!
//! A rollout never touches tasks. Its effects tell the engine which batch to create,
//! pause, resume or cancel, so every batch still moves only through its own machine.

use super::{Rollout, RolloutPause, RolloutPauseReason, RolloutStatus, WaveCounts, WavePhase};
use crate::Millis;
use crate::job::{ApprovalDecision, GateAction, JobStatus, PauseReason};
use crate::task::Rejection;

/// The current wave's batch as the engine found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveObservation {
    pub batch: JobStatus,
    /// Its tasks are still being created: nothing is judged yet.
    pub creating: bool,
    pub counts: WaveCounts,
}

/// Something that happened to a rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutEvent {
    /// The current wave's batch, observed now (also how soak time passes).
    Observe(WaveObservation),
    /// The batch of the wave being started exists now.
    BatchCreated,
    /// An operator starts the next wave without waiting for the current one.
    StartNextWave,
    /// The wave awaiting approval is approved: its batch is created.
    Approve(ApprovalDecision),
    /// The wave awaiting approval is denied: the rollout is cancelled.
    Deny(ApprovalDecision),
    /// An operator pauses the rollout and its running wave.
    Pause,
    /// An operator resumes it; error conditions count from these counts of the wave on.
    Resume(WaveCounts),
    /// An operator cancels the rollout: the current wave's devices not yet started are
    /// cancelled, later waves never start.
    Cancel,
}

/// What the engine must do besides storing the new rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutEffect {
    /// Create the batch of wave `n` (0-based) with [`Rollout::wave_link`]'s devices, then
    /// apply [`RolloutEvent::BatchCreated`].
    CreateBatch(usize),
    /// Tell subscribers that wave `n` (0-based) started.
    WaveStarted(usize),
    /// Pause the current wave's batch.
    PauseBatch(PauseReason),
    /// Resume the current wave's batch.
    ResumeBatch,
    /// Cancel every task of the current wave's batch that has not started.
    CancelBatch,
}

/// The result of a rollout transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutTransition {
    pub rollout: Rollout,
    pub effects: Vec<RolloutEffect>,
}

impl Rollout {
    /// Applies `event` at `now`. `Stale` means nothing to do (an observation that changes
    /// nothing is not an error); `Invalid` is an operator command the state does not allow.
    pub fn apply(&self, event: RolloutEvent, now: Millis) -> Result<RolloutTransition, Rejection> {
        use RolloutStatus::*;
        let mut next = self.clone();
        next.modified_at = now;
        next.version += 1;
        let mut effects = Vec::new();
        let phase = self.current_wave().state.phase;
        if self.status.is_terminal() {
            return Err(match event {
                RolloutEvent::Observe(_) | RolloutEvent::BatchCreated => {
                    Rejection::Stale("the rollout has ended")
                }
                _ => Rejection::Invalid("the rollout has ended"),
            });
        }
        match event {
            RolloutEvent::Observe(seen) => {
                if !phase.is_watched() || seen.creating {
                    return Err(Rejection::Stale("no wave batch to judge yet"));
                }
                next.waves[next.current].state.counts = seen.counts.clone();
                if self.pause.is_none() {
                    next.judge(&seen, now, &mut effects);
                }
                let mut unchanged = next.clone();
                unchanged.version = self.version;
                unchanged.modified_at = self.modified_at;
                if unchanged == *self && effects.is_empty() {
                    return Err(Rejection::Stale("nothing changed"));
                }
            }
            RolloutEvent::BatchCreated => {
                if phase != WavePhase::Starting {
                    return Err(Rejection::Stale("the wave's batch was already created"));
                }
                let state = &mut next.waves[next.current].state;
                state.phase = WavePhase::Running;
                state.started_at = Some(now);
                state.job_id = Some(self.wave_job_id(self.current));
                effects.push(RolloutEffect::WaveStarted(self.current));
                if self.pause.is_some() {
                    // Paused while the batch was being created: it starts paused too.
                    effects.push(RolloutEffect::PauseBatch(PauseReason::Operator));
                }
            }
            RolloutEvent::StartNextWave => {
                if self.current + 1 == self.waves.len() {
                    return Err(Rejection::Invalid("the current wave is the last"));
                }
                let allowed = match self.pause.map(|p| p.reason) {
                    None => phase.is_watched(),
                    Some(RolloutPauseReason::BelowSuccess) => true,
                    Some(_) => false,
                };
                if !allowed {
                    return Err(Rejection::Invalid(
                        "the next wave can be started while the current one runs or soaks, \
                         or after it finished below its success condition; resume a paused \
                         rollout first",
                    ));
                }
                let state = &mut next.waves[next.current].state;
                state.phase = match phase {
                    WavePhase::Soaking => WavePhase::Succeeded,
                    WavePhase::Failed => WavePhase::Failed,
                    _ => WavePhase::Passed,
                };
                state.finished_at = Some(now);
                next.pause = None;
                next.status = Running;
                next.advance(&mut effects);
            }
            RolloutEvent::Approve(decision) => {
                if phase != WavePhase::AwaitingApproval {
                    return Err(Rejection::Invalid("no wave of the rollout awaits approval"));
                }
                let state = &mut next.waves[next.current].state;
                state.approval = Some(decision);
                state.phase = WavePhase::Starting;
                effects.push(RolloutEffect::CreateBatch(self.current));
            }
            RolloutEvent::Deny(decision) => {
                if phase != WavePhase::AwaitingApproval {
                    return Err(Rejection::Invalid("no wave of the rollout awaits approval"));
                }
                let state = &mut next.waves[next.current].state;
                state.approval = Some(decision);
                state.note = Some("denied".to_owned());
                next.end(Canceled, now);
            }
            RolloutEvent::Pause => {
                if self.pause.is_some() {
                    return Err(Rejection::Invalid("the rollout is already paused"));
                }
                next.status = Paused;
                next.pause = Some(RolloutPause {
                    reason: RolloutPauseReason::Operator,
                    at: now,
                });
                if phase.is_watched() {
                    effects.push(RolloutEffect::PauseBatch(PauseReason::Operator));
                }
            }
            RolloutEvent::Resume(counts) => match self.pause.map(|p| p.reason) {
                None => return Err(Rejection::Invalid("the rollout is not paused")),
                Some(RolloutPauseReason::BelowSuccess) => {
                    return Err(Rejection::Invalid(
                        "the wave finished below its success condition: start the next wave \
                         or cancel the rollout",
                    ));
                }
                Some(_) => {
                    next.status = Running;
                    next.pause = None;
                    if phase.is_watched() {
                        next.waves[next.current].state.baseline = counts;
                        effects.push(RolloutEffect::ResumeBatch);
                    }
                }
            },
            RolloutEvent::Cancel => {
                if phase.is_watched() {
                    effects.push(RolloutEffect::CancelBatch);
                }
                next.waves[next.current].state.note = Some("cancelled by an operator".to_owned());
                next.end(Canceled, now);
            }
        }
        Ok(RolloutTransition {
            rollout: next,
            effects,
        })
    }

    /// Judges the current, watched wave of a running rollout from its batch.
    fn judge(&mut self, seen: &WaveObservation, now: Millis, effects: &mut Vec<RolloutEffect>) {
        let index = self.current;
        let last = index + 1 == self.waves.len();
        let wave = &self.waves[index];
        let (success, phase) = (wave.plan.success, wave.state.phase);
        if seen.batch == JobStatus::Canceled {
            self.waves[index].state.note = Some("its batch was cancelled".to_owned());
            self.end(RolloutStatus::Canceled, now);
            return;
        }
        let tripped = wave
            .plan
            .errors
            .iter()
            .find(|c| c.trips(&seen.counts, &wave.state.baseline))
            .cloned();
        if let Some(cond) = tripped {
            let note = format!("error condition tripped: {}", cond.describe());
            self.waves[index].state.note = Some(note);
            match cond.action {
                GateAction::Pause => {
                    self.status = RolloutStatus::Paused;
                    self.pause = Some(RolloutPause {
                        reason: RolloutPauseReason::ErrorCondition,
                        at: now,
                    });
                    effects.push(RolloutEffect::PauseBatch(PauseReason::FailureGate));
                }
                GateAction::Cancel => {
                    effects.push(RolloutEffect::CancelBatch);
                    self.end(RolloutStatus::Canceled, now);
                    self.waves[index].state.phase = WavePhase::Failed;
                }
            }
            return;
        }
        let met = success.is_met(&seen.counts);
        let completed = seen.batch == JobStatus::Completed;
        if last {
            // Nothing comes after the last wave: it ends with its batch.
            if met && self.waves[index].state.succeeded_at.is_none() {
                self.waves[index].state.succeeded_at = Some(now);
            }
            if completed {
                let state = &mut self.waves[index].state;
                state.phase = if met {
                    WavePhase::Succeeded
                } else {
                    state.note = Some(below_success(success, &seen.counts));
                    WavePhase::Failed
                };
                state.finished_at = Some(now);
                self.status = RolloutStatus::Completed;
                self.finished_at = Some(now);
            }
            return;
        }
        match phase {
            WavePhase::Running if met => {
                let state = &mut self.waves[index].state;
                state.phase = WavePhase::Soaking;
                state.succeeded_at = Some(now);
            }
            WavePhase::Running if completed => {
                let state = &mut self.waves[index].state;
                state.phase = WavePhase::Failed;
                state.finished_at = Some(now);
                state.note = Some(below_success(success, &seen.counts));
                self.status = RolloutStatus::Paused;
                self.pause = Some(RolloutPause {
                    reason: RolloutPauseReason::BelowSuccess,
                    at: now,
                });
                return;
            }
            _ => {}
        }
        let state = &self.waves[index].state;
        if state.phase == WavePhase::Soaking {
            let soaked_at = state.succeeded_at.unwrap_or(now)
                + Millis::from(self.waves[index].plan.soak_minutes) * 60_000;
            if now >= soaked_at {
                let state = &mut self.waves[index].state;
                state.phase = WavePhase::Succeeded;
                state.finished_at = Some(now);
                self.advance(effects);
            }
        }
    }

    /// Moves to the next wave: it waits for approval, or its batch is created.
    fn advance(&mut self, effects: &mut Vec<RolloutEffect>) {
        self.current += 1;
        let wave = &mut self.waves[self.current];
        wave.state.phase = if wave.plan.approval_required {
            WavePhase::AwaitingApproval
        } else {
            effects.push(RolloutEffect::CreateBatch(self.current));
            WavePhase::Starting
        };
    }

    /// Ends the rollout: the current wave (unless it already ended) and every later one
    /// are cancelled.
    fn end(&mut self, status: RolloutStatus, now: Millis) {
        self.status = status;
        self.pause = None;
        self.finished_at = Some(now);
        for (i, wave) in self.waves.iter_mut().enumerate().skip(self.current) {
            let ended = matches!(
                wave.state.phase,
                WavePhase::Succeeded | WavePhase::Failed | WavePhase::Passed
            );
            if !ended {
                wave.state.phase = WavePhase::Canceled;
                if i == self.current {
                    wave.state.finished_at = Some(now);
                }
            }
        }
    }
}

fn below_success(success: super::SuccessCondition, counts: &WaveCounts) -> String {
    format!(
        "finished below its success condition: {} of {} devices updated, {} % needed",
        counts.succeeded, counts.total, success.succeeded_percent
    )
}
