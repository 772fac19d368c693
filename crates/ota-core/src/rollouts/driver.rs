//! The rollout driver: one worker, on one node of several at a time (a platform-wide
//! lease), that moves every active rollout as far as it can go each round. A round runs
//! when a rollout changes, when a task of a wave's batch finishes, and at least every
//! second, so a soak ends on time and an error condition trips within a second of the
//! failure that breaks it.

use crate::engine::worker::{Pace, Worker};
use crate::{Core, CoreResult};
use ota_domain::rollout::{Rollout, RolloutStatus, WavePhase};
use std::time::Duration;

/// Longest wait between two rounds.
const TICK: Duration = Duration::from_secs(1);
/// How long the driver's lease lasts without renewal.
const LEASE: Duration = Duration::from_secs(10);

pub(crate) struct Driver;

impl Worker for Driver {
    const NAME: &'static str = "rollout-driver";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<Pace> {
        let active = core.store().active_rollouts().await?;
        for rollout in &active {
            // One rollout's trouble (a deleted package) must not stop the others.
            if let Err(err) = core.rollouts().drive(&rollout.rollout_id).await {
                tracing::warn!(rollout = %rollout.rollout_id, %err, "rollout not moved");
            }
        }
        // As found at the start of the round: the gauges lag at most one round.
        publish_gauges(&active);
        Ok(Pace::Idle)
    }

    async fn until_next(&mut self, core: &Core) {
        let _ = tokio::time::timeout(TICK, core.inner.rollout_wake.notified()).await;
    }

    fn exclusive(&self) -> Option<Duration> {
        Some(LEASE)
    }
}

/// `ota_rollouts{status}`: active rollouts by status; `ota_rollout_current_waves{phase}`:
/// where their current waves are (awaiting approval, soaking, …), every phase reported so a
/// phase nobody is in reads 0.
fn publish_gauges(active: &[Rollout]) {
    for status in [RolloutStatus::Running, RolloutStatus::Paused] {
        let n = active.iter().filter(|r| r.status == status).count();
        metrics::gauge!("ota_rollouts", "status" => status.as_str()).set(n as f64);
    }
    for phase in WavePhase::ALL {
        let n = active
            .iter()
            .filter(|r| r.current_wave().state.phase == phase)
            .count();
        metrics::gauge!("ota_rollout_current_waves", "phase" => phase.as_str()).set(n as f64);
    }
}
