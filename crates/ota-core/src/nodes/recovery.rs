//! Recovery from a lost node or a lost link: push again every task whose device was told to
//! update and has not finished (NOTIFIED, IN_PROGRESS).
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

/// The pass a recovery after a peer's lost session claims, followed by the peer's client id.
pub(super) const PEER_RECOVERY_PASS: &str = "peer_recovery:";
/// Every node hears a peer's will: one recovery per peer per this long.
const PEER_RECOVERY_GAP_MS: i64 = 30_000;

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
        self.repush_once(
            "link_recovery",
            LINK_RECOVERY_GAP_MS,
            "the device link came back",
        )
        .await;
    }

    /// After another node's broker session ended without a DISCONNECT (its last will): the
    /// reports the broker had handed it are gone, so every told task is pushed again at
    /// once, by one node of those that heard the will. The devices did not lose the broker,
    /// so nothing is waited for. The node's lease, when it lapses, recovers it again: the
    /// will is the fast path, the lease the one that holds when no will comes (the broker
    /// lost too, or a half-open connection the broker notices only at its keep-alive).
    pub async fn recover_peer_loss(&self, peer: &str) {
        let pass = format!("{PEER_RECOVERY_PASS}{peer}");
        self.repush_once(
            &pass,
            PEER_RECOVERY_GAP_MS,
            "another node lost its broker session",
        )
        .await;
    }

    /// Pushes every told task again, unless another node (or this one) claimed the pass
    /// `name` within `gap_ms`.
    async fn repush_once(&self, name: &str, gap_ms: i64, why: &str) {
        match self.store().claim_pass(name, self.now(), gap_ms).await {
            Ok(true) => match self.repush_told_tasks().await {
                Ok(done) => tracing::info!(
                    sent = done.sent,
                    dropped = done.dropped,
                    why,
                    "pushed every told task again"
                ),
                Err(err) => tracing::error!(%err, why, "pushing every told task again failed"),
            },
            Ok(false) => tracing::debug!(why, "another node pushes every told task again"),
            Err(err) => tracing::warn!(%err, why, "cannot claim pushing every told task again"),
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
