//! Node liveness (ADR 0008): a node that would put its own address in download URLs beside
//! other nodes is refused; a node stopping cleanly leaves the registry; a node killed
//! mid-rollout behind an external broker leaves no task behind, because a surviving node
//! pushes every told, unfinished task again: at once when the broker publishes the dead
//! node's last will, and again when its lease lapses and a survivor claims it.

use crate::balancer::{Balancer, two_nodes};
use crate::fixtures::{self, fleet, job, package};
use crate::harness::{Server, broker_env, count, poll_value};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_would_push_its_own_address_beside_others_is_refused() {
    let Some(mut a) = Server::start_postgres().await else {
        return;
    };
    let stderr = a.sibling_refused(&[]).await;
    for named in ["public_url", "OTA_PUBLIC_URL", "docs/scale-out.md"] {
        assert!(stderr.contains(named), "{named} not named: {stderr}");
    }
    // A node killed and started again at its own address is no neighbour of itself...
    a.restart().await;
    a.api
        .get("/products")
        .await
        .expect("the restarted node serves");
    // ...and a second node with one shared address starts (warning about A).
    let b = a
        .sibling_with(&[("OTA_PUBLIC_URL", "http://ota.example")])
        .await;
    b.api
        .get("/products")
        .await
        .expect("the second node serves");
    drop(b);
}

/// The node registry as an operator sees it (`GET /api/v1/nodes`).
async fn registry(server: &Server) -> Vec<serde_json::Value> {
    let nodes = server.api.get("/nodes").await.expect("list nodes");
    nodes["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopping_cleanly_leaves_the_registry() {
    let Some((_lb, a, mut b)) = two_nodes(&[]).await else {
        return;
    };
    assert_eq!(registry(&a).await.len(), 2);
    b.stop().await;
    let nodes = registry(&a).await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(
        nodes[0]["lost_at"].is_null() && nodes[0]["public_url_explicit"] == true,
        "{nodes:?}"
    );
}

/// The lease the node-loss scenarios run with (seconds).
pub const TEST_LEASE_SECS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_rollout_leaves_no_task_behind() {
    let mut env = broker_env();
    env.push(("OTA_NODE_LEASE_SECS".into(), TEST_LEASE_SECS.to_string()));
    let Some((lb, a, b)) = two_nodes(&env).await else {
        return;
    };
    lose_a_node_mid_rollout(&lb, &a, b, &[a.mqtt], "Mosquitto").await;
}

/// A node's last will: with a lease far longer than the test, B's death is heard from the
/// broker at once and A pushes every told task again without waiting for the lease, which
/// is the only other way back for the reports B took with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_recovered_by_its_will_long_before_its_lease() {
    let mut env = broker_env();
    env.push(("OTA_NODE_LEASE_SECS".into(), "600".into()));
    let Some((lb, a, b)) = two_nodes(&env).await else {
        return;
    };
    let loss = kill_a_node_mid_rollout(&lb, &a, b, &[a.mqtt], "Mosquitto").await;
    let nodes = registry(&a).await;
    assert!(
        nodes.iter().all(|n| n["lost_at"].is_null()),
        "B declared lost by its lease, not recovered by its will: {nodes:?}"
    );
    assert_eq!(a.counter("ota_broker_peers_lost_total ").await, 1);
    if loss.unfinished_at_kill > 0 {
        assert!(a.counter("ota_node_recovery_pushes_total ").await > 0);
    }
    loss.finish(&a).await;
}

