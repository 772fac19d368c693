//! A rollout in waves through the console: the wave wizard on a package (rows added and
//! removed, the domain's refusals shown on the form), the rollout page's timeline with
//! wave 1 awaiting approval, approval from the page starting wave 1's batch, a pause, and a
//! read-only user shown the timeline without a single control.

use crate::browser::{self, Browser};
use crate::server::{KEY_ID, KEY_SECRET, Server};
use ota::client::text;
use serde_json::json;

const VIEWER: &str = "wave-viewer";
const VIEWER_PASSWORD: &str = "viewer-password-5e8a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_is_created_in_waves_and_approved_in_the_browser() -> anyhow::Result<()> {
    if !browser::available() {
        return Ok(());
    }
    let _turn = browser::one_at_a_time().await;
    let server = Server::start().await?;
    let firmware_id = set_up(&server).await?;
    let b = Browser::start(&server.base).await?;
    let result = scenario(&b, &firmware_id).await;
    if result.is_err() {
        let _ = b.shot("zz-waves-failure").await;
    }
    b.close().await;
    result
}

/// Through the native API: a product with four devices (never connected, so a wave's batch
/// keeps running), a package ready for batches, and a read-only user.
async fn set_up(server: &Server) -> anyhow::Result<String> {
    let api = &server.api;
    let product = api.post("/products", &json!({"name": "Wave-Lamp"})).await?;
    let pk = text(&product, "product_key")?;
    api.post(
        &format!("/products/{pk}/devices"),
        &json!({"names": ["wave-1", "wave-2", "wave-3", "wave-4"]}),
    )
    .await?;
    let file = api.upload_bytes("wave.bin", vec![7u8; 4096]).await?;
    let fw = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "wave-fw", "dest_version": "2.0",
                    "url": file["url"], "need_to_verify": false}),
        )
        .await?;
    api.post(
        "/users",
        &json!({"user_name": VIEWER, "display_name": "Read-only viewer",
                "password": VIEWER_PASSWORD, "policies": ["ReadOnlyAccess"]}),
    )
    .await?;
    text(&fw, "firmware_id")
}

