//! The platform behind an external broker (the test Mosquitto): devices connect to the
//! broker, the server joins it as a client with shared subscriptions, and the broker asks
//! the server over HTTP who may connect and which topics they may use (ADR 0005).

use crate::fixtures::{self, expect_no_push, expect_push, fleet, job, online, package};
use crate::harness::{DEADLINE, Server, broker_env, poll_value, test_broker};
use ota_api::aliyun::sign_v1::percent_encode;
use serde_json::{Value, json};

/// `broker_env()` plus `extra`, as `start_with_env` takes them.
fn settings(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = broker_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn as_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

async fn on_broker() -> Server {
    Server::start_with_env(&as_refs(&settings(&[]))).await
}

/// A raw MQTT client on the test broker, for messages no SDK would send.
async fn raw_client() -> rumqttc::AsyncClient {
    let broker = test_broker();
    let (host, port) = broker.rsplit_once(':').expect("HOST:PORT");
    let id = fixtures::unique(&format!("e2e-raw-{:x}-", rand::random::<u32>()));
    let opts = rumqttc::MqttOptions::new(id, host, port.parse().expect("port"));
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 16);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

#[tokio::test]
async fn devices_update_through_an_external_broker() {
    let server = on_broker().await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;
    let dev_a = online(&server, &fleet.devices[0], "1.0.0").await;
    let dev_b = online(&server, &fleet.devices[1], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    // A pull is answered through the broker too.
    assert_eq!(dev_a.request_firmware(None).await.unwrap(), None);

    // Garbage on a device's topics is ignored and harms nobody.
    let raw = raw_client().await;
    let (pk, a) = (&fleet.pk, fleet.name(0));
    for (topic, payload) in [
        (format!("/ota/device/progress/{pk}/{a}"), "not json"),
        (format!("/ota/device/inform/{pk}/{a}"), "{\"params\":7}"),
        (format!("/sys/{pk}/{a}/thing/file/download"), "{}"),
    ] {
        raw.publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }

    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    for (dev, name) in [(&dev_a, fleet.name(0)), (&dev_b, fleet.name(1))] {
        let push = expect_push(dev).await;
        assert_eq!(push.data.version, "2.0.0");
        dev.run_update(&push).await.expect("update");
        assert_eq!(
            *dev.handler().installed.lock().unwrap(),
            vec![pkg.bytes.clone()]
        );
        let t = server.wait_status(&id, name, "SUCCEEDED").await;
        assert_eq!(t["progress"], 100);
    }
    server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
}

#[tokio::test]
async fn mqtt_block_download_through_an_external_broker() {
    crate::delivery::mqtt_block_update(&on_broker().await).await;
}

#[tokio::test]
async fn the_broker_asks_who_may_connect_and_what_they_may_touch() {
    const SECRET: &str = "broker-hook-secret";
    let env = settings(&[("OTA_MQTT_HTTP_AUTH_SECRET", SECRET)]);
    let server = Server::start_with_env(&as_refs(&env)).await;
    let fleet = fleet(&server, 2).await;
    let creds = fixtures::config(&server, &fleet.devices[0]).credentials(1_700_000_000_000);
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.http);
    let ask = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(SECRET)
            .json(&body)
            .send()
    };
    let result = |r: reqwest::Response| async move {
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["result"].clone()
    };

    let auth = |password: &str, username: &str| json!({"clientid": creds.client_id, "username": username, "password": password});
    let right = auth(&creds.password, &creds.username);
    assert_eq!(
        result(ask("/mqtt/auth", right.clone()).await.unwrap()).await,
        "allow"
    );
    let wrong = auth(&"0".repeat(creds.password.len()), &creds.username);
    assert_eq!(
        result(ask("/mqtt/auth", wrong).await.unwrap()).await,
        "deny"
    );
    let other = format!("{}&{}", fleet.name(1), fleet.pk);
    let foreign = auth(&creds.password, &other);
    assert_eq!(
        result(ask("/mqtt/auth", foreign).await.unwrap()).await,
        "deny"
    );
    let unknown = auth(&creds.password, &format!("nobody&{}", fleet.pk));
    assert_eq!(
        result(ask("/mqtt/auth", unknown).await.unwrap()).await,
        "deny"
    );

    // As a form, the way many broker plugins send it.
    let form = format!(
        "clientid={}&username={}&password={}",
        percent_encode(&creds.client_id),
        percent_encode(&creds.username),
        percent_encode(&creds.password)
    );
    let r = http
        .post(format!("{base}/mqtt/auth"))
        .bearer_auth(SECRET)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(result(r).await, "allow");

    // Without the shared secret the hook answers nothing.
    let r = http
        .post(format!("{base}/mqtt/auth"))
        .json(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (pk, a, b) = (&fleet.pk, fleet.name(0), fleet.name(1));
    let acl = |topic: String, action: &str| {
        json!({"username": creds.username, "clientid": creds.client_id,
               "topic": topic, "action": action})
    };
    let cases = [
        (format!("/ota/device/progress/{pk}/{a}"), "publish", "allow"),
        (
            format!("/sys/{pk}/{a}/thing/file/download"),
            "publish",
            "allow",
        ),
        (
            format!("/ota/device/upgrade/{pk}/{a}"),
            "subscribe",
            "allow",
        ),
        (format!("/ota/device/progress/{pk}/{b}"), "publish", "deny"),
        (format!("/ota/device/upgrade/{pk}/{b}"), "subscribe", "deny"),
        ("/ota/device/upgrade/+/+".to_owned(), "subscribe", "deny"),
        ("#".to_owned(), "subscribe", "deny"),
    ];
    for (topic, action, expected) in cases {
        let got = result(ask("/mqtt/acl", acl(topic.clone(), action)).await.unwrap()).await;
        assert_eq!(got, expected, "{action} {topic}");
        // The numeric form rmqtt's rmqtt-auth-http (and EMQX 4) sends, as a form.
        let access = if action == "publish" { "2" } else { "1" };
        let form = format!(
            "access={access}&username={}&clientid={}&topic={}",
            percent_encode(&creds.username),
            percent_encode(&creds.client_id),
            percent_encode(&topic)
        );
        let r = http
            .post(format!("{base}/mqtt/acl"))
            .bearer_auth(SECRET)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(result(r).await, expected, "access={access} {topic}");
    }
}

#[tokio::test]
async fn two_nodes_share_the_device_topics() {
    // One public URL in front of both nodes, as several nodes require.
    let balancer = crate::balancer::Balancer::start().await;
    let env = settings(&[("OTA_PUBLIC_URL", &balancer.url())]);
    let Some(a) = Server::start_postgres_with_env(&as_refs(&env)).await else {
        return;
    };
    let b = a.sibling().await;
    balancer.add(a.http);
    balancer.add(b.http);
    let fleet = fleet(&a, 4).await;
    let pkg = package(&b, &fleet.pk, "2.0.0", 8 * 1024).await;
    let mut devices = Vec::new();
    for creds in &fleet.devices {
        let dev = online(&a, creds, "1.0.0").await;
        for _ in 0..3 {
            dev.report_version(None, "1.0.0").await.unwrap();
        }
        devices.push(dev);
    }
    // The counters count every device on the broker, other scenarios' too: this checks
    // that both nodes take a share, not the exact split.
    let informs = r#"ota_broker_messages_total{kind="inform"} "#;
    let (ok, last) = poll_value(
        || async { json!([a.counter(informs).await, b.counter(informs).await]) },
        |v| v[0].as_u64().unwrap() > 0 && v[1].as_u64().unwrap() > 0,
    )
    .await;
    assert!(ok, "informs handled per node: {last}");

    // Either node's dispatcher reaches every device through the broker.
    let id = fixtures::id(&job(&a, &pkg, json!({"target_selection": "ALL"})).await);
    let mut pushes = Vec::new();
    for (i, dev) in devices.iter().enumerate() {
        let push = tokio::time::timeout(DEADLINE, dev.next_push())
            .await
            .expect("push")
            .expect("device open");
        assert_eq!(push.data.version, "2.0.0");
        b.wait_status(&id, fleet.name(i), "NOTIFIED").await;
        pushes.push(push);
    }
    // Both dispatchers see every task, but a task is claimed by one: each device is pushed
    // once (a second push would be queued behind the first by now).
    for dev in &devices {
        expect_no_push(&a, dev).await;
    }
    // The updates' reports are shared out between the nodes, so one device's reports are
    // applied by both; a node that applied a report to a task another node had moved on
    // meanwhile saves nothing and applies it again, so every task ends SUCCEEDED.
    for (dev, push) in devices.iter().zip(&pushes) {
        dev.run_update(push).await.expect("update");
    }
    for i in 0..devices.len() {
        a.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
    drop(b);
}

/// A Mosquitto of this test's own on a free loopback port, so it can be stopped and started
/// again without disturbing the shared one; killed on drop.
struct PrivateBroker(tokio::process::Child);

impl PrivateBroker {
    /// Starts `mosquitto -p PORT` and waits until it accepts connections; `None` when no
    /// `mosquitto` binary is installed.
    async fn start(port: u16) -> Option<PrivateBroker> {
        let child = tokio::process::Command::new("mosquitto")
            .args(["-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mosquitto never listened"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Some(PrivateBroker(child))
    }

    async fn stop(mut self) {
        self.0.kill().await.expect("stop mosquitto");
    }
}

/// Until the device's pull is answered: both the device and the server are on the broker
/// and subscribed.
async fn until_pull_answered(dev: &fixtures::TestDevice) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while dev.request_firmware(None).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "pull never answered"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platform_carries_on_when_the_broker_restarts() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(broker) = PrivateBroker::start(port).await else {
        return;
    };
    let address = format!("127.0.0.1:{port}");
    let server =
        Server::start_with_env(&as_refs(&settings(&[("OTA_MQTT_BROKER", &address)]))).await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 8 * 1024).await;
    let dev = online(&server, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    until_pull_answered(&dev).await;

    // The broker goes away (sessions and subscriptions with it) and comes back.
    broker.stop().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let _broker = PrivateBroker::start(port).await.expect("mosquitto again");
    until_pull_answered(&dev).await;

    // The server reconnected and subscribed again: a batch reaches the device and its
    // reports come back.
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    let push = expect_push(&dev).await;
    dev.run_update(&push).await.expect("update");
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
}
