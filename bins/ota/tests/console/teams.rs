//! Teams in the browser: a user holding only `ReadOnlyAccess` signs in with a password and
//! is offered no control that changes anything; a post forged from their page with its
//! CSRF token is refused with `Forbidden.RAM`; the admin then finds the user on the Users
//! page (with an access key whose secret is shown once) and the refusal in the audit log.

use crate::browser::{self, Browser};
use crate::server::{KEY_ID, KEY_SECRET, Server};
use ota::client::{ApiClient, text};
use serde_json::{Value, json};

const VIEWER: &str = "viewer";
const VIEWER_PASSWORD: &str = "viewer-password-7c2d";
/// Forms and links that change something; the sign-out form is not one of them.
const CHANGES: &str = "form[method=post]:not(.signout), a[href$='/new']";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_sees_no_control_and_is_refused_and_audited() -> anyhow::Result<()> {
    if !browser::available() {
        return Ok(());
    }
    let _turn = browser::one_at_a_time().await;
    let server = Server::start().await?;
    let (pk, firmware_id) = set_up(&server).await?;
    let b = Browser::start(&server.base).await?;
    let result = scenario(&server, &b, &pk, &firmware_id).await;
    if result.is_err() {
        let _ = b.shot("zz-teams-failure").await;
    }
    b.close().await;
    result
}

/// As the admin, through the native API: a product with a device and a package ready for
/// batches, and the viewer.
async fn set_up(server: &Server) -> anyhow::Result<(String, String)> {
    let api = &server.api;
    let product = api.post("/products", &json!({"name": "Team-Lamp"})).await?;
    let pk = text(&product, "product_key")?;
    api.post(
        &format!("/products/{pk}/devices"),
        &json!({"names": ["lamp-1"]}),
    )
    .await?;
    let file = api.upload_bytes("team.bin", vec![3u8; 4096]).await?;
    let fw = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "team-fw", "dest_version": "1.1",
                    "url": file["url"], "need_to_verify": false}),
        )
        .await?;
    api.post(
        "/users",
        &json!({"user_name": VIEWER, "display_name": "Read-only viewer",
                "password": VIEWER_PASSWORD, "policies": ["ReadOnlyAccess"]}),
    )
    .await?;
    Ok((pk, text(&fw, "firmware_id")?))
}