async fn scenario(b: &Browser, fw: &str) -> anyhow::Result<()> {
    b.sign_in(KEY_ID, KEY_SECRET).await?;
    b.goto(&format!("/console/packages/{fw}")).await?;
    b.click("a.button[href$='/rollouts/new']").await?;
    b.find("#rollout-form").await?;

    // Rows are added and removed; the ones left are numbered in order.
    b.click("[data-add-wave]").await?;
    b.find("#w3-percent").await?;
    b.click("#waves fieldset.wave:nth-child(2) [data-remove-wave]")
        .await?;
    b.wait_js(
        "two rows numbered 1 and 2",
        "document.querySelectorAll('#waves fieldset.wave').length === 2 && \
         !document.getElementById('w3-percent') && \
         [...document.querySelectorAll('#waves input[name=wave]')].map(i => i.value).join() === '1,2'",
    )
    .await?;

    // Shares over 100 % are the domain's refusal, shown on the form with what was typed.
    b.fill("#rollout_name", "Lamp 2.0 in waves").await?;
    b.fill("#w1-percent", "60").await?;
    b.click("input[name=w1_approval]").await?;
    b.fill("#w2-percent", "60").await?;
    b.click("input[name=w2_error][value=percent]").await?;
    b.fill("#w2-error-percent", "20").await?;
    b.click("#rollout-form button[type=submit]").await?;
    b.wait_text("#waves-error", "add up to more than 100")
        .await?;
    b.wait_text(".alert", "Waves:").await?;
    assert_eq!(
        b.js("return document.getElementById('w1-percent').value")
            .await?,
        "60",
        "the form keeps what was typed"
    );
    b.shot("40-rollout-wizard-refused").await?;

    // A wave's own field is refused by its position (sent past `console.js`'s checks).
    b.fill("#w2-percent", "0").await?;
    b.js("document.getElementById('rollout-form').submit();")
        .await?;
    b.wait_text(".alert", "Waves.2.Percent:").await?;
    b.wait_text(
        "[data-param='Waves.2.Percent'] .field-error",
        "above 0 and at most 100",
    )
    .await?;

    b.fill("#w1-percent", "50").await?;
    b.fill("#w2-percent", "50").await?;
    b.click("#rollout-form button[type=submit]").await?;
    b.wait_text(".flash", "wave 1 awaits approval").await?;
    let page = b.path().await?;
    assert!(page.starts_with("/console/rollouts/"), "{page}");

    // The timeline: wave 1 awaits approval, wave 2 is pending; nothing to start yet.
    b.wait_text("#wave-1 .phase", "AWAITING APPROVAL").await?;
    b.wait_text("#wave-1", "50 % of the eligible devices (2)")
        .await?;
    b.wait_text("#wave-2 .phase", "PENDING").await?;
    b.wait_text("#wave-2", "more than 20 % of the finished devices failed")
        .await?;
    b.wait_text("#rollout-waiting", "wave 1 awaits approval")
        .await?;
    assert_eq!(b.count("#next-wave-form").await?, 0, "no wave runs yet");
    assert_eq!(b.count("#resume-form").await?, 0, "not paused");
    b.shot("41-rollout-awaiting-approval").await?;

    // Approving from the page starts wave 1: its batch is linked from the timeline.
    b.fill("#rollout-remark", "canary looks fine").await?;
    b.click("#approval-form button[value=approve]").await?;
    b.wait_text(".flash", "Wave approved").await?;
    b.wait_text("#wave-1 .phase", "RUNNING").await?;
    b.wait_text("#wave-1 .approval", "canary looks fine")
        .await?;
    let batch = b
        .find("#wave-1 .batch a")
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(batch.starts_with("/console/batches/"), "{batch}");
    assert_eq!(
        b.count("#approval-form").await?,
        0,
        "nothing awaits approval"
    );
    b.find("#next-wave-form").await?;
    // The wave's counts are the driver's last look at its batch: reload until it has one.
    let end = std::time::Instant::now() + browser::DEADLINE;
    while !b.text("#wave-1 .counts").await?.contains("2 total") {
        anyhow::ensure!(
            std::time::Instant::now() < end,
            "wave 1 never counted its 2 devices: {}",
            b.text("#wave-1").await?
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        b.goto(&page).await?;
    }
    b.shot("42-rollout-wave-1-running").await?;

    // Paused, it offers Resume instead of Pause.
    b.click("#pause-form button").await?;
    b.wait_text(".flash", "Rollout paused").await?;
    b.find("#resume-form").await?;
    assert_eq!(b.count("#pause-form").await?, 0);

    // The batch page and the package's list of rollouts.
    b.click("#wave-1 .batch a").await?;
    b.wait_js(
        "the wave's batch page",
        &format!("location.pathname === {}", json!(batch)),
    )
    .await?;
    b.goto(&format!("/console/packages/{fw}")).await?;
    b.wait_text("#rollouts", "Lamp 2.0 in waves").await?;
    b.wait_text("#rollouts", "PAUSED").await?;

    // A read-only user sees the timeline and no control.
    b.click("form.signout button").await?;
    b.sign_in(VIEWER, VIEWER_PASSWORD).await?;
    b.goto(&page).await?;
    b.wait_text("#wave-1 .phase", "RUNNING").await?;
    assert_eq!(
        b.count("form[method=post]:not(.signout)").await?,
        0,
        "no pause, resume, next-wave, cancel or approval form"
    );
    b.goto(&format!("/console/packages/{fw}")).await?;
    b.wait_text("#rollouts", "Lamp 2.0 in waves").await?;
    assert_eq!(b.count("a[href$='/rollouts/new']").await?, 0);
    Ok(())
}
