//! This node's place among the nodes sharing the store (ADR 0008): it registers when it
//! starts, refusing to join others when its download URLs would name itself; it renews its
//! heartbeat; it claims nodes whose heartbeat lapsed past the lease (exactly one surviving
//! node wins each) and recovers them; and it deregisters when it stops cleanly.
//!
//! Liveness is judged on the nodes' wall clocks (keep them in step, e.g. NTP, within a
//! small part of the lease), never on the platform clock tests and demos move.

mod recovery;
mod url_check;

pub use recovery::Repushed;
pub use url_check::{UrlVerdict, judge_public_urls};

use crate::{Clock, Core, CoreResult, SystemClock};
use ota_domain::Millis;
use ota_store::NodeRow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Lost nodes are kept in the registry this long after their recovery, for operators.
const KEEP_LOST_MS: Millis = 24 * 3_600_000;

/// What this node tells the others about itself, and how it treats them.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Stable across restarts of this process slot (host and HTTP address): rows of this
    /// name are earlier runs of this node.
    pub name: String,
    /// The base of the download URLs this node's pushes carry.
    pub public_url: String,
    /// Whether `public_url` was configured (one address in front of every node).
    pub public_url_explicit: bool,
    /// Whether pushes carry presigned bucket URLs (packages in S3).
    pub presigned_downloads: bool,
    /// A node silent this long is lost.
    pub lease: Duration,
    /// Whether to push again the told tasks of a lost node (behind an external broker,
    /// where this node reaches every device and a lost node's reports are gone). On the
    /// embedded broker a lost node's devices reconnect to another node instead.
    pub repush_on_loss: bool,
}

impl NodeSettings {
    /// How often the heartbeat is renewed: four times per lease.
    pub fn heartbeat_every(&self) -> Duration {
        (self.lease / 4).max(Duration::from_millis(250))
    }
}

/// Why a node did not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Core(#[from] crate::CoreError),
}

/// This node, registered in the store.
pub struct Node {
    core: Core,
    settings: NodeSettings,
    row: NodeRow,
    /// Whether the "others joined while I push my own address" warning was given.
    warned_own_address: AtomicBool,
    /// Whether this node claims lost nodes: from [`Node::start_recovering`] on, once its
    /// device endpoint is up (a recovery pushes to devices).
    recovering: AtomicBool,
}

fn wall_now() -> Millis {
    SystemClock.now()
}

fn random_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

impl Node {
    /// Registers this node, unless its download URLs would name itself while other nodes
    /// are live ([`judge_public_urls`]): then nothing is written and the refusal says which
    /// setting to change.
    pub async fn join(core: &Core, settings: NodeSettings) -> Result<Node, JoinError> {
        let now = wall_now();
        let row = NodeRow {
            node_id: random_id(),
            name: settings.name.clone(),
            public_url: settings.public_url.clone(),
            public_url_explicit: settings.public_url_explicit,
            presigned_downloads: settings.presigned_downloads,
            started_at: now,
            heartbeat_at: now,
            lost_at: None,
            recovered_by: None,
        };
        let live = core
            .store()
            .live_nodes(now - lease_ms(&settings))
            .await
            .map_err(crate::CoreError::from)?;
        match judge_public_urls(&row, &live) {
            UrlVerdict::Refuse(message) => return Err(JoinError::Refused(message)),
            UrlVerdict::Warn(message) => tracing::warn!("{message}"),
            UrlVerdict::Fine => {}
        }
        core.store()
            .register_node(&row)
            .await
            .map_err(crate::CoreError::from)?;
        tracing::info!(node = %row.node_id, name = %row.name, "node registered");
        Ok(Node {
            core: core.clone(),
            settings,
            row,
            warned_own_address: AtomicBool::new(false),
            recovering: AtomicBool::new(false),
        })
    }

    /// This node's id in the registry.
    pub fn id(&self) -> &str {
        &self.row.node_id
    }

    /// Lets the heartbeat claim and recover lost nodes (call once devices can be reached).
    /// Before, a heartbeat only keeps this node alive.
    pub fn start_recovering(&self) {
        self.recovering.store(true, Ordering::Relaxed);
    }

    /// The settings it joined with.
    pub fn settings(&self) -> &NodeSettings {
        &self.settings
    }

