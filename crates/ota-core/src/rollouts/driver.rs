//! The rollout driver: one worker, on one node of several at a time (a platform-wide
//! lease), that moves every active rollout as far as it can go each round. A round runs
//! when a rollout changes, when a task of a wave's batch finishes, and at least every
//! second, so a soak ends on time and an error condition trips within a second of the
//! failure that breaks it.

use crate::engine::worker::{Pace, Worker};
use crate::{Core, CoreResult};
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
        for rollout in core.store().active_rollouts().await? {
            // One rollout's trouble (a deleted package) must not stop the others.
            if let Err(err) = core.rollouts().drive(&rollout.rollout_id).await {
                tracing::warn!(rollout = %rollout.rollout_id, %err, "rollout not moved");
            }
        }
        Ok(Pace::Idle)
    }

    async fn until_next(&mut self, core: &Core) {
        let _ = tokio::time::timeout(TICK, core.inner.rollout_wake.notified()).await;
    }

    fn exclusive(&self) -> Option<Duration> {
        Some(LEASE)
    }
}
