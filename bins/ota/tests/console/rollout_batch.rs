//! The batch part of the rollout: the wizard, the live batch page while simulated devices
//! succeed and fail, single-device re-upgrade and cancel, a rate change, the batch cancel
//! and the charts.

use crate::browser::Browser;

pub async fn run_batch(b: &Browser, pk: &str, package: &str) -> anyhow::Result<()> {
    b.goto(&format!("/console/packages/{package}")).await?;
    b.click("a.button.primary[href$='/batches/new']").await?;
    b.find("#batch-form").await?;
    b.shot("09-wizard").await?;

    // Bad values are explained next to their fields before anything is sent.
    b.fill("#max_rate", "5").await?;
    b.find("#retry_interval option[value='30']")
        .await?
        .click()
        .await?;
    b.fill("#timeout_minutes", "20").await?;
    b.js("const s = document.getElementById('schedule_time'); const d = new Date(Date.now() + 60000); \
          d.setMinutes(d.getMinutes() - d.getTimezoneOffset()); s.value = d.toISOString().slice(0, 16);")
        .await?;
    b.click("input[name=target][value=GRAY]").await?;
    b.fill("#gray_percent", "0").await?;
    b.click("#batch-form button[type=submit]").await?;
    b.wait_text(
        "[data-param=MaximumPerMinute] .field-error",
        "must be 10-10000",
    )
    .await?;
    b.wait_text(
        "[data-param=RetryInterval] .field-error",
        "less than TimeoutInMinutes",
    )
    .await?;
    b.wait_text("[data-param=ScheduleTime] .field-error", "now+5 minutes")
        .await?;
    b.wait_text("[data-param=GrayPercent] .field-error", "above 0")
        .await?;
    assert!(
        b.path().await?.ends_with("/batches/new"),
        "nothing was sent"
    );
    b.shot("10-wizard-errors").await?;

    // Valid options: all devices, a push rate, retry and timeout, override, a tag.
    b.js("document.getElementById('schedule_time').value = '';")
        .await?;
    b.click("input[name=target][value=ALL]").await?;
    b.fill("#max_rate", "600").await?;
    b.find("#retry_interval option[value='']")
        .await?
        .click()
        .await?;
    b.fill("#timeout_minutes", "60").await?;
    b.click("input[name=overwrite]").await?;
    b.fill("#tag-key-0", "wave").await?;
    b.fill("#tag-value-0", "one").await?;
    b.click("#batch-form button[type=submit]").await?;
    b.wait_text(".flash", "Batch created").await?;
    let batch = b.path().await?;
    b.wait_text("#job-tags", "wave=one").await?;

    // Live: the page is never reloaded while devices update, succeed and fail.
    b.js("window.__notReloaded = true;").await?;
    b.wait_js(
        "a live update",
        "Number(document.body.dataset.liveUpdates || 0) >= 1",
    )
    .await?;
    b.wait_js(
        "5 successes and 2 failures",
        "Number(document.querySelector('[data-live=SUCCEEDED]').textContent) >= 5 && \
         Number(document.querySelector('[data-live=FAILED]').textContent) >= 2",
    )
    .await?;
    b.shot("11-batch-live").await?;
    assert_eq!(
        b.js("return window.__notReloaded === true").await?,
        true,
        "updated in place"
    );
    assert!(
        b.live("q_offline").await? >= 2,
        "the two devices that never connect wait offline"
    );
    b.wait_text("#task-table", "offline").await?;

    // Filter by state, then re-upgrade one failed device.
    b.click("nav.filters a[href$='status=FAILED']").await?;
    b.wait_js("only failed rows", "[...document.querySelectorAll('#task-table tbody tr')].every(r => r.dataset.status === 'FAILED')").await?;
    let failed = b.count("#task-table tbody tr").await?;
    assert_eq!(failed, 2, "two devices fail");
    b.click("#task-table tbody tr:first-child button[value^='reupgrade:']")
        .await?;
    b.wait_text(".flash", "Re-upgrade requested for").await?;
    b.shot("12-batch-failed-filter").await?;

    // Cancel one device that waits offline.
    b.goto(&format!("{batch}?status=QUEUED")).await?;
    b.wait_text("#task-table", "offline").await?;
    b.click("#task-table tbody tr:first-child button[value^='cancel:']")
        .await?;
    b.wait_text(".flash", "Cancelled lamp-").await?;

    // Change the push rate and the tags of the running batch.
    b.goto(&batch).await?;
    b.fill("#edit_rate", "3").await?;
    b.click("#edit-form button[type=submit]").await?;
    b.wait_text(
        "[data-param=MaximumPerMinute] .field-error",
        "must be 10-10000",
    )
    .await?;
    b.fill("#edit_rate", "300").await?;
    b.fill("#edit-form input[name=tag_value]", "two").await?;
    b.click("#edit-form button[type=submit]").await?;
    b.wait_text(".flash", "Batch settings saved").await?;
    b.wait_text("#job-rate", "300 / minute").await?;
    b.wait_text("#job-tags", "wave=two").await?;

    // Pause it (a banner says so, with a way back) and resume it.
    b.click("#pause-form button[type=submit]").await?;
    b.wait_text(".flash", "Batch paused").await?;
    b.wait_text("#job-paused", "by an operator").await?;
    b.click("#job-paused form.resume button").await?;
    b.wait_text(".flash", "Batch resumed").await?;
    b.find("#pause-form").await?;

    // Cancel the batch: the remaining waiting device is cancelled with it.
    b.click("#cancel-form button[type=submit]").await?;
    b.client.accept_alert().await?;
    b.wait_text(".flash", "Batch cancelled").await?;
    b.wait_text("#job-status", "CANCELED").await?;
    assert_eq!(b.live("QUEUED").await?, 0, "nothing waits any more");
    assert!(b.live("CANCELED").await? >= 2);
    b.shot("13-batch-cancelled").await?;
    csv_batch_with_confirmation(b, package).await?;

    // The charts and their numbers.
    b.goto(&format!("/console/products/{pk}/analysis")).await?;
    b.find("svg#chart-versions rect.c0").await?;
    b.find("svg#chart-packages rect.ok").await?;
    b.find("svg#chart-batches rect.bad").await?;
    let versions = b.text("#versions-table").await?;
    assert!(
        versions.contains("2.0.0") && versions.contains("1.0.0"),
        "{versions}"
    );
    let packages = b.text("#packages-table").await?;
    assert!(
        packages.contains("lamp-fw-2") && packages.contains('%'),
        "{packages}"
    );
    b.shot("14-analysis").await?;
    b.goto("/console").await?;
    b.shot("15-overview").await?;
    Ok(())
}

