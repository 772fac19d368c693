//! The new-package form: every CreateOTAFirmware parameter (full or differential, module,
//! versions, sign method, verification, Udi, one file or several), validated by
//! `ota_domain::validate::NewFirmware` so refusals read as on the APIs, plus the earlier
//! versions to generate deltas from. Files are uploaded first (with a progress bar) and
//! the form carries their references.

use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, csrf, enc, field};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_domain::ProductKey;
use ota_domain::validate::{MultiFileInput, NewFirmware, delta_sources};

use super::package_deltas::versions;

async fn render(
    c: &Console,
    ctx: &Ctx,
    pk: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let product = super::product(c, pk).await?;
    let modules = c
        .app
        .core
        .registry()
        .list_modules(&product.product_key)
        .await?;
    let diff = form.get("type") == Some("1");
    let sha = form.get("sign_method") == Some("SHA256");
    let verify = form.pairs.is_empty() || form.flag("need_to_verify");
    let multi = form.flag("multi");
    let max_mb = c.app.core.config().max_file_size / (1024 * 1024);
    // Both delta fields left empty: the server default applies.
    let default_latest = c.app.core.config().delta_from_latest;
    let latest_hint = format!(
        "0-10 most recent other versions of the module. Both fields empty: the server default ({default_latest})."
    );
    let body = html! {
        h1 { "Add a package" }
        (layout::error_summary(err))
        form #package-form.card method="post" action={ "/console/products/" (enc(pk)) "/packages" } data-validate novalidate {
            (csrf(ctx))
            div.grid2 {
                (field("Package name", "fw_name", "FirmwareName", err, Some("1-40 letters, digits, CJK, '-', '_', '(' and ')'; starts with a letter, digit or CJK"),
                    html! { input #fw_name name="name" required maxlength="40" value=[form.get("name")] pattern="[A-Za-z0-9\\u4e00-\\u9fff][A-Za-z0-9_\\(\\)\\-\\u4e00-\\u9fff\\u3040-\\u30ff]{0,39}"
                        data-msg="must be 1-40 characters of letters, digits, CJK, '-', '_', '(' and ')', starting with a letter, digit or CJK"; }))
                (field("OTA module", "fw_module", "ModuleName", err, None, html! {
                    select #fw_module name="module_name" {
                        @for m in &modules {
                            option value=(m.module_name) selected[form.get("module_name") == Some(m.module_name.as_str())] {
                                (m.module_name) @if let Some(a) = &m.alias_name { " (" (a) ")" }
                            }
                        }
                    }
                }))
            }
            fieldset {
                legend { "Package type" }
                div.choices data-switch="type" {
                    label { input type="radio" name="type" value="0" checked[!diff]; " Full package" }
                    label { input type="radio" name="type" value="1" checked[diff]; " Differential (delta from one source version)" }
                }
            }
            div.grid2 {
                (field("Destination version", "fw_dest", "DestVersion", err, Some("1-64 characters of [A-Za-z0-9._-]"),
                    html! { input #fw_dest name="dest_version" required maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}" value=[form.get("dest_version")] data-msg="must be 1-64 characters of [A-Za-z0-9._-]"; }))
                div #full-only data-when="type=0" hidden[diff] {
                    (field("Generate deltas from", "fw_delta_versions", "delta_from_versions", err, Some("Optional: earlier versions of the module (full packages), separated by commas."),
                        html! { input #fw_delta_versions name="delta_from_versions" value=[form.get("delta_from_versions")]; }))
                    (field("… and from the latest versions", "fw_delta_latest", "delta_from_latest", err, Some(latest_hint.as_str()),
                        html! { input #fw_delta_latest type="number" name="delta_from_latest" min="0" max="10" value=[form.get("delta_from_latest")] placeholder=(default_latest) data-msg="must be 0-10"; }))
                }
                div #diff-only data-when="type=1" hidden[!diff] {
                    (field("Source version", "fw_src", "SrcVersion", err, Some("Required for a differential package; must differ from the destination."),
                        html! { input #fw_src name="src_version" maxlength="64" pattern="[A-Za-z0-9._\\-]{1,64}" required value=[form.get("src_version")]
                            data-msg="is required for a differential package: 1-64 characters of [A-Za-z0-9._-]" data-differs="fw_dest"; }))
                }
            }
            div.grid2 {
                (field("Signature algorithm", "fw_sign_method", "SignMethod", err, None, html! {
                    select #fw_sign_method name="sign_method" {
                        option value="MD5" selected[!sha] { "MD5" }
                        option value="SHA256" selected[sha] { "SHA256" }
                    }
                }))
                (field("Description", "fw_desc", "FirmwareDesc", err, Some("At most 100 characters."),
                    html! { input #fw_desc name="description" maxlength="100" value=[form.get("description")]; }))
            }
            div.choices {
                label { input type="checkbox" name="need_to_verify" value="1" checked[verify]; " Verify on test devices before batches may use it" }
            }
            (field("Udi (optional)", "fw_udi", "Udi", err, Some("Free text delivered to devices, at most 4,096 characters."),
                html! { textarea #fw_udi name="udi" rows="2" maxlength="4096" { (form.get("udi").unwrap_or_default()) } }))
            fieldset #files {
                legend { "Files" }
                div.choices {
                    label { input #fw_multi type="checkbox" name="multi" value="1" checked[multi]; " Multi-file package (MultiFiles, up to 20 files)" }
                }
                (field("Package file", "fw_file", "FirmwareUrl", err.filter(|e| !e.is_for("MultiFiles")),
                    Some(&format!("bin, dav, apk, tar, gz, tar.gz, zip or gzip; at most {max_mb} MB each. Uploads start when chosen.")),
                    html! { input #fw_file type="file" multiple[multi] data-upload="/console/uploads/" accept=".bin,.dav,.apk,.tar,.gz,.zip,.gzip"
                        data-msg="upload a package file"; }))
                div #upload-list aria-live="polite" {
                    @for (i, url) in form.all("file_url").iter().enumerate() {
                        @let name = form.all("file_name").get(i).cloned().unwrap_or_default();
                        div.upload.done {
                            input type="hidden" name="file_url" value=(url);
                            label { "Name " input name="file_name" value=(name) maxlength="32"; }
                            span.muted { (url) }
                        }
                    }
                }
                @if let Some(e) = err.filter(|e| e.is_for("MultiFiles")) { p.field-error { (e.summary()) } }
                (field("Expected signature (optional)", "fw_sign", "FirmwareSign", err, Some("Single file only: the file's digest in the chosen algorithm, checked against the upload."),
                    html! { input #fw_sign name="sign" maxlength="64" pattern="[0-9a-fA-F]{32}|[0-9a-fA-F]{64}" value=[form.get("sign")] data-msg="must be a hex MD5 (32) or SHA256 (64) digest"; }))
            }
            div.actions {
                button.primary #fw_submit type="submit" { "Create package" }
                a href={ "/console/products/" (enc(pk)) "/packages" } { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        ctx,
        "Add a package",
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

/// `GET /console/products/{pk}/packages/new`.
pub async fn new_form(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &pk, &FormData::default(), None).await
}

/// The raw CreateOTAFirmware request of the form.
fn request(form: &FormData) -> Result<NewFirmware, FormError> {
    let urls = form.all("file_url");
    let names = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "file_name")
        .map(|(_, v)| v.trim().to_owned())
        .collect::<Vec<_>>();
    let multi = form.flag("multi");
    if urls.is_empty() {
        return Err(FormError {
            field: Some("FirmwareUrl".into()),
            message: "upload a package file".into(),
        });
    }
    if !multi && urls.len() > 1 {
        return Err(FormError {
            field: Some("FirmwareUrl".into()),
            message: "tick multi-file to use several files".into(),
        });
    }
    Ok(NewFirmware {
        firmware_name: form.text("name"),
        dest_version: form.text("dest_version"),
        src_version: if form.get("type") == Some("1") {
            form.text("src_version")
        } else {
            None
        },
        firmware_type: form.int("type", "Type")?,
        firmware_desc: form.text("description"),
        module_name: form.text("module_name"),
        firmware_url: (!multi).then(|| urls[0].clone()),
        firmware_size: None,
        firmware_sign: if multi {
            None
        } else {
            form.text("sign").map(|s| s.to_ascii_lowercase())
        },
        sign_method: form.text("sign_method"),
        need_to_verify: Some(form.flag("need_to_verify")),
        udi: form.text("udi"),
        multi_files: if multi {
            urls.iter()
                .enumerate()
                .map(|(i, u)| MultiFileInput {
                    name: names.get(i).cloned().filter(|n| !n.is_empty()),
                    url: Some(u.clone()),
                    ..MultiFileInput::default()
                })
                .collect()
        } else {
            Vec::new()
        },
    })
}

/// `POST /console/products/{pk}/packages`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let result = async {
        let spec = request(&form)?.validate()?;
        let full = form.get("type") != Some("1");
        let sources = delta_sources(
            &spec,
            if full {
                versions(form.get("delta_from_versions"))
            } else {
                Vec::new()
            },
            if full {
                form.int("delta_from_latest", "delta_from_latest")?
            } else {
                None
            },
        )?;
        Ok::<_, FormError>(
            c.app
                .core
                .deltas()
                .create_firmware_with_deltas(&ProductKey(pk.clone()), spec, sources)
                .await?,
        )
    }
    .await;
    match result {
        Ok((f, _)) => Ok(redirect_with(
            &format!("/console/packages/{}", enc(f.firmware_id.as_str())),
            &format!("Package {} created.", f.firmware_name),
        )),
        Err(err) => Ok(refused(render(&c, &ctx, &pk, &form, Some(&err)).await?)),
    }
}