async fn scenario(server: &Server, b: &Browser, pk: &str, fw: &str) -> anyhow::Result<()> {
    b.sign_in(VIEWER, VIEWER_PASSWORD).await?;
    b.wait_text(".signout", VIEWER).await?;

    // Pages the viewer may read show nothing they may not do.
    b.goto("/console/products").await?;
    b.wait_text("main", "Team-Lamp").await?;
    assert_eq!(
        b.count(CHANGES).await?,
        0,
        "no create form on the products list"
    );
    b.goto(&format!("/console/products/{pk}/packages")).await?;
    b.wait_text("#packages", "team-fw").await?;
    assert_eq!(b.count(CHANGES).await?, 0, "no 'Add a package' on the list");
    b.goto(&format!("/console/packages/{fw}")).await?;
    b.wait_text("#package-props", "team-fw").await?;
    assert_eq!(
        b.count(CHANGES).await?,
        0,
        "no batch, verify or delta control on the package page"
    );
    b.goto(&format!("/console/products/{pk}/devices/lamp-1"))
        .await?;
    b.wait_text("h1", "lamp-1").await?;
    assert_eq!(
        b.count(CHANGES).await?,
        0,
        "no disable or reset on the device"
    );
    assert_eq!(b.count("#device-secret").await?, 0, "no device secret");
    b.shot("30-read-only-device").await?;

    // A post forged from the page, with the page's own CSRF token, is refused by policy.
    let (status, body) = forge(b, "/console/products", "name=Forged-Product").await?;
    assert_eq!(status, 403, "{body}");
    assert!(body.starts_with("Forbidden.RAM"), "{body}");
    let products = server.api.get("/products").await?.to_string();
    assert!(!products.contains("Forged-Product"), "nothing was created");
    b.click("form.signout button").await?;
    b.find("#key_id").await?;

    // The admin: the viewer on the Users page, a key made for them shown once.
    b.sign_in(KEY_ID, KEY_SECRET).await?;
    b.click("header.top a[href='/console/users']").await?;
    b.wait_text("#users", VIEWER).await?;
    b.wait_text(&format!("#u-{VIEWER}"), "ReadOnlyAccess")
        .await?;
    b.shot("31-users").await?;
    b.click(&format!("#users a[href='/console/users/{VIEWER}']"))
        .await?;
    b.wait_text("#user-policies", "ReadOnlyAccess").await?;
    b.click("#create-key-form button").await?;
    let key_id = b.text("#new-key-id").await?;
    let secret = b.text("#new-key-secret").await?;
    b.shot("32-new-access-key").await?;
    let as_viewer = ApiClient::new(&server.base, &key_id, &secret);
    as_viewer
        .get("/products")
        .await
        .map_err(|e| e.context("the new key signs requests"))?;
    b.goto(&format!("/console/users/{VIEWER}")).await?;
    b.wait_text("#access-keys", &key_id).await?;
    assert_eq!(
        b.count("#new-key-secret").await?,
        0,
        "the secret is shown once"
    );
    let page = b.js("return document.documentElement.outerHTML").await?;
    assert!(!page.as_str().unwrap_or_default().contains(&secret));

    // The admin does see the controls the viewer did not.
    b.goto(&format!("/console/packages/{fw}")).await?;
    b.find("a[href$='/batches/new']").await?;
    b.find("#delta-form").await?;
    b.goto(&format!("/console/products/{pk}/devices/lamp-1"))
        .await?;
    b.find("#device-secret").await?;

    // A refused policy document names the place at fault.
    b.goto("/console/policies").await?;
    b.wait_text("#policies", "ReadOnlyAccess").await?;
    b.fill("#policy_name", "Broken").await?;
    b.fill(
        "#new_document",
        r#"{"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "iot:*", "Resource": "*"}]}"#,
    )
    .await?;
    b.click("#policy-form button[type=submit]").await?;
    b.wait_text(
        "[data-param=PolicyDocument] .field-error",
        "PolicyDocument.Statement[0].Effect",
    )
    .await?;

    // The audit log: the viewer's refused CreateProduct, found by the filters.
    b.click("header.top a[href='/console/audit']").await?;
    b.fill("#audit_user_name", VIEWER).await?;
    b.fill("#audit_event_name", "CreateProduct").await?;
    b.click("#audit-filters button[type=submit]").await?;
    b.wait_text("#audit-events", "Forbidden.RAM").await?;
    let events = b.text("#audit-events tbody").await?;
    assert!(
        events.contains("CreateProduct") && events.contains(VIEWER),
        "{events}"
    );
    assert_eq!(
        b.count("#audit-events tbody tr").await?,
        1,
        "only the matching event"
    );
    b.shot("33-audit-log").await?;
    let href = b
        .find("#audit-csv")
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(href.contains("user_name=viewer"), "{href}");
    let csv = fetch_text(b, &href).await?;
    assert!(
        csv.lines().count() == 2 && csv.contains("CreateProduct,console,viewer"),
        "{csv}"
    );
    Ok(())
}

/// POSTs `body` to `path` from the page, as a script on it could, with the page's CSRF
/// token; the answer's status and text.
async fn forge(b: &Browser, path: &str, body: &str) -> anyhow::Result<(u64, String)> {
    let script = r#"
        const [path, body, done] = arguments;
        const token = document.querySelector('meta[name=csrf-token]').content;
        fetch(path, {
            method: 'POST',
            headers: {'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': token},
            body: body,
            redirect: 'manual',
        }).then(r => r.text().then(t => done([r.status, t])), e => done([0, String(e)]));
    "#;
    let answer = b
        .client
        .execute_async(script, vec![json!(path), json!(body)])
        .await?;
    Ok((
        answer[0].as_u64().unwrap_or_default(),
        answer[1].as_str().unwrap_or_default().to_owned(),
    ))
}

/// The text at `path`, fetched from the page with its session.
async fn fetch_text(b: &Browser, path: &str) -> anyhow::Result<String> {
    let script = r#"
        const [path, done] = arguments;
        fetch(path).then(r => r.text()).then(done, e => done(String(e)));
    "#;
    let answer: Value = b.client.execute_async(script, vec![json!(path)]).await?;
    Ok(answer.as_str().unwrap_or_default().to_owned())
}
