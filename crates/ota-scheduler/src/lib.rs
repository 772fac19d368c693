//! Background workers: the loops that make time pass for the engine. Each loop calls one
//! `ota_core` entry point per tick, logs failures and keeps going, and stops when the
//! shutdown token fires. The logic lives in the core; this crate only owns the loops.

use ota_core::Core;
use ota_core::engine::{dispatch::Dispatcher, timers};
use ota_core::nodes::Node;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the recovery of a lost node is tried before it is given up (logged).
const RECOVERY_ATTEMPTS: u32 = 6;
/// How often expired, never-used uploads are collected.
const UPLOAD_GC_EVERY: Duration = Duration::from_secs(60);

/// Starts every worker: ingest, dispatcher, timers, upload collection, and the listener
/// that keeps this node's caches in step with changes made on other nodes.
pub fn spawn_all(core: &Core, shutdown: &CancellationToken) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(ingest(core.clone(), shutdown.clone())),
        tokio::spawn(dispatcher(core.clone(), shutdown.clone())),
        tokio::spawn(timer(core.clone(), shutdown.clone())),
        tokio::spawn(upload_gc(core.clone(), shutdown.clone())),
        tokio::spawn(follow_changes(core.clone(), shutdown.clone())),
    ]
}

/// Starts the heartbeat of a registered node: it renews the node's row and, once the node
/// is recovering ([`Node::start_recovering`]), recovers lost nodes (ADR 0008) until
/// `shutdown`.
pub fn spawn_liveness(node: Arc<Node>, shutdown: &CancellationToken) -> JoinHandle<()> {
    tokio::spawn(liveness(node, shutdown.clone()))
}

/// Recovers a claimed node, trying again with growing pauses while the store fails: the
/// claim is this node's alone, so nobody else would.
async fn recover(node: Arc<Node>, lost: ota_store::NodeRow) {
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

async fn follow_changes(core: Core, shutdown: CancellationToken) {
    core.follow_changes(shutdown).await;
}

async fn liveness(node: Arc<Node>, shutdown: CancellationToken) {
    let every = node.settings().heartbeat_every();
    while !shutdown.is_cancelled() {
        match node.beat().await {
            Ok(lost) => {
                for lost in lost {
                    let node = node.clone();
                    tokio::spawn(recover(node, lost));
                }
            }
            Err(err) => tracing::error!(%err, "node heartbeat failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    tracing::info!("node heartbeat stopped");
}

async fn ingest(core: Core, shutdown: CancellationToken) {
    core.run_ingest(shutdown).await;
    tracing::info!("ingest worker stopped");
}

async fn dispatcher(core: Core, shutdown: CancellationToken) {
    let mut dispatcher = Dispatcher::default();
    let tick = core.config().tick;
    while !shutdown.is_cancelled() {
        match dispatcher.tick(&core).await {
            Ok(_) => {}
            Err(err) => tracing::error!(%err, "dispatch tick failed"),
        }
        metrics::counter!("ota_engine_ticks_total", "worker" => "dispatcher").increment(1);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = core.dispatcher_wait(tick) => {}
        }
    }
    tracing::info!("dispatcher stopped");
}

async fn timer(core: Core, shutdown: CancellationToken) {
    let tick = core.config().tick.max(Duration::from_millis(250));
    while !shutdown.is_cancelled() {
        if let Err(err) = timers::tick(&core).await {
            tracing::error!(%err, "timer tick failed");
        }
        metrics::counter!("ota_engine_ticks_total", "worker" => "timers").increment(1);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(tick) => {}
        }
    }
    tracing::info!("timer worker stopped");
}

async fn upload_gc(core: Core, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match core.collect_expired_uploads().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired uploads collected"),
            Err(err) => tracing::error!(%err, "upload collection failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(UPLOAD_GC_EVERY) => {}
        }
    }
}
