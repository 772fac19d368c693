//! Deltas in the console: a package added with "generate deltas from" shows each source
//! version with its status, progress, size, format and the memory applying it needs; a bad
//! version is explained at the field; a further delta is requested from the package page.

use crate::browser::{self, Browser};
use crate::server::{KEY_ID, KEY_SECRET, Server};
use serde_json::json;
use std::time::Duration;

/// Incompressible bytes (xorshift), so a delta is much smaller than the image.
fn image(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deltas_are_requested_and_watched_in_the_browser() -> anyhow::Result<()> {
    if !browser::available() {
        return Ok(());
    }
    let _turn = browser::one_at_a_time().await;
    let server = Server::start().await?;
    let api = &server.api;
    let product = api
        .post("/products", &json!({"name": "Delta-Lamp"}))
        .await?;
    let pk = ota::client::text(&product, "product_key")?;
    let v1 = image(64 * 1024, 1);
    let mut v2 = v1.clone();
    v2[5000..5100].fill(0);
    for (version, bytes) in [("1.0.0", v1.clone()), ("1.1.0", v2.clone())] {
        let file = api.upload_bytes("lamp.bin", bytes).await?;
        api.post(
            "/firmwares",
            &json!({"product_key": pk, "name": format!("lamp-{}", version.replace('.', "_")), "dest_version": version,
                    "url": file["url"], "need_to_verify": false}),
        )
        .await?;
    }
    let mut v3 = v2.clone();
    v3[9000..9050].fill(1);
    let file = api.upload_bytes("lamp3.bin", v3).await?;
    let fw = api
        .post(
            "/firmwares",
            &json!({"product_key": pk, "name": "lamp-2_0_0", "dest_version": "2.0.0",
                    "url": file["url"], "need_to_verify": false, "delta_from_versions": ["1.1.0"]}),
        )
        .await?;
    let fw_id = ota::client::text(&fw, "firmware_id")?;

    let b = Browser::start(&server.base).await?;
    let result = async {
        b.sign_in(KEY_ID, KEY_SECRET).await?;
        let page = format!("/console/packages/{fw_id}");
        b.goto(&page).await?;
        b.find("#deltas tr[data-src='1.1.0']").await?;

        // An unknown version is refused at the field; nothing is queued.
        b.fill("#delta_versions", "9.9.9").await?;
        b.click("#delta-form button[type=submit]").await?;
        b.wait_text(
            "[data-param=src_versions] .field-error",
            "no full package of version 9.9.9",
        )
        .await?;
        assert_eq!(b.count("#deltas tbody tr").await?, 1);

        b.fill("#delta_versions", "1.0.0").await?;
        b.click("#delta-form button[type=submit]").await?;
        b.wait_text(".flash", "Delta generation queued").await?;
        let mut done = false;
        for _ in 0..100 {
            b.goto(&page).await?;
            if b.count("#deltas .badge.ok").await? == 2
                && b.text("#deltas").await?.matches("100%").count() == 2
            {
                done = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let table = b.text("#deltas").await?;
        assert!(done, "deltas never became ready: {table}");
        assert_eq!(table.matches("READY").count(), 2, "{table}");
        // Each row shows the patch format and the memory a device needs, as the API does.
        let listed = api.get(&format!("/firmwares/{fw_id}/deltas")).await?;
        for d in listed["items"].as_array().into_iter().flatten() {
            let src = d["src_version"].as_str().unwrap_or_default();
            let row = b.text(&format!("#deltas tr[data-src='{src}']")).await?;
            let format = d["format"].as_u64().unwrap_or_default();
            assert!(format >= 4, "{d}");
            assert!(row.contains(&format!("v{format}")), "{row} / {d}");
            assert!(d["apply_memory"].as_u64().unwrap_or_default() > 0, "{d}");
        }
        b.shot("21-package-deltas").await?;
        anyhow::Ok(())
    }
    .await;
    b.close().await;
    result
}
