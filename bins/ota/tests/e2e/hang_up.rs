//! A client that hangs up (an SDK's read timeout, a closed browser tab) does not stop a
//! command halfway: the command completes as if the client had waited, and only the answer
//! is lost. Each command is caught mid-way for sure: the store is locked while it runs, so
//! it is waiting on the store when its client hangs up.

use crate::fixtures::{self, lock_store, package, unlock_store};
use crate::harness::{DEADLINE, Server, count};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Duration;

/// Devices in the batch that is created and cancelled by a client that hangs up: enough
/// that both commands take many statements.
const DEVICES: i64 = 20_000;
/// How long the impatient client waits for an answer.
const PATIENCE: Duration = Duration::from_millis(20);

/// Runs `call` with a client that hangs up after [`PATIENCE`] while the store is locked,
/// then unlocks it.
async fn hang_up<F, Fut>(server: &Server, call: F)
where
    F: FnOnce(ota::client::ApiClient) -> Fut,
    Fut: Future<Output = anyhow::Result<Value>>,
{
    let impatient = server.api.clone().with_timeout(PATIENCE);
    let lock = lock_store(server).await;
    let answer = call(impatient).await;
    unlock_store(lock).await;
    let timed_out = answer.as_ref().err().is_some_and(|e| {
        e.downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_timeout)
    });
    assert!(timed_out, "the call did not hang up: {answer:?}");
}

/// Polls `read` until `done` holds, within [`DEADLINE`].
async fn eventually<Fut>(what: &str, read: impl Fn() -> Fut, done: impl Fn(&Value) -> bool) -> Value
where
    Fut: Future<Output = Value>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not done; last {value}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_complete_when_their_client_hangs_up() {
    let server = Server::start().await;
    let api = &server.api;
    let product = api
        .post("/products", &json!({"name": fixtures::unique("HangUp")}))
        .await
        .unwrap();
    let pk = product["product_key"].as_str().unwrap().to_owned();
    let devices_path = format!("/products/{pk}/devices");

    // Registering devices in bulk (the most one call takes), then as many again.
    hang_up(&server, |c| {
        let path = devices_path.clone();
        async move { c.post(&path, &json!({"count": DEVICES / 2})).await }
    })
    .await;
    eventually(
        "device registration",
        || async {
            api.get(&format!("{devices_path}?page_size=1"))
                .await
                .unwrap()
        },
        |page| page["total"] == DEVICES / 2,
    )
    .await;
    api.post(&devices_path, &json!({"count": DEVICES / 2}))
        .await
        .unwrap();

    // Creating a package.
    let upload = api
        .upload_bytes("hang-up.bin", fixtures::payload(64 * 1024, 3))
        .await
        .unwrap();
    let name = fixtures::unique("hang-up-fw");
    let body = json!({"product_key": pk, "name": name, "dest_version": "2.0.0",
                      "url": upload["url"], "need_to_verify": false});
    hang_up(
        &server,
        |c| async move { c.post("/firmwares", &body).await },
    )
    .await;
    let firmwares = eventually(
        "package creation",
        || async { api.get("/firmwares").await.unwrap() },
        |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|f| f["name"] == name.as_str()))
        },
    )
    .await;
    let firmware_id = firmwares["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name.as_str())
        .unwrap()["firmware_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A batch over every device, created and then cancelled by clients that hang up.
    let jobs_path = format!("/firmwares/{firmware_id}/jobs");
    hang_up(&server, |c| {
        let path = jobs_path.clone();
        async move { c.post(&path, &json!({"target_selection": "ALL"})).await }
    })
    .await;
    let jobs = eventually(
        "batch creation",
        || async { api.get(&jobs_path).await.unwrap() },
        |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        },
    )
    .await;
    let job_id = jobs["items"][0]["job_id"].as_str().unwrap().to_owned();
    server
        .wait_job(&job_id, "every task created", |j| {
            j["counts"]["total"] == DEVICES
        })
        .await;

    hang_up(&server, |c| {
        let path = format!("/jobs/{job_id}/cancel");
        async move { c.post(&path, &json!({"all": true})).await }
    })
    .await;
    server
        .wait_job(&job_id, "every task and the batch cancelled", |j| {
            count(j, "CANCELED") == DEVICES && j["status"] == "CANCELED"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delta_request_completes_when_its_client_hangs_up() {
    let server = Server::start().await;
    let fleet = fixtures::fleet(&server, 1).await;
    package(&server, &fleet.pk, "1.0.0", 64 * 1024).await;
    let newer = package(&server, &fleet.pk, "2.0.0", 64 * 1024).await;
    let path = format!("/firmwares/{}/deltas", newer.id);
    hang_up(&server, |c| {
        let path = path.clone();
        async move { c.post(&path, &json!({"src_versions": ["1.0.0"]})).await }
    })
    .await;
    eventually(
        "delta request",
        || async { server.api.get(&path).await.unwrap() },
        |page| {
            page["items"]
                .as_array()
                .is_some_and(|items| items.len() == 1)
        },
    )
    .await;
}
