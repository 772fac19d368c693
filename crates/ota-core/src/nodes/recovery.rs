//! Recovery from a lost node: push again every task whose device was told to update and
//! has not finished (NOTIFIED, IN_PROGRESS).
//!
//! Why: behind an external broker, a device report handed to a node that dies before
//! committing it is gone — the broker does not give a dead member's in-flight
//! shared-subscription messages to another one. The store cannot say which reports were
//! lost, so every told device is pushed again: one that finished answers with its version
//! (completing its task), one still updating carries on, one that never got its push
//! gets it now. A second push is harmless; a lost report would leave the task for good.
//! The pushes are the ones the dispatcher sends (`Delivery::upgrade_message`), in chunks, and
//! wait for room in the outbound queue rather than drop.

use crate::{Core, CoreResult};
use std::time::Duration;

/// How long after the link to the devices came back its recovery waits: devices that lost
/// the broker with it reconnect (with their own backoff) and subscribe meanwhile.
const LINK_RECOVERY_GRACE: Duration = Duration::from_secs(10);
/// One recovery after a link loss per this long, whichever node asks first (all nodes lose
/// a broker that restarts).
const LINK_RECOVERY_GAP_MS: i64 = 60_000;

/// Tasks read and pushed per chunk.
const CHUNK: i64 = 256;
/// How long pushes may wait for room in the outbound queue without one getting through;
/// after that the rest are tried once each and the ones refused given up (the broker is
/// away: the tasks' timeouts and retries still cover them).
const SEND_PATIENCE: Duration = Duration::from_secs(10);

/// What a recovery pushed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Repushed {
    /// Pushes handed to the broker.
    pub sent: u64,
    /// Pushes that found no room within [`SEND_PATIENCE`].
    pub dropped: u64,
}

impl Core {
    /// After the link to the devices came back (the external broker's connection was
    /// re-established): whatever was in flight when it broke may be lost both ways — a
    /// report the broker took while no node was subscribed, a push to a device that was
    /// away. Once devices have had time to reconnect, every told task is pushed again, by
    /// one node: devices that finished answer with their version. Devices back later are
    /// covered by the nudges of silent told tasks.
    pub async fn recover_link_loss(&self) {
        tokio::time::sleep(LINK_RECOVERY_GRACE).await;
        let claim = self
            .store()
            .claim_pass("link_recovery", self.now(), LINK_RECOVERY_GAP_MS)
            .await;
        match claim {
            Ok(true) => match self.repush_told_tasks().await {
                Ok(done) => tracing::info!(
                    sent = done.sent,
                    dropped = done.dropped,
                    "pushed every told task again after the device link came back"
                ),
                Err(err) => {
                    tracing::error!(%err, "recovery after the device link came back failed")
                }
            },
            Ok(false) => tracing::debug!("another node recovers from the link loss"),
            Err(err) => tracing::warn!(%err, "cannot claim the recovery after a link loss"),
        }
    }

    /// Pushes again every NOTIFIED or IN_PROGRESS task of a batch that pushes (not
    /// pull-only), batch by batch in chunks of [`CHUNK`].
    pub async fn repush_told_tasks(&self) -> CoreResult<Repushed> {
        let mut done = Repushed::default();
        let link = self.link();
        let mut patience_until = tokio::time::Instant::now() + SEND_PATIENCE;
        for job in self.store().jobs_with_told_tasks().await? {
            if !job.policy.need_push {
                continue;
            }
            let firmware = self
                .inner
                .cache
                .firmware(self.store(), &job.firmware_id)
                .await?;
            let mut after = None;
            loop {
                let chunk = self
                    .store()
                    .told_tasks_of_job(&job.job_id, after.as_ref(), CHUNK)
                    .await?;
                let Some(last) = chunk.last() else { break };
                after = Some(last.task_id.clone());
                let now = self.now();
                for task in &chunk {
                    let (topic, payload) = self
                        .delivery()
                        .upgrade_message(&firmware, &job, task, now)
                        .await?;
                    let device = task.device_key();
                    loop {
                        if link.send(&device, &topic, payload.clone()) {
                            done.sent += 1;
                            patience_until = tokio::time::Instant::now() + SEND_PATIENCE;
                            break;
                        }
                        if tokio::time::Instant::now() >= patience_until {
                            done.dropped += 1;
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                // Let the dispatcher and the broker client have the queue in between.
                tokio::task::yield_now().await;
            }
        }
        metrics::counter!("ota_node_recovery_pushes_total").increment(done.sent);
        Ok(done)
    }
}
