//! Teams (issue "Teams"): users with their own access keys and tokens, RAM policies checked
//! on the native API, and the audit log of every denied and every mutating call. The
//! official-SDK side of the same rules is in `e2e/aliyun/test_teams.py`, the console's in
//! `tests/console/teams.rs`.

use crate::fixtures::{failure, fleet, package};
use crate::harness::{KEY_ID, Server};
use ota::client::ApiClient;
use serde_json::{Value, json};

/// Makes a user with `policies` attached and an access key; returns a client signing
/// with it and the key id.
async fn user_with_key(server: &Server, name: &str, policies: &[&str]) -> (ApiClient, String) {
    server
        .api
        .post("/users", &json!({"user_name": name, "policies": policies}))
        .await
        .expect("create user");
    let key = server
        .api
        .post(&format!("/users/{name}/access-keys"), &json!({}))
        .await
        .expect("create key");
    let id = key["access_key_id"].as_str().unwrap().to_owned();
    let secret = key["access_key_secret"].as_str().unwrap();
    (
        ApiClient::new(&format!("http://{}", server.http), &id, secret),
        id,
    )
}

/// The audit events matching `query` (a query string), newest first.
async fn audit(server: &Server, query: &str) -> Vec<Value> {
    server
        .api
        .get(&format!("/audit-events?{query}"))
        .await
        .expect("audit log")["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn policy_document(resource: &str) -> Value {
    json!({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["iot:*"], "Resource": [resource]}
    ]})
}

#[tokio::test]
async fn a_read_only_key_reads_but_cannot_change_and_its_denials_are_audited() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 1024).await;
    let (viewer, key_id) = user_with_key(&server, "viewer", &["ReadOnlyAccess"]).await;

    viewer
        .get("/products")
        .await
        .expect("a reader lists products");
    viewer
        .get(&format!("/firmwares/{}", pkg.id))
        .await
        .expect("and reads a package");
    let device = viewer
        .get(&format!("/products/{}/devices/{}", fleet.pk, fleet.name(0)))
        .await
        .expect("and a device");
    assert!(
        device.get("device_secret").is_none_or(Value::is_null),
        "a read-only key never sees device secrets: {device}"
    );
    let admin_view = server
        .api
        .get(&format!("/products/{}/devices/{}", fleet.pk, fleet.name(0)))
        .await
        .unwrap();
    assert!(admin_view["device_secret"].is_string());

    let refused = viewer
        .post(
            "/firmwares",
            &json!({"product_key": fleet.pk, "name": "x", "dest_version": "3", "url": "http://x"}),
        )
        .await
        .unwrap_err();
    let (status, body) = failure(&refused);
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "Forbidden.RAM");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("iot:CreateOTAFirmware"), "{message}");
    assert!(message.contains("viewer"), "{message}");
    let refused = viewer
        .post(&format!("/jobs/{}/pause", "any"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(failure(&refused).0, 403);

    let events = audit(&server, "user_name=viewer").await;
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["PauseOTAJob", "CreateOTAFirmware"],
        "reads are not audited"
    );
    let denied = &events[1];
    assert_eq!(denied["result"], "Forbidden.RAM");
    assert_eq!(denied["access_key_id"], key_id.as_str());
    assert_eq!(denied["face"], "api");
    assert_eq!(denied["source_ip"], "127.0.0.1");
    assert!(
        denied["resources"]
            .as_array()
            .unwrap()
            .contains(&json!(fleet.pk))
    );
    assert_eq!(denied["request_parameters"]["body"]["url"], "http://x");

    // The admin's own calls are there too, with what they touched and created.
    let created = audit(&server, "event_name=CreateOTAFirmware&user_name=admin").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["result"], "Success");
    assert_eq!(created[0]["access_key_id"], KEY_ID);
    assert!(
        created[0]["resources"]
            .as_array()
            .unwrap()
            .contains(&json!(pkg.id))
    );
    let by_package = audit(&server, &format!("resource_id={}", pkg.id)).await;
    assert!(
        by_package
            .iter()
            .any(|e| e["event_name"] == "CreateOTAFirmware")
    );
}