/// Kills B mid-rollout ([`kill_a_node_mid_rollout`]); then exactly one node (A) must have
/// claimed and recovered B by its lease.
pub async fn lose_a_node_mid_rollout(
    lb: &Balancer,
    a: &Server,
    b: Server,
    device_brokers: &[std::net::SocketAddr],
    broker: &str,
) {
    let loss = kill_a_node_mid_rollout(lb, a, b, device_brokers, broker).await;
    // Exactly one node (A, the only one left) declared B lost (within a lease or so of the
    // kill, which may come after the last task finished) and pushed again.
    let lost_count = |nodes: &Value| {
        nodes["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|n| !n["lost_at"].is_null())
            .count()
    };
    let (declared, listed) = poll_value(
        || async { a.api.get("/nodes").await.expect("list nodes") },
        |nodes| lost_count(nodes) >= 1,
    )
    .await;
    assert!(declared, "B never declared lost: {listed}");
    let nodes = registry(a).await;
    let lost: Vec<_> = nodes.iter().filter(|n| !n["lost_at"].is_null()).collect();
    assert_eq!(lost.len(), 1, "{nodes:?}");
    let a_id = nodes
        .iter()
        .find(|n| n["lost_at"].is_null())
        .map(|n| n["node_id"].clone());
    assert_eq!(Some(lost[0]["recovered_by"].clone()), a_id, "{nodes:?}");
    assert_eq!(a.counter("ota_nodes_lost_total ").await, 1);
    if loss.unfinished_at_kill > 0 {
        assert!(a.counter("ota_node_recovery_pushes_total ").await > 0);
    }
    loss.finish(a).await;
}

/// A rollout that lost a node, every task SUCCEEDED.
pub struct Loss {
    job: String,
    /// Tasks not yet SUCCEEDED when B was killed.
    unfinished_at_kill: i64,
    sim: tokio::task::JoinHandle<()>,
}

impl Loss {
    /// Waits for the batch to complete and stops the devices.
    async fn finish(self, a: &Server) {
        a.wait_job(&self.job, "COMPLETED", |j| j["status"] == "COMPLETED")
            .await;
        self.sim.abort();
    }
}

/// Rolls a package out to 300 simulated devices (`E2E_NODE_LOSS_DEVICES` to change), spread
/// over `device_brokers`; once a fifth have updated, B leaves the balancer, freezes (so
/// reports the broker hands it are certainly in flight) and is killed -9, never to return.
/// Every task must still end SUCCEEDED.
async fn kill_a_node_mid_rollout(
    lb: &Balancer,
    a: &Server,
    mut b: Server,
    device_brokers: &[std::net::SocketAddr],
    broker: &str,
) -> Loss {
    let devices: usize = std::env::var("E2E_NODE_LOSS_DEVICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    // About six seconds of rollout, within the API's 10-10,000 a minute.
    let rate = (devices * 10).clamp(3_000, 10_000);
    let fleet = fleet(a, devices).await;
    let pkg = package(a, &fleet.pk, "2.0.0", 16 * 1024).await;
    let mut sim =
        ota_device_sdk::sim::SimConfig::new(fleet.devices.clone(), device_brokers.to_vec());
    sim.connect_concurrency = 32;
    // Devices stay connected after updating, as idle devices do, and answer a push of the
    // version they run by reporting it.
    sim.stop_after_update = false;
    sim.duration = Some(Duration::from_secs(120));
    let stats = std::sync::Arc::new(ota_device_sdk::sim::SimStats::default());
    let sim = tokio::spawn(async move {
        let _ = ota_device_sdk::sim::run(sim, stats).await;
    });
    fixtures::wait_reported(a, &fleet.pk, devices as i64).await;

    let id = fixtures::id(
        &job(
            a,
            &pkg,
            json!({"target_selection": "ALL", "maximum_per_minute": rate}),
        )
        .await,
    );
    a.wait_job(&id, "a fifth updated", |j| {
        count(j, "SUCCEEDED") >= (devices / 5) as i64
    })
    .await;
    // B leaves the balancer (its downloads end), then stops dead: the reports the broker
    // hands it meanwhile are acknowledged by nobody's ingest, and lost with it.
    lb.remove(b.http);
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal(b.pid(), "-STOP");
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.kill().await;
    let killed = Instant::now();
    let unfinished_at_kill = devices as i64 - count(&a.job(&id).await, "SUCCEEDED");

    let (ok, last) = poll_value(|| a.job(&id), |j| count(j, "SUCCEEDED") == devices as i64).await;
    assert!(ok, "{broker}: tasks left behind: {:#}", last["counts"]);
    eprintln!(
        "node loss behind {broker}: all {devices} tasks SUCCEEDED {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    Loss {
        job: id,
        unfinished_at_kill,
        sim,
    }
}

fn signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}
