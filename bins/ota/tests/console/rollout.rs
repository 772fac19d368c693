//! A complete rollout clicked through the console: sign in, register and import devices,
//! manage modules and a group, upload a package with a progress bar, verify it on a chosen
//! device, create a batch (after the wizard explains bad input next to the fields), watch
//! simulated devices succeed and fail live, re-upgrade and cancel single devices, change
//! the rate, cancel the batch, read the charts and sign out.

use crate::browser::{self, Browser};
use crate::server::{KEY_ID, KEY_SECRET, Server};
use anyhow::Context;
use ota_device_sdk::sim::{self, Behaviour, DeviceCredentials, SimConfig, SimStats};
use std::sync::Arc;
use std::time::Duration;

/// Simulated devices: the first six succeed (slowly, so progress shows), the last two fail.
const SIMULATED: usize = 8;
const DEVICES: usize = 10;

fn name(i: usize) -> String {
    format!("lamp-{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_rollout_in_the_browser() -> anyhow::Result<()> {
    if !browser::available() {
        return Ok(());
    }
    let _turn = browser::one_at_a_time().await;
    let server = Server::start().await?;
    let b = Browser::start(&server.base).await?;
    let result = scenario(&server, &b).await;
    if result.is_err() {
        let _ = b.shot("zz-failure").await;
    }
    b.close().await;
    result
}

async fn scenario(server: &Server, b: &Browser) -> anyhow::Result<()> {
    // Nothing is reachable without signing in.
    b.goto("/console/products").await?;
    b.find("#key_id").await?;
    assert_eq!(b.path().await?, "/console/login");
    b.fill("#key_id", KEY_ID).await?;
    b.fill("#secret", "wrong-secret").await?;
    b.click("button[type=submit]").await?;
    b.wait_text(".alert", "Unknown user or access key").await?;
    b.shot("01-sign-in").await?;
    b.fill("#secret", KEY_SECRET).await?;
    b.click("button[type=submit]").await?;
    b.wait_text("h1", "Products").await?;
    assert_eq!(
        b.path().await?,
        "/console/products",
        "sign-in returns to the page asked for"
    );
    forged_post_is_refused(server, b).await?;

    // A product, one device registered by hand and nine imported from CSV.
    b.fill("#product_name", "ab").await?;
    b.click("form[action='/console/products'] button[type=submit]")
        .await?;
    b.wait_text("[data-param=ProductName] .field-error", "4-30 characters")
        .await?;
    assert_eq!(
        b.path().await?,
        "/console/products",
        "invalid input is explained before submission"
    );
    b.fill("#product_name", "Smart-Lamp").await?;
    b.click("form[action='/console/products'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Product Smart-Lamp created").await?;
    let pk = b
        .path()
        .await?
        .rsplit('/')
        .next()
        .context("product key")?
        .to_owned();
    b.fill("#device_name", &name(1)).await?;
    b.click("form[action$='/devices'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Device lamp-0001 registered").await?;
    b.shot("02-device-detail").await?;
    b.goto(&format!("/console/products/{pk}")).await?;
    let csv = tempfile::NamedTempFile::with_suffix(".csv")?;
    let names: Vec<String> = (2..=DEVICES).map(name).collect();
    std::fs::write(csv.path(), format!("DeviceName\n{}\n", names.join("\n")))?;
    b.find("#device_file")
        .await?
        .send_keys(&csv.path().display().to_string())
        .await?;
    b.click("form[action$='/devices/import'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Imported 9 devices").await?;
    b.fill("#q", "lamp-000").await?;
    b.click("form.search button").await?;
    // The unfiltered list also shows lamp-0009: wait for the filtered page itself.
    b.wait_js(
        "the prefix search to list 9 devices",
        "document.querySelectorAll('#devices tbody tr').length === 9",
    )
    .await?;
    b.wait_text("#devices", "lamp-0009").await?;

    // OTA modules: add, change the alias, delete.
    b.goto(&format!("/console/products/{pk}/modules")).await?;
    b.fill("#module_name", "wifi-fw").await?;
    b.fill("#alias_name", "radio").await?;
    b.click("form[action$='/modules'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Module wifi-fw added").await?;
    b.fill("#m-wifi-fw-alias", "wireless").await?;
    b.click("#m-wifi-fw form.inline button").await?;
    b.wait_text(".flash", "Module wifi-fw saved").await?;
    assert_eq!(
        b.find("#m-wifi-fw-alias")
            .await?
            .prop("value")
            .await?
            .as_deref(),
        Some("wireless")
    );
    b.shot("03-modules").await?;
    b.click("#m-wifi-fw form[data-confirm] button").await?;
    b.client.accept_alert().await?;
    b.wait_text(".flash", "Module wifi-fw deleted").await?;

    // A static group of two devices.
    b.goto(&format!("/console/products/{pk}/groups")).await?;
    b.fill("#group_name", "pilot").await?;
    b.click("form[action$='/groups'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Group pilot created").await?;
    b.fill("#member_names", "lamp-0001\nlamp-0002").await?;
    b.click("form[action$='/members'] button[type=submit]")
        .await?;
    b.wait_text(".flash", "Added 2 devices").await?;

    // Device identity: the last device (it never connects) disabled and enabled again from
    // its page; dynamic registration allowed for the product.
    let last = name(DEVICES);
    b.goto(&format!("/console/products/{pk}/devices/{last}"))
        .await?;
    b.click("form[action$='/disable'] button").await?;
    b.client.accept_alert().await?;
    b.wait_text(".flash", &format!("Device {last} disabled"))
        .await?;
    b.wait_text(".props", "DISABLE").await?;
    b.click("form[action$='/enable'] button").await?;
    b.wait_text(".flash", &format!("Device {last} enabled"))
        .await?;
    b.goto(&format!("/console/products/{pk}")).await?;
    b.click("form[action$='/registration'] input[name=dynamic_register]")
        .await?;
    b.click("form[action$='/registration'] button").await?;
    b.wait_text(".flash", "Dynamic registration allowed")
        .await?;

    // Device certificates: a CA registered, devices created on their first certificate
    // connect, a serial revoked and taken back.
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Lamp factory CA");
    b.fill("#ca_certificate", &ca.self_signed(&ca_key)?.pem())
        .await?;
    b.click("form[action$='/device-cas'] button").await?;
    b.wait_text(".flash", "CA CN=Lamp factory CA registered")
        .await?;
    b.wait_text("#device-cas", "Lamp factory CA").await?;
    b.click("form[action$='/certificates'] input[name=auto_create]")
        .await?;
    b.click("form[action$='/certificates'] button").await?;
    b.wait_text(".flash", "first certificate connect is on")
        .await?;
    b.fill("#revoke_serial", "0A:1B").await?;
    b.click("form[action$='/revocations'] button").await?;
    b.wait_text(".flash", "Certificate serial a1b revoked")
        .await?;
    b.click("form[action$='/revocations/a1b/remove'] button")
        .await?;
    b.wait_text(".flash", "revocation of a1b was taken back")
        .await?;

    // Simulated devices come online (the last two registered devices never connect).
    let fleet = start_fleet(server, &pk).await?;
    for _ in 0..100 {
        b.goto(&format!("/console/products/{pk}")).await?;
        if b.count("#devices .badge.ok").await? == SIMULATED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        b.count("#devices .badge.ok").await?,
        SIMULATED,
        "simulated devices online"
    );
    b.shot("04-devices").await?;

    let package = crate::rollout_package::upload_and_verify(b, &pk).await?;
    crate::rollout_batch::run_batch(b, &pk, &package).await?;

    // Sign out: the console is closed again.
    b.click("form.signout button").await?;
    b.find("#key_id").await?;
    b.goto("/console").await?;
    assert_eq!(b.path().await?, "/console/login");
    fleet.abort();
    Ok(())
}

/// A request with the session cookie but without the page's CSRF token changes nothing.
async fn forged_post_is_refused(server: &Server, b: &Browser) -> anyhow::Result<()> {
    let session = b.client.get_named_cookie("ota_console").await?;
    let response = reqwest::Client::new()
        .post(format!("{}/console/products", server.base))
        .header("cookie", format!("ota_console={}", session.value()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Forged-Product")
        .send()
        .await?;
    assert_eq!(
        response.status(),
        403,
        "a POST without the CSRF token is refused"
    );
    Ok(())
}

/// Runs the fleet simulator in-process for the first [`SIMULATED`] devices.
async fn start_fleet(server: &Server, pk: &str) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut devices = Vec::new();
    for i in 1..=SIMULATED {
        let d = server
            .api
            .get(&format!("/products/{pk}/devices/{}", name(i)))
            .await?;
        devices.push(DeviceCredentials {
            product_key: pk.to_owned(),
            device_name: name(i),
            device_secret: ota::client::text(&d, "device_secret")?,
        });
    }
    let mut config = SimConfig::new(devices, vec![server.process.mqtt]);
    config.behaviour = Behaviour::Mix(vec![
        (
            75,
            Behaviour::Slow {
                extra: Duration::from_secs(3),
            },
        ),
        (
            25,
            Behaviour::Fail {
                step: -2,
                at_percent: 50,
            },
        ),
    ]);
    config.stop_after_update = false;
    config.duration = Some(Duration::from_secs(600));
    Ok(tokio::spawn(async move {
        let _ = sim::run(config, Arc::new(SimStats::default())).await;
    }))
}