#[tokio::test]
async fn a_product_scoped_key_works_on_its_product_only() {
    let server = Server::start().await;
    let mine = fleet(&server, 2).await;
    let other = fleet(&server, 1).await;
    let mine_pkg = package(&server, &mine.pk, "2.0.0", 1024).await;
    let other_pkg = package(&server, &other.pk, "2.0.0", 1024).await;
    server
        .api
        .post(
            "/policies",
            &json!({"policy_name": "line-a", "document":
                policy_document(&format!("acs:iot:*:*:product/{}", mine.pk))}),
        )
        .await
        .expect("create policy");
    let (scoped, _) = user_with_key(&server, "line-a-ops", &["line-a"]).await;

    let batch = json!({"kind": "static", "target_selection": "SPECIFIC",
                       "device_names": mine.names(0..2)});
    scoped
        .post(&format!("/firmwares/{}/jobs", mine_pkg.id), &batch)
        .await
        .expect("a batch on its own product");
    let other_batch = json!({"kind": "static", "target_selection": "SPECIFIC",
                             "device_names": other.names(0..1)});
    let refused = scoped
        .post(&format!("/firmwares/{}/jobs", other_pkg.id), &other_batch)
        .await
        .unwrap_err();
    let (status, body) = failure(&refused);
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("iot:CreateOTAStaticUpgradeJob"),
        "{body}"
    );
    // A call that names no product is outside a product-scoped policy.
    assert_eq!(failure(&scoped.get("/products").await.unwrap_err()).0, 403);
    scoped
        .get(&format!("/firmwares?product_key={}", mine.pk))
        .await
        .expect("its product's packages");
}

