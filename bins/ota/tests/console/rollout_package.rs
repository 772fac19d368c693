//! The package part of the rollout: the form refuses bad input before sending, the file is
//! uploaded with a progress bar, and the package is verified on one chosen device.

use crate::browser::Browser;
use anyhow::Context;

/// The created package's id.
pub async fn upload_and_verify(b: &Browser, pk: &str) -> anyhow::Result<String> {
    b.goto(&format!("/console/products/{pk}/packages")).await?;
    b.click("a.button.primary").await?;
    b.find("#package-form").await?;
    // Nothing filled in: every problem is shown next to its field, nothing is sent.
    b.click("#fw_submit").await?;
    b.wait_text("[data-param=FirmwareName] .field-error", "1-40 characters")
        .await?;
    b.wait_text(
        "[data-param=FirmwareUrl] .field-error",
        "upload a package file",
    )
    .await?;
    // A differential package needs a source version different from the destination.
    b.click("input[name=type][value='1']").await?;
    b.fill("#fw_dest", "2.0.0").await?;
    b.fill("#fw_src", "2.0.0").await?;
    b.click("#fw_submit").await?;
    b.wait_text(
        "[data-param=SrcVersion] .field-error",
        "must differ from DestVersion",
    )
    .await?;
    b.shot("05-package-form-errors").await?;
    b.click("input[name=type][value='0']").await?;
    assert!(
        b.find("#fw_src").await?.attr("disabled").await?.is_some(),
        "hidden inputs are not sent"
    );

    b.fill("#fw_name", "lamp-fw-2").await?;
    b.fill("#fw_desc", "Brighter, fewer flickers").await?;
    let file = tempfile::Builder::new()
        .prefix("lamp-fw-")
        .suffix(".bin")
        .tempfile()?;
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(file.path(), &bytes)?;
    b.find("#fw_file")
        .await?
        .send_keys(&file.path().display().to_string())
        .await?;
    b.find("#upload-list .upload progress").await?;
    b.wait_js(
        "the upload to finish",
        "document.querySelector('#upload-list .upload.done input[name=file_url]')",
    )
    .await?;
    let state = b.text("#upload-list .upload .state").await?;
    assert!(
        state.contains("uploaded") && state.contains("3145728 bytes"),
        "{state}"
    );
    b.shot("06-package-uploaded").await?;
    b.click("#fw_submit").await?;
    b.wait_text(".flash", "Package lamp-fw-2 created").await?;
    let id = b
        .path()
        .await?
        .rsplit('/')
        .next()
        .context("package id")?
        .to_owned();
    let props = b.text("#package-props").await?;
    for expected in [
        "lamp-fw-2",
        "UNVERIFIED",
        "default",
        "2.0.0",
        "MD5",
        "3.0 MB",
        &id,
    ] {
        assert!(
            props.contains(expected),
            "package details show {expected}: {props}"
        );
    }
    let md5 = state
        .rsplit("MD5 ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert_eq!(md5.len(), 32, "{state}");
    assert!(
        b.text("#files").await?.contains(&md5),
        "the signature is the file's MD5"
    );
    let href = b
        .find("#files a[download]")
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    assert!(
        href.contains("/dl/uploads/") && href.contains("sig"),
        "signed download link: {href}"
    );

    // Verify on one chosen device, with a timeout.
    b.find("#verify_devices option[value='lamp-0001']")
        .await?
        .click()
        .await?;
    b.fill("#verify_timeout", "30").await?;
    b.click("#verify-form button[type=submit]").await?;
    b.wait_text(".flash", "Verification started").await?;
    b.wait_js(
        "the verify task to succeed",
        "document.querySelector('[data-live=SUCCEEDED]').textContent === '1'",
    )
    .await?;
    b.wait_text("#job-status", "COMPLETED").await?;
    b.shot("07-verify-batch").await?;
    b.goto(&format!("/console/packages/{id}")).await?;
    b.wait_text("#package-status", "VERIFIED").await?;
    b.shot("08-package-verified").await?;
    Ok(id)
}