/// Selected devices from an uploaded CSV, with app confirmation: the tasks wait in CONFIRM
/// until one is confirmed from its row.
async fn csv_batch_with_confirmation(b: &Browser, package: &str) -> anyhow::Result<()> {
    b.goto(&format!("/console/packages/{package}/batches/new"))
        .await?;
    b.click("input[name=target][value=SPECIFIC]").await?;
    b.click("input[name=specific_by][value=csv]").await?;
    b.find("a[href='/console/device-list-template.csv']")
        .await?;
    let csv = tempfile::NamedTempFile::with_suffix(".csv")?;
    std::fs::write(csv.path(), "DeviceName\nlamp-0009\nlamp-0010\n")?;
    b.find("#batch_csv")
        .await?
        .send_keys(&csv.path().display().to_string())
        .await?;
    b.click("input[name=need_confirm]").await?;
    b.click("#batch-form button[type=submit]").await?;
    b.wait_text(".flash", "Batch created: 2 tasks").await?;
    b.wait_js(
        "two tasks to confirm",
        "document.querySelector('[data-live=CONFIRM]').textContent === '2'",
    )
    .await?;
    b.click("#task-table tbody tr:first-child button[value^='confirm:']")
        .await?;
    b.wait_text(".flash", "Confirmed lamp-0009").await?;
    b.wait_text("#task-table tbody tr:first-child", "offline")
        .await?;
    assert_eq!(b.live("CONFIRM").await?, 1);
    b.shot("13b-batch-confirm").await?;
    Ok(())
}