#[tokio::test]
async fn disabled_keys_and_users_are_refused_until_enabled_again() {
    let server = Server::start().await;
    let (ci, key_id) = user_with_key(&server, "ci", &["AdministratorAccess"]).await;
    ci.get("/products").await.expect("enabled");

    server
        .api
        .patch(
            &format!("/access-keys/{key_id}"),
            &json!({"enabled": false}),
        )
        .await
        .unwrap();
    let (status, body) = failure(&ci.get("/products").await.unwrap_err());
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("InvalidAccessKeyId.Inactive"))
    );
    server
        .api
        .patch(&format!("/access-keys/{key_id}"), &json!({"enabled": true}))
        .await
        .unwrap();
    ci.get("/products").await.expect("enabled again");

    server
        .api
        .patch("/users/ci", &json!({"enabled": false}))
        .await
        .unwrap();
    let (status, body) = failure(&ci.get("/products").await.unwrap_err());
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("InvalidAccessKeyId.Inactive"))
    );

    let keys = server.api.get("/users/ci/access-keys").await.unwrap();
    let key = &keys["items"][0];
    assert_eq!(key["last_used_from"], "127.0.0.1");
    assert!(key["last_used_at"].as_i64().unwrap() > 0);
    assert!(
        key.get("access_key_secret").is_none(),
        "a secret is shown once"
    );

    // Two keys per user at most.
    server
        .api
        .post("/users/ci/access-keys", &json!({}))
        .await
        .unwrap();
    let (status, body) = failure(
        &server
            .api
            .post("/users/ci/access-keys", &json!({}))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("QuotaExceeded"))
    );
    // The admin user stays.
    let (status, _) = failure(&server.api.delete("/users/admin").await.unwrap_err());
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bearer_tokens_act_as_their_user_until_revoked() {
    let server = Server::start().await;
    server
        .api
        .post(
            "/users",
            &json!({"user_name": "script", "policies": ["ReadOnlyAccess"]}),
        )
        .await
        .unwrap();
    let created = server
        .api
        .post("/users/script/tokens", &json!({"name": "nightly report"}))
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("otapat_"));
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("http://{}/api/v1{path}", server.http))
            .bearer_auth(token)
    };
    let listed = call(reqwest::Method::GET, "/products")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    let denied = call(reqwest::Method::POST, "/products")
        .json(&json!({"name": "p"}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let denied_event = &audit(&server, "user_name=script").await[0];
    assert_eq!(denied_event["session_id"], created["token_id"]);

    server
        .api
        .delete(&format!(
            "/tokens/{}",
            created["token_id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let revoked = call(reqwest::Method::GET, "/products")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().await.unwrap();
    assert_eq!(body["code"], "InvalidToken.Revoked");
    let forged = http
        .get(format!("http://{}/api/v1/products", server.http))
        .bearer_auth(format!("{}x", &token[..token.len() - 1]))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
}

#[tokio::test]
async fn malformed_policies_are_refused_naming_the_field() {
    let server = Server::start().await;
    let cases = [
        (
            json!({"Version": "2", "Statement": []}),
            "PolicyDocument.Version",
        ),
        (
            json!({"Version": "1", "Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}),
            "PolicyDocument.Statement[0].Effect",
        ),
        (
            json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                   "Condition": {}}]}),
            "PolicyDocument.Statement[0].Condition",
        ),
    ];
    for (document, field) in cases {
        let err = server
            .api
            .post(
                "/policies",
                &json!({"policy_name": "bad", "document": document}),
            )
            .await
            .unwrap_err();
        let (status, body) = failure(&err);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], field, "{body}");
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_the_audit_log_pages_and_exports() {
    let server = Server::start().await;
    let (_, key_id) = user_with_key(&server, "ops", &["ReadOnlyAccess"]).await;
    let key = server
        .api
        .post("/users/ops/access-keys", &json!({}))
        .await
        .unwrap();
    let secret = key["access_key_secret"].as_str().unwrap().to_owned();
    let store = ota_store::Store::connect(&format!(
        "sqlite://{}",
        server.data_dir().join("ota.db").display()
    ))
    .await
    .expect("open the store file");
    for row in store.list_access_keys(None).await.unwrap() {
        assert!(
            row.sealed_secret.starts_with("sealed:v1:"),
            "{}",
            row.key_id
        );
        assert!(!row.sealed_secret.contains(&secret));
    }
    assert!(store.access_key(&key_id).await.unwrap().is_some());

    for i in 0..5 {
        server
            .api
            .post("/products", &json!({"name": format!("prod{i}")}))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let token = next
            .as_ref()
            .map(|t| format!("&next_token={t}"))
            .unwrap_or_default();
        let page = server
            .api
            .get(&format!(
                "/audit-events?event_name=CreateProduct&page_size=2{token}"
            ))
            .await
            .unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_token"].as_str() {
            Some(t) => next = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let times: Vec<i64> = seen
        .iter()
        .map(|e| e["event_time"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let names: Vec<&str> = seen
        .iter()
        .map(|e| e["request_parameters"]["body"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["prod4", "prod3", "prod2", "prod1", "prod0"]);

    let csv = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/audit-events?event_name=CreateAccessKey&format=csv",
            server.http
        ))
        .bearer_auth(admin_token(&server).await)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("event_id,event_time,event_name")
    );
    assert_eq!(lines.count(), 2, "{text}");
    assert!(!text.contains(&secret), "the secret never reaches the log");
}

/// A personal access token of the admin user.
async fn admin_token(server: &Server) -> String {
    server
        .api
        .post("/users/admin/tokens", &json!({"name": "test"}))
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_key_disabled_on_one_node_is_refused_by_the_other() {
    // Nothing is downloaded here; the nodes only need one address to name in URLs.
    let front = [("OTA_PUBLIC_URL", "http://127.0.0.1:9")];
    let Some((a, b)) = Server::start_postgres_pair(&front).await else {
        return;
    };
    let (on_a, key_id) = user_with_key(&a, "ci", &["AdministratorAccess"]).await;
    let secret_client = |server: &Server| {
        let (id, secret) = on_a.credentials();
        ApiClient::new(&format!("http://{}", server.http), id, secret)
    };
    let on_b = secret_client(&b);
    on_b.get("/products")
        .await
        .expect("the key works on node b");
    a.api
        .patch(
            &format!("/access-keys/{key_id}"),
            &json!({"enabled": false}),
        )
        .await
        .unwrap();
    // The very next request is refused: nothing caches a key's state.
    let (status, body) = failure(&on_b.get("/products").await.unwrap_err());
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("InvalidAccessKeyId.Inactive"))
    );
    // The denial and the change are in the one log both nodes write.
    let on_b_log = audit(&b, &format!("resource_id={key_id}")).await;
    assert!(
        on_b_log
            .iter()
            .any(|e| e["event_name"] == "UpdateAccessKey")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_makes_users_keys_and_policies_and_reads_the_audit_log() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("uploads.json");
    std::fs::write(
        &policy,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["iot:GenerateOTAUploadURL","iot:CreateOTAFirmware"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let run = |args: &[&str]| {
        let (ok, out, err) = crate::cli::ota(&server, args);
        assert!(ok, "ota {args:?}: {err}");
        serde_json::from_str::<Value>(&out).unwrap_or(Value::Null)
    };
    let user = run(&["user", "create", "ci-upload", "--policy-file", policy]);
    assert_eq!(user["user_name"], "ci-upload");
    assert_eq!(user["policies"], json!(["ci-upload-uploads"]));
    run(&["user", "attach-policy", "ci-upload", "ReadOnlyAccess"]);
    let shown = run(&["user", "show", "ci-upload"]);
    let attached: Vec<&str> = shown["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policy_name"].as_str().unwrap())
        .collect();
    assert_eq!(attached, ["ReadOnlyAccess", "ci-upload-uploads"]);

    let key = run(&["access-key", "create", "ci-upload"]);
    let id = key["access_key_id"].as_str().unwrap();
    assert!(key["access_key_secret"].as_str().unwrap().len() >= 30);
    let as_ci = ApiClient::new(
        &format!("http://{}", server.http),
        id,
        key["access_key_secret"].as_str().unwrap(),
    );
    as_ci.get("/products").await.expect("read-only attached");
    run(&["access-key", "disable", id]);
    assert_eq!(failure(&as_ci.get("/products").await.unwrap_err()).0, 401);
    run(&["access-key", "enable", id]);
    as_ci.get("/products").await.expect("enabled again");

    // A bad document is refused with the field named, and the CLI says so.
    std::fs::write(dir.path().join("bad.json"), r#"{"Version":"1"}"#).unwrap();
    let bad = dir.path().join("bad.json");
    let (ok, _, err) =
        crate::cli::ota(&server, &["policy", "create", "bad", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("PolicyDocument.Statement"), "{err}");

    let events = run(&["audit", "list", "--resource", id]);
    let names: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["UpdateAccessKey", "UpdateAccessKey", "CreateAccessKey"]
    );
    let (ok, csv, _) = crate::cli::ota(&server, &["audit", "list", "--user", "admin", "--csv"]);
    assert!(ok);
    assert!(csv.starts_with("event_id,event_time,event_name"), "{csv}");
    assert!(csv.contains("CreatePolicy"), "{csv}");
}

#[tokio::test]
async fn creating_a_user_with_policies_needs_the_right_to_attach_them() {
    let server = Server::start().await;
    server
        .api
        .post(
            "/policies",
            &json!({"policy_name": "user-maker", "document": {"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": "ram:CreateUser", "Resource": "*"}]}}),
        )
        .await
        .unwrap();
    let (maker, _) = user_with_key(&server, "hr", &["user-maker"]).await;
    maker
        .post("/users", &json!({"user_name": "plain"}))
        .await
        .expect("a user without policies");
    let (status, body) = failure(
        &maker
            .post(
                "/users",
                &json!({"user_name": "root2", "policies": ["AdministratorAccess"]}),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ram:AttachPolicyToUser")
    );
    let (status, _) = failure(&server.api.get("/users/root2").await.unwrap_err());
    assert_eq!(status, 404, "nothing was created");
}