    /// One heartbeat: renews this node's row (registering again if others had declared it
    /// lost), collects expired nonces and old lost nodes, then claims every node whose
    /// heartbeat lapsed and every earlier run of this node. Returns the nodes claimed: the
    /// caller recovers them ([`Node::recover`]) beside the next heartbeats, which a long
    /// recovery must not delay.
    pub async fn beat(&self) -> CoreResult<Vec<NodeRow>> {
        let store = self.core.store();
        let now = wall_now();
        if !store.node_heartbeat(&self.row.node_id, now).await? {
            tracing::warn!(
                node = %self.row.node_id,
                "this node was declared lost by another (its heartbeat was late): registering again"
            );
            store.deregister_node(&self.row.node_id).await?;
            let mut row = self.row.clone();
            row.heartbeat_at = now;
            store.register_node(&row).await?;
        }
        if !self.recovering.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        store.purge_expired_nonces(now).await?;
        store
            .delete_audit_events_before(self.core.now() - self.core.config().audit_retention)
            .await?;
        store.forget_lost_nodes(now - KEEP_LOST_MS).await?;
        store
            .forget_passes(recovery::PEER_RECOVERY_PASS, self.core.now() - KEEP_LOST_MS)
            .await?;
        self.warn_if_pushing_own_address(now).await?;
        let mut lost = store
            .earlier_runs(&self.row.name, &self.row.node_id)
            .await?;
        let earlier = lost.len();
        lost.extend(store.lapsed_nodes(now - lease_ms(&self.settings)).await?);
        let mut claimed = Vec::new();
        for (i, node) in lost.into_iter().enumerate() {
            let lapsed_before = (i >= earlier).then(|| now - lease_ms(&self.settings));
            if store
                .claim_lost_node(&node.node_id, &self.row.node_id, now, lapsed_before)
                .await?
            {
                metrics::counter!("ota_nodes_lost_total").increment(1);
                claimed.push(node);
            }
        }
        Ok(claimed)
    }

    /// Recovers a node this one claimed: behind an external broker, pushes every told,
    /// unfinished task again (`Core::repush_told_tasks`).
    pub async fn recover(&self, lost: &NodeRow) -> CoreResult<()> {
        let silent_ms = wall_now() - lost.heartbeat_at;
        if !self.settings.repush_on_loss {
            tracing::warn!(
                lost = %lost.node_id, name = %lost.name, silent_ms,
                "node lost; its devices reconnect to the other nodes"
            );
            return Ok(());
        }
        tracing::warn!(
            lost = %lost.node_id, name = %lost.name, silent_ms,
            "node lost; pushing every unfinished told task again"
        );
        let done = self.core.repush_told_tasks().await?;
        tracing::info!(
            lost = %lost.node_id,
            sent = done.sent,
            dropped = done.dropped,
            "recovery of the lost node done"
        );
        Ok(())
    }

    /// A node that started alone with its own address in download URLs cannot be
    /// refused later, when others join: it says so, once.
    async fn warn_if_pushing_own_address(&self, now: Millis) -> CoreResult<()> {
        if self.settings.public_url_explicit
            || self.settings.presigned_downloads
            || self.warned_own_address.load(Ordering::Relaxed)
        {
            return Ok(());
        }
        let live = self
            .core
            .store()
            .live_nodes(now - lease_ms(&self.settings))
            .await?;
        if let UrlVerdict::Refuse(message) = judge_public_urls(&self.row, &live) {
            self.warned_own_address.store(true, Ordering::Relaxed);
            tracing::error!("{message} (this node started first, so it keeps running)");
        }
        Ok(())
    }

    /// Deregisters after a clean stop: nothing of this node needs recovering.
    pub async fn leave(&self) -> CoreResult<()> {
        self.core.store().deregister_node(&self.row.node_id).await?;
        tracing::info!(node = %self.row.node_id, "node deregistered");
        Ok(())
    }
}

fn lease_ms(settings: &NodeSettings) -> Millis {
    settings.lease.as_millis() as Millis
}

/// How often the recovery of a lost node is tried before it is given up (logged).
const RECOVERY_ATTEMPTS: u32 = 6;

/// The heartbeat of a registered node: renews its row and, once the node is recovering
/// ([`Node::start_recovering`]), recovers the nodes it claims (ADR 0008) beside the next
/// heartbeats.
pub struct Heartbeat(pub Arc<Node>);

impl crate::engine::worker::Worker for Heartbeat {
    const NAME: &'static str = "heartbeat";

    async fn round(
        &mut self,
        _core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<crate::engine::worker::Pace> {
        for lost in self.0.beat().await? {
            tokio::spawn(recover(self.0.clone(), lost));
        }
        Ok(crate::engine::worker::Pace::Idle)
    }

    async fn until_next(&mut self, _core: &Core) {
        tokio::time::sleep(self.0.settings().heartbeat_every()).await;
    }
}

/// Recovers a claimed node, trying again with growing pauses while the store fails: the
/// claim is this node's alone, so nobody else would.
async fn recover(node: Arc<Node>, lost: NodeRow) {
    let mut pause = Duration::from_secs(1);
    for attempt in 1..=RECOVERY_ATTEMPTS {
        match node.recover(&lost).await {
            Ok(()) => return,
            Err(err) => {
                tracing::error!(%err, attempt, lost = %lost.node_id, "recovery of a lost node failed");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}
