//! The platform behind `rmqttd`, a broker that really asks the nodes who may connect and what
//! they may touch (its `rmqtt-auth-http` plugin calling `/mqtt/auth` and `/mqtt/acl`, with
//! every other request denied): a wrong secret is refused at CONNECT, a device subscribing to
//! `#` or to another device's topics receives nothing, an update goes through, and a node
//! killed mid-rollout leaves no task behind, behind one broker or a cluster of two
//! (`rmqtt-cluster-raft`).
//!
//! `rmqttd` comes from crates.io (`cargo install rmqttd --version 0.24.0 --locked`; `.ci/run`
//! installs it). Without it on the PATH or in `~/.cargo/bin` these scenarios say so in one
//! line and pass without running.

use crate::balancer::Balancer;
use crate::fixtures::{self, expect_push, fleet, job, online, package};
use crate::harness::{DEADLINE, Server, free_addr};
use crate::rmqtt_broker::{Cluster, HOOK_SECRET, Rmqtt, rmqttd};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
const NODE_USER: &str = "ota-node";
const NODE_PASSWORD: &str = "ota-node-password";

/// The settings that put a node behind `broker` with its own account and the hook secret.
fn behind(broker: &Rmqtt, public_url: &str, lease_secs: Option<u64>) -> Vec<(String, String)> {
    let mut env = vec![
        ("OTA_MQTT_BROKER".to_owned(), broker.addr.to_string()),
        (
            "OTA_MQTT_SHARE_GROUP".to_owned(),
            format!("e2e{:016x}", rand::random::<u64>()),
        ),
        ("OTA_MQTT_BROKER_USERNAME".to_owned(), NODE_USER.to_owned()),
        (
            "OTA_MQTT_BROKER_PASSWORD".to_owned(),
            NODE_PASSWORD.to_owned(),
        ),
        (
            "OTA_MQTT_HTTP_AUTH_SECRET".to_owned(),
            HOOK_SECRET.to_owned(),
        ),
        ("OTA_PUBLIC_URL".to_owned(), public_url.to_owned()),
    ];
    if let Some(secs) = lease_secs {
        env.push(("OTA_NODE_LEASE_SECS".to_owned(), secs.to_string()));
    }
    env
}

fn refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// Until the node's broker client is in: a pull is answered through the broker.
async fn until_answered(dev: &fixtures::TestDevice) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while dev.request_firmware(None).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no node answers through rmqttd"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A raw MQTT client with a device's own credentials, and what the broker sends it.
async fn raw_device(
    broker: SocketAddr,
    creds: &ota_protocol::MqttCredentials,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<rumqttc::Packet>,
) {
    let mut opts = rumqttc::MqttOptions::new(
        creds.client_id.clone(),
        broker.ip().to_string(),
        broker.port(),
    );
    opts.set_credentials(creds.username.clone(), creds.password.clone());
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(event) = eventloop.poll().await {
            if let rumqttc::Event::Incoming(packet) = event
                && tx.send(packet).is_err()
            {
                return;
            }
        }
    });
    (client, rx)
}

