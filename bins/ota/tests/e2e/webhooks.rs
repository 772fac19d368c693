//! Signed webhooks against a real HTTP receiver: a small rollout is told to an endpoint
//! (batch created, started, completed and every task's status changes), signed, in batch
//! order; an endpoint that fails three times still gets every event once it recovers, the
//! server's clock skipping the retry pauses.

use crate::cli::ota;
use crate::fixtures::{self, fleet, job, package, simulate};
use crate::harness::Server;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use ota_device_sdk::sim::Behaviour;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "a-secret-of-some-length";

/// One request the receiver answered with 2xx.
#[derive(Debug, Clone)]
struct Received {
    /// The outbox sequence, from `X-Ota-Delivery` (`<webhook>-<seq>`).
    seq: i64,
    event: Value,
}

#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    /// Requests still to fail with 503.
    failing: Mutex<u32>,
    failed: Mutex<u32>,
    bad_signatures: Mutex<Vec<String>>,
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    if header("x-ota-signature") != expected {
        r.bad_signatures
            .lock()
            .unwrap()
            .push(header("x-ota-signature"));
        return StatusCode::UNAUTHORIZED;
    }
    {
        let mut failing = r.failing.lock().unwrap();
        if *failing > 0 {
            *failing -= 1;
            *r.failed.lock().unwrap() += 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let event: Value = serde_json::from_slice(&body).expect("a JSON envelope");
    assert_eq!(header("x-ota-event"), event["type"], "{event}");
    let seq = header("x-ota-delivery")
        .rsplit('-')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("X-Ota-Delivery ends with the sequence");
    r.received.lock().unwrap().push(Received { seq, event });
    StatusCode::NO_CONTENT
}

/// A receiver on 127.0.0.1 that fails its first `failing` requests; returns its URL.
async fn receiver(failing: u32) -> (Arc<Receiver>, String) {
    let state = Arc::new(Receiver {
        failing: Mutex::new(failing),
        ..Receiver::default()
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, url)
}

impl Receiver {
    fn events(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (without moving the clock) until `done` holds for what was received.
    async fn wait(&self, what: &str, done: impl Fn(&[Received]) -> bool) {
        let end = tokio::time::Instant::now() + Duration::from_secs(30);
        while !done(&self.events()) {
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}; got {:#?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn types(events: &[Received], job_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.event["data"]["job_id"] == job_id)
        .map(|e| e.event["type"].as_str().unwrap().to_owned())
        .collect()
}

fn has(events: &[Received], t: &str) -> bool {
    events.iter().any(|e| e.event["type"] == t)
}

/// The first reception of each event of the batch, in outbox order (retries may repeat).
fn assert_in_batch_order(events: &[Received], job_id: &str) {
    let mut seen = std::collections::HashSet::new();
    let firsts: Vec<i64> = events
        .iter()
        .filter(|e| e.event["data"]["job_id"] == job_id)
        .filter(|e| seen.insert(e.event["id"].as_str().unwrap().to_owned()))
        .map(|e| e.seq)
        .collect();
    assert!(
        firsts.windows(2).all(|w| w[0] < w[1]),
        "events of batch {job_id} out of order: {firsts:?}"
    );
}

async fn register(server: &Server, url: &str) -> String {
    let hook = server
        .api
        .post(
            "/webhooks",
            &json!({"url": url, "secret": SECRET, "events": ["*"], "description": "e2e"}),
        )
        .await
        .unwrap();
    assert!(
        hook.get("secret").is_none(),
        "the secret is write-only: {hook}"
    );
    assert_eq!(hook["events"], json!(["*"]));
    hook["webhook_id"].as_str().unwrap().to_owned()
}

/// Rolls 2.0.0 out to `n` simulated devices; returns the batch id once it completed.
async fn rollout(server: &Server, n: usize) -> String {
    let fleet = fleet(server, n).await;
    let pkg = package(server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let (_, sim) = simulate(server, fleet.devices.clone(), Behaviour::Succeed);
    fixtures::wait_reported(server, &fleet.pk, n as i64).await;
    let created = job(server, &pkg, json!({"target_selection": "ALL"})).await;
    let id = fixtures::id(&created);
    server
        .wait_job(&id, "COMPLETED", |j| j["status"] == "COMPLETED")
        .await;
    sim.abort();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_is_told_to_a_signed_endpoint_in_batch_order() {
    let server = Server::start().await;
    let (receiver, url) = receiver(0).await;

    // Validation errors name the field and the rule.
    for (body, field) in [
        (json!({"url": "ftp://x/", "secret": SECRET}), "url"),
        (json!({"url": url, "secret": "short"}), "secret"),
        (
            json!({"url": url, "secret": SECRET, "events": ["batch.exploded"]}),
            "events",
        ),
    ] {
        let err = server.api.post("/webhooks", &body).await.unwrap_err();
        let (status, answer) = fixtures::failure(&err);
        assert_eq!(status, 400, "{answer}");
        assert!(answer.to_string().contains(field), "{answer}");
    }
    let hook = register(&server, &url).await;

    let n = 3;
    let job_id = rollout(&server, n).await;
    receiver
        .wait("batch.completed", |e| has(e, "batch.completed"))
        .await;
    let events = receiver.events();
    assert!(receiver.bad_signatures.lock().unwrap().is_empty());
    let got = types(&events, &job_id);
    assert_eq!(
        got.first().map(String::as_str),
        Some("batch.created"),
        "{got:?}"
    );
    assert_eq!(
        got.get(1).map(String::as_str),
        Some("batch.started"),
        "{got:?}"
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("batch.completed"),
        "{got:?}"
    );
    let succeeded: Vec<&Value> = events
        .iter()
        .map(|e| &e.event)
        .filter(|e| e["type"] == "task.status_changed" && e["data"]["status"] == "SUCCEEDED")
        .collect();
    assert_eq!(succeeded.len(), n, "{got:?}");
    for e in &succeeded {
        assert_eq!(e["data"]["job_id"], job_id.as_str());
        assert!(e["data"]["device_name"].is_string(), "{e}");
        assert!(e["time"].as_str().unwrap().ends_with('Z'), "{e}");
        assert!(e["id"].is_string(), "{e}");
    }
    assert_in_batch_order(&events, &job_id);

    // The delivery log shows each as delivered at the first attempt, newest first.
    let log = server
        .api
        .get(&format!("/webhooks/{hook}/deliveries?page_size=500"))
        .await
        .unwrap();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), events.len(), "{log}");
    assert!(
        items
            .iter()
            .all(|d| d["status"] == "DELIVERED" && d["attempts"] == 1 && d["last_status"] == 204),
        "{log}"
    );
    assert_eq!(items[0]["event_type"], "batch.completed", "{log}");

    // A test event reaches this endpoint.
    let test = server
        .api
        .post(&format!("/webhooks/{hook}/test"), &json!({}))
        .await
        .unwrap();
    receiver
        .wait("webhook.test", |e| has(e, "webhook.test"))
        .await;
    let got = receiver.events();
    let last = &got.last().unwrap().event;
    assert_eq!(last["id"], test["event_id"], "{last}");

    // The CLI: list, deliveries, test, disable, delete; errors name the field.
    let cli = |args: &[&str]| {
        let (ok, out, err) = ota(&server, args);
        assert!(ok, "ota {args:?}: {err}");
        serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let list = cli(&["webhook", "list"]);
    assert_eq!(list["items"][0]["webhook_id"], hook.as_str(), "{list}");
    assert!(list["items"][0].get("secret").is_none(), "{list}");
    let log = cli(&["webhook", "deliveries", &hook, "--limit", "2"]);
    assert_eq!(log["items"].as_array().unwrap().len(), 2, "{log}");
    assert_eq!(log["items"][0]["event_type"], "webhook.test", "{log}");
    let test = cli(&["webhook", "test", &hook]);
    receiver
        .wait("the CLI's test event", |e| {
            e.iter().any(|r| r.event["id"] == test["event_id"])
        })
        .await;
    let (ok, _, err) = ota(
        &server,
        &[
            "webhook",
            "create",
            "https://x.example",
            "--secret",
            SECRET,
            "--events",
            "batch.nope",
        ],
    );
    assert!(!ok && err.contains("events"), "{err}");
    let created = cli(&[
        "webhook",
        "create",
        &url,
        "--secret",
        SECRET,
        "--events",
        "batch.created,batch.completed",
    ]);
    assert_eq!(
        created["events"],
        json!(["batch.created", "batch.completed"]),
        "{created}"
    );
    let off = cli(&["webhook", "disable", &hook]);
    assert_eq!(off["enabled"], false);
    cli(&["webhook", "delete", &hook]);
    cli(&["webhook", "delete", created["webhook_id"].as_str().unwrap()]);
    let list = server.api.get("/webhooks").await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_three_times_gets_every_event_in_order_once_it_recovers() {
    failing_endpoint_recovers(Server::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_endpoint_failing_three_times_gets_every_event_in_order() {
    let Some(server) = Server::start_postgres().await else {
        return;
    };
    failing_endpoint_recovers(server).await;
}

async fn failing_endpoint_recovers(server: Server) {
    let (receiver, url) = receiver(3).await;
    let hook = register(&server, &url).await;
    let job_id = rollout(&server, 2).await;

    // The first attempt failed and holds the batch's later events back; each clock step
    // passes the longest pause the next retry can have (10 s, 20 s, 40 s, jittered).
    let mut steps = 0;
    while !has(&receiver.events(), "batch.completed") {
        steps += 1;
        assert!(steps <= 20, "never recovered: {:#?}", receiver.events());
        server.advance_clock(60_000).await;
        let end = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < end && !has(&receiver.events(), "batch.completed") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(*receiver.failed.lock().unwrap(), 3);
    let events = receiver.events();
    assert_in_batch_order(&events, &job_id);

    // None lost: every event of the outbox for this endpoint arrived, and is DELIVERED.
    let log = server
        .api
        .get(&format!("/webhooks/{hook}/deliveries?page_size=500"))
        .await
        .unwrap();
    let items = log["items"].as_array().unwrap();
    assert!(items.len() >= 2 + 2 * 2, "{log}");
    let received: std::collections::HashSet<&str> = events
        .iter()
        .map(|e| e.event["id"].as_str().unwrap())
        .collect();
    for d in items {
        assert_eq!(d["status"], "DELIVERED", "{log}");
        assert!(received.contains(d["event_id"].as_str().unwrap()), "{d}");
    }
    let created = items
        .iter()
        .find(|d| d["event_type"] == "batch.created")
        .unwrap();
    assert_eq!(
        created["attempts"], 4,
        "three failures, then delivered: {created}"
    );
    let got = types(&events, &job_id);
    assert_eq!(
        got.first().map(String::as_str),
        Some("batch.created"),
        "{got:?}"
    );
    assert_eq!(
        got.last().map(String::as_str),
        Some("batch.completed"),
        "{got:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_batch_tells_each_task_then_the_batch() {
    let server = Server::start().await;
    let (receiver, url) = receiver(0).await;
    register(&server, &url).await;
    let fleet = fleet(&server, 3).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 4 * 1024).await;
    let slow = Behaviour::Slow {
        extra: Duration::from_secs(120),
    };
    let (_, sim) = simulate(&server, fleet.devices.clone(), slow);
    fixtures::wait_reported(&server, &fleet.pk, 3).await;
    let created = job(&server, &pkg, json!({"target_selection": "ALL"})).await;
    let id = fixtures::id(&created);
    server
        .api
        .post(&format!("/jobs/{id}/cancel"), &json!({"all": true}))
        .await
        .unwrap();
    receiver
        .wait("batch.cancelled", |e| has(e, "batch.cancelled"))
        .await;
    sim.abort();
    let events = receiver.events();
    let cancelled: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| {
            e.event["type"] == "task.status_changed" && e.event["data"]["status"] == "CANCELED"
        })
        .map(|e| e.event["data"]["device_name"].as_str().unwrap())
        .collect();
    assert_eq!(cancelled.len(), 3, "{events:#?}");
    let got = types(&events, &id);
    assert_eq!(
        got.last().map(String::as_str),
        Some("batch.cancelled"),
        "{got:?}"
    );
    assert_in_batch_order(&events, &id);
}

/// The console's webhook pages: add an endpoint, send it a test event, read its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_adds_an_endpoint_tests_it_and_shows_its_log() {
    use crate::harness::{KEY_ID, KEY_SECRET};
    let server = Server::start().await;
    let (receiver, url) = receiver(0).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{}/console", server.http);
    let form = |pairs: &[(&str, &str)]| serde_urlencoded::to_string(pairs).unwrap();
    let login = http
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("key_id", KEY_ID), ("secret", KEY_SECRET)]))
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ota_console="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let get = |path: String| {
        let request = http.get(format!("{base}{path}")).header("cookie", &cookie);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let page = get("/webhooks".into()).await;
    let csrf = page
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a CSRF token")
        .to_owned();
    let post = |path: String, body: String| {
        http.post(format!("{base}{path}"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    // A refused form names the field.
    let refused = post(
        "/webhooks".into(),
        form(&[("_csrf", &csrf), ("url", "ftp://x"), ("secret", SECRET)]),
    )
    .await
    .unwrap();
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("must start with http://")
    );
    let added = post(
        "/webhooks".into(),
        form(&[
            ("_csrf", &csrf),
            ("url", &url),
            ("secret", SECRET),
            ("events", "*"),
        ]),
    )
    .await
    .unwrap();
    assert!(added.status().is_redirection(), "{}", added.status());
    let hook = server.api.get("/webhooks").await.unwrap()["items"][0]["webhook_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tested = post(format!("/webhooks/{hook}/test"), form(&[("_csrf", &csrf)]))
        .await
        .unwrap();
    assert!(tested.status().is_redirection(), "{}", tested.status());
    receiver
        .wait("webhook.test", |e| has(e, "webhook.test"))
        .await;
    let detail = get(format!("/webhooks/{hook}")).await;
    assert!(detail.contains("webhook.test"), "{detail}");
    assert!(detail.contains("Send test event"), "{detail}");
    assert!(!detail.contains(SECRET), "the secret is never shown");
    let list = get("/webhooks".into()).await;
    assert!(list.contains(&url), "{list}");
}
