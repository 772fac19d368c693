//! Several nodes on one PostgreSQL are one platform: a signed request replayed to another
//! node is refused (native API and Aliyun RPC); nodes starting at the same moment agree on
//! the secrets they create; a change made through one node is used by the others at once.

use crate::balancer::{Balancer, two_nodes};
use crate::fixtures::{self, expect_push, fleet, job, online, package};
use crate::harness::{DEADLINE, KEY_ID, KEY_SECRET, Server};
use ota_api::aliyun::sign_v1::percent_encode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn unix_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_replayed_to_another_node_is_refused() {
    let Some((_lb, a, b)) = two_nodes(&[]).await else {
        return;
    };
    let http = reqwest::Client::new();

    // Native API: the same signed request, first to A, then to B.
    let headers = ota_api::sign::sign_headers(
        KEY_ID,
        KEY_SECRET,
        "GET",
        "/api/v1/products",
        Some(b""),
        unix_secs(),
        &fixtures::unique("replayed-nonce-"),
    );
    let send = |node: &Server| {
        let mut request = http.get(format!("http://{}/api/v1/products", node.http));
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    assert_eq!(send(&a).await.unwrap().status(), 200);
    let (status, body) = status_and_body(send(&b).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("SignatureNonceUsed")),
        "{body}"
    );

    // Aliyun RPC (signature v1): the same form, first to B, then to A.
    let form = aliyun_form(
        "ListOTAFirmware",
        &[("CurrentPage", "1"), ("PageSize", "10")],
    );
    let call = |node: &Server| {
        http.post(format!("http://{}/", node.http))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
    };
    let (status, body) = status_and_body(call(&b).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = status_and_body(call(&a).await.unwrap()).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed")),
        "{body}"
    );
}

/// A signed Aliyun RPC form (signature v1, as `aliyun-python-sdk-core` sends it).
fn aliyun_form(action: &str, params: &[(&str, &str)]) -> String {
    let mut all: std::collections::BTreeMap<String, String> = [
        ("Action", action),
        ("Version", "2018-01-20"),
        ("Format", "JSON"),
        ("AccessKeyId", KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ]
    .iter()
    .chain(params)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.insert("SignatureNonce".into(), fixtures::unique("rpc-nonce-"));
    all.insert(
        "Timestamp".into(),
        crate::delta_defaults::iso_utc(unix_secs()),
    );
    let signature = ota_api::aliyun::sign_v1::signature(KEY_SECRET, "POST", &all);
    all.insert("Signature".into(), signature);
    all.iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_at_once_agree_on_their_secrets() {
    let balancer = Balancer::start().await;
    let url = balancer.url();
    let Some((a, b)) = Server::start_postgres_pair(&[("OTA_PUBLIC_URL", &url)]).await else {
        return;
    };
    balancer.add(a.http);
    balancer.add(b.http);

    // Download URLs: signed by one node, honoured by the other.
    let fleet = fleet(&a, 1).await;
    let pkg = package(&a, &fleet.pk, "2.0.0", 4 * 1024).await;
    for (signer, server) in [(&a, &b), (&b, &a)] {
        let fw = signer
            .api
            .get(&format!("/firmwares/{}", pkg.id))
            .await
            .unwrap();
        let signed = fw["download_urls"][0].as_str().unwrap();
        assert!(signed.starts_with(&url), "{signed}");
        let direct = signed.replacen(&url, &format!("http://{}", server.http), 1);
        let response = reqwest::get(&direct).await.unwrap();
        assert_eq!(response.status(), 200, "{direct}");
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            pkg.bytes.as_slice()
        );
    }

    // Console sessions: both nodes sign someone in at the same moment (each creates the
    // session key on first use), and each node accepts the other's cookie.
    let (cookie_a, cookie_b) = tokio::join!(console_login(&a), console_login(&b));
    for (cookie, server) in [(&cookie_a, &b), (&cookie_b, &a)] {
        let response = no_redirects()
            .get(format!("http://{}/console", server.http))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "a session of one node on the other");
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in on the node's console; returns the session cookie (`name=value`).
async fn console_login(server: &Server) -> String {
    let response = no_redirects()
        .post(format!("http://{}/console/login", server.http))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "key_id={}&secret={}",
            percent_encode(KEY_ID),
            percent_encode(KEY_SECRET)
        ))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_redirection(), "{}", response.status());
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ota_console="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// The tag and package UDI a push or pull answer carries.
fn tag_and_udi(push: &ota_protocol::UpgradePush) -> (Option<String>, Option<String>) {
    let ext = push.data.ext_data.as_ref();
    (
        ext.and_then(|e| e.tags.get("stage").cloned()),
        ext.and_then(|e| e.package_udi.clone()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_on_one_node_is_used_by_the_others_next_push() {
    // Each node runs its own embedded broker: a device connected to B is pushed by B only.
    let Some((_lb, a, b)) = two_nodes(&[]).await else {
        return;
    };
    let fleet = fleet(&a, 1).await;
    let pkg = package(&a, &fleet.pk, "2.0.0", 4 * 1024).await;
    let dev = online(&b, &fleet.devices[0], "1.0.0").await;
    fixtures::wait_reported(&a, &fleet.pk, 1).await;
    let id = fixtures::id(
        &job(
            &a,
            &pkg,
            json!({"target_selection": "ALL", "tags": [{"key": "stage", "value": "one"}]}),
        )
        .await,
    );
    let push = expect_push(&dev).await;
    assert_eq!(tag_and_udi(&push), (Some("one".into()), None));
    // B answers a pull from what it cached: the batch and the package.
    let pulled = dev
        .request_firmware(None)
        .await
        .unwrap()
        .expect("a package");
    assert_eq!(tag_and_udi(&pulled), (Some("one".into()), None));

    // Through A: new tags for the batch, a UDI for the package.
    a.api
        .patch(
            &format!("/jobs/{id}"),
            &json!({"tags": [{"key": "stage", "value": "two"}]}),
        )
        .await
        .unwrap();
    a.api
        .patch(&format!("/firmwares/{}", pkg.id), &json!({"udi": "udi-2"}))
        .await
        .unwrap();

    // B's next answer carries both, without a restart (its cache entries live 60 s, longer
    // than this wait: only the change announcement can have evicted them).
    let wanted = (Some("two".to_owned()), Some("udi-2".to_owned()));
    let deadline = Instant::now() + DEADLINE;
    loop {
        let pulled = dev
            .request_firmware(None)
            .await
            .unwrap()
            .expect("a package");
        if tag_and_udi(&pulled) == wanted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B still answers {:?}",
            tag_and_udi(&pulled)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And so does the push B sends again when the device reconnects.
    dev.close().await;
    let dev = online(&b, &fleet.devices[0], "1.0.0").await;
    let push = expect_push(&dev).await;
    assert_eq!(tag_and_udi(&push), wanted);
}