/// The next SUBACK, within the deadline.
async fn suback(
    packets: &mut tokio::sync::mpsc::UnboundedReceiver<rumqttc::Packet>,
) -> rumqttc::SubAck {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match packets.recv().await.expect("connection open") {
                rumqttc::Packet::SubAck(ack) => return ack,
                _ => continue,
            }
        }
    })
    .await
    .expect("a SUBACK")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_are_admitted_confined_and_updated_by_rmqtt_asking_the_node() {
    let Some(binary) = rmqttd() else {
        eprintln!(
            "skipped: rmqttd is not installed (cargo install rmqttd --version 0.24.0 --locked)"
        );
        return;
    };
    let node_http = free_addr();
    let broker = Rmqtt::start(&binary, &format!("http://{node_http}")).await;
    let env = behind(&broker, &format!("http://{node_http}"), None);
    let Some(server) = Server::start_postgres_at(node_http, &refs(&env)).await else {
        return;
    };
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;

    // A wrong secret is refused at CONNECT.
    let refused = fixtures::connect_refused(&server, &fleet.devices[0]).await;
    assert!(!refused.is_empty());

    let (a, b) = (fleet.name(0), fleet.name(1));
    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    until_answered(&dev_b).await;

    // Device A, correctly signed in, tries to read everything and B's pushes.
    let creds_a = fixtures::config(&server, &fleet.devices[0]).credentials(1_700_000_000_000);
    let (spy, mut packets) = raw_device(broker.addr, &creds_a).await;
    let pk = &fleet.pk;
    for filter in ["#".to_owned(), format!("/ota/device/upgrade/{pk}/{b}")] {
        spy.subscribe(&filter, rumqttc::QoS::AtLeastOnce)
            .await
            .unwrap();
        let ack = suback(&mut packets).await;
        assert_eq!(
            ack.return_codes,
            vec![rumqttc::SubscribeReasonCode::Failure],
            "{filter}"
        );
    }
    // Its own topic it may have.
    spy.subscribe(
        format!("/ota/device/upgrade/{pk}/{a}"),
        rumqttc::QoS::AtLeastOnce,
    )
    .await
    .unwrap();
    assert!(matches!(
        suback(&mut packets).await.return_codes[..],
        [rumqttc::SubscribeReasonCode::Success(_)]
    ));

    // B is pushed and updates through rmqttd; A's client saw none of B's traffic.
    let id = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "SPECIFIC", "device_names": [b]}),
        )
        .await,
    );
    let push = expect_push(&dev_b).await;
    dev_b
        .run_update(&push)
        .await
        .expect("update through rmqttd");
    server.wait_status(&id, b, "SUCCEEDED").await;
    while let Ok(packet) = packets.try_recv() {
        assert!(
            !matches!(packet, rumqttc::Packet::Publish(_)),
            "device {a} received {packet:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_behind_rmqtt_leaves_no_task_behind() {
    let Some(binary) = rmqttd() else {
        eprintln!(
            "skipped: rmqttd is not installed (cargo install rmqttd --version 0.24.0 --locked)"
        );
        return;
    };
    // One balancer is the public URL and the address of the broker's hooks, so both survive
    // the loss of a node.
    let lb = Balancer::start().await;
    let a_http = free_addr();
    lb.add(a_http);
    let broker = Rmqtt::start(&binary, &lb.url()).await;
    let env = behind(&broker, &lb.url(), Some(crate::nodes::TEST_LEASE_SECS));
    let Some(a) = Server::start_postgres_at(a_http, &refs(&env)).await else {
        return;
    };
    let b = a.sibling().await;
    lb.add(b.http);
    crate::nodes::lose_a_node_mid_rollout(&lb, &a, b, &[broker.addr], "rmqttd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_behind_a_clustered_rmqtt_leaves_no_task_behind() {
    let Some(binary) = rmqttd() else {
        eprintln!(
            "skipped: rmqttd is not installed (cargo install rmqttd --version 0.24.0 --locked)"
        );
        return;
    };
    // Two brokers in one Raft cluster (rmqtt-cluster-raft): A on the first, B on the second,
    // the devices spread over both, the shared subscription spanning the cluster.
    let lb = Balancer::start().await;
    let a_http = free_addr();
    lb.add(a_http);
    let cluster = Cluster::of(2);
    let first = Rmqtt::start_member(&binary, &lb.url(), Some((&cluster, 1))).await;
    let second = Rmqtt::start_member(&binary, &lb.url(), Some((&cluster, 2))).await;
    let env = behind(&first, &lb.url(), Some(crate::nodes::TEST_LEASE_SECS));
    let Some(a) = Server::start_postgres_at(a_http, &refs(&env)).await else {
        return;
    };
    let b = a
        .sibling_with(&[("OTA_MQTT_BROKER", &second.addr.to_string())])
        .await;
    lb.add(b.http);
    crate::nodes::lose_a_node_mid_rollout(
        &lb,
        &a,
        b,
        &[first.addr, second.addr],
        "a cluster of two rmqttd",
    )
    .await;
}
