//! Packages of a product: the list, one package's details (with download links), its
//! deltas, its batches and rollouts, and verification on chosen devices.

use super::batch_params::device_picker;
use super::package_deltas;
use super::products::refused;
use super::rollout_view::package_rollouts;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, badge, csrf, enc, field, size, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, Query, State};
use maud::{Markup, html};
use ota_core::JobRequest;
use ota_core::Page;
use ota_domain::firmware::{Firmware, FirmwareStatus, FirmwareType};
use ota_domain::job::JobType;
use ota_domain::validate::VerifyJobRequest;
use ota_domain::{FirmwareId, ProductKey};
use serde::Deserialize;

pub use super::package_form::{create, new_form};

/// The status as the API spells it.
pub fn status_str(s: FirmwareStatus) -> &'static str {
    match s {
        FirmwareStatus::NotRequired => "NOT_REQUIRED",
        FirmwareStatus::Unverified => "UNVERIFIED",
        FirmwareStatus::Verified => "VERIFIED",
        FirmwareStatus::Verifying => "VERIFYING",
        FirmwareStatus::VerifyFailed => "VERIFY_FAILED",
    }
}

fn kind(f: &Firmware) -> &'static str {
    match f.firmware_type {
        FirmwareType::Full => "full",
        FirmwareType::Differential => "differential",
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    page: Option<i64>,
}

/// `GET /console/products/{pk}/packages`.
pub async fn list(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult<Markup> {
    let product = super::product(&c, &pk).await?;
    let (page, paging) = super::page_of(q.page, 20);
    let (items, total) = c
        .app
        .core
        .firmwares()
        .list(Some(&ProductKey(pk.clone())), None, paging)
        .await?;
    let body = html! {
        div.heading {
            h1 { "Packages" }
            @if ctx.may_on_product("iot:CreateOTAFirmware", &pk) {
                a.button.primary href={ "/console/products/" (enc(&pk)) "/packages/new" } { "Add a package" }
            }
        }
        section.card {
            @if items.is_empty() { p.muted { "No package yet." } }
            @else {
                table #packages {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Module" } th scope="col" { "Type" } th scope="col" { "Version" } th scope="col" { "Status" } th scope="col" { "Size" } th scope="col" { "Created" } } }
                    tbody {
                        @for f in &items {
                            tr {
                                td { a href={ "/console/packages/" (enc(f.firmware_id.as_str())) } { (f.firmware_name) } }
                                td { (f.module_name) }
                                td { (kind(f)) }
                                td { @if let Some(s) = &f.src_version { (s) " → " } (f.dest_version) }
                                td { (badge(status_str(f.status))) }
                                td.num { (size(f.files.iter().map(|x| x.size).sum())) }
                                td { (time(f.created_at)) }
                            }
                        }
                    }
                }
                (layout::pager(&format!("/console/products/{}/packages", enc(&pk)), page, 20, total))
            }
        }
    };
    Ok(layout::page(
        &ctx,
        "Packages",
        Nav::Product {
            pk: &pk,
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

pub(super) async fn render(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let core = &c.app.core;
    let f = core.firmwares().get(&FirmwareId(id.to_owned())).await?;
    let product = core.registry().product(&f.product_key).await?;
    let (jobs, _) = core
        .jobs()
        .of_firmware(&f.firmware_id, Page::new(0, 50))
        .await?;
    let deltas = core.deltas().list(&f.firmware_id).await?;
    let now = core.now();
    let pk = f.product_key.as_str();
    let rollouts = if ctx.may_on_product("iot:ListOTARollout", pk) {
        Some(
            core.rollouts()
                .of_firmware(&f.firmware_id, Page::new(0, 50))
                .await?
                .0,
        )
    } else {
        None
    };
    let mut urls = Vec::with_capacity(f.files.len());
    for file in &f.files {
        urls.push(core.delivery().download_url(file, now).await?);
    }
    let status = status_str(f.status);
    let verifiable = matches!(
        f.status,
        FirmwareStatus::Unverified | FirmwareStatus::VerifyFailed
    );
    let usable = f.status.allows_batches();
    let body = html! {
        div.heading {
            h1 { "Package " (f.firmware_name) }
            div.actions {
                @if usable && ctx.may_on_product("iot:CreateOTARollout", pk) { a.button href={ "/console/packages/" (enc(id)) "/rollouts/new" } { "New rollout" } }
                @if usable && ctx.may_on_product("iot:CreateOTAStaticUpgradeJob", pk) { a.button.primary href={ "/console/packages/" (enc(id)) "/batches/new" } { "New update batch" } }
            }
        }
        div.split {
            section.card.grow {
                h2 { "Details" }
                dl.props #package-props {
                    dt { "ID" } dd { code { (f.firmware_id) } }
                    dt { "Name" } dd { (f.firmware_name) }
                    dt { "Status" } dd #package-status { (badge(status)) @if f.status == FirmwareStatus::Verifying { " " (f.verify_progress) "%" } }
                    dt { "Module" } dd { (f.module_name) }
                    dt { "Type" } dd { (kind(&f)) }
                    dt { "Version" } dd { @if let Some(s) = &f.src_version { (s) " → " } strong { (f.dest_version) } }
                    dt { "Algorithm" } dd { (f.sign_method.api_literal()) }
                    dt { "Size" } dd { (size(f.files.iter().map(|x| x.size).sum())) }
                    dt { "Description" } dd { (f.firmware_desc.as_deref().unwrap_or("—")) }
                    dt { "Created" } dd { (time(f.created_at)) }
                }
                h2 { "Files" }
                table #files {
                    thead { tr { th scope="col" { "File" } th scope="col" { "Size" } th scope="col" { "Signature (" (f.sign_method.api_literal()) ")" } th scope="col" { "Download" } } }
                    tbody {
                        @for (file, url) in f.files.iter().zip(&urls) {
                            tr {
                                td { (file.name) }
                                td.num { (size(file.size)) }
                                td { code.digest { (file.sign_value) } }
                                td { a href=(url) download=(file.name) { "Download" } }
                            }
                        }
                    }
                }
                (package_deltas::section(ctx, &f, &deltas, form, err))
                h2 { "Batches" }
                @if jobs.is_empty() { p.muted { "No batch yet." } }
                @else {
                    table #batches {
                        thead { tr { th scope="col" { "Batch" } th scope="col" { "Kind" } th scope="col" { "Target" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                        tbody {
                            @for j in &jobs {
                                tr {
                                    td { a href={ "/console/batches/" (enc(j.job_id.as_str())) } { code { (j.job_id) } } }
                                    td { @if j.job_type == JobType::VerifyFirmware { "verify" } @else { (j.selection_type.as_str().to_ascii_lowercase()) } }
                                    td { (j.target_selection.as_str()) }
                                    td { (badge(j.status.as_str())) }
                                    td { (time(j.created_at)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(rollouts) = &rollouts { (package_rollouts(rollouts, now)) }
            }
            @if ctx.may_on_product("iot:CreateOTAVerifyJob", pk) { section.card.side {
                h2 { "Verify on test devices" }
                @if verifiable {
                    (layout::error_summary(err))
                    form #verify-form method="post" action={ "/console/packages/" (enc(id)) "/verify" } data-validate {
                        (csrf(ctx))
                        (device_picker(c, pk, "verify_devices", "TargetDeviceName", 10, &form.all("device_names"), err).await?)
                        (field("Timeout (minutes)", "verify_timeout", "TimeoutInMinutes", err, Some("1-1440; a device that has not finished by then fails."),
                            html! { input #verify_timeout type="number" name="timeout_minutes" min="1" max="1440" value=(form.get("timeout_minutes").unwrap_or("60"))
                                data-msg="must be 1-1440"; }))
                        button.primary type="submit" { "Start verification" }
                    }
                } @else {
                    p.muted { "This package is " (status.replace('_', " ").to_lowercase()) "; verification is not needed now." }
                }
            } }
        }
    };
    Ok(layout::page(
        ctx,
        &f.firmware_name,
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

/// `GET /console/packages/{id}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &id, &FormData::default(), None).await
}

/// `POST /console/packages/{id}/verify`: a verify batch on the chosen devices.
pub async fn verify(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let result = async {
        let request = VerifyJobRequest {
            target_device_names: form.all("device_names"),
            timeout_in_minutes: form.int("timeout_minutes", "TimeoutInMinutes")?,
            need_confirm: None,
            need_push: None,
            download_protocol: None,
            tags: Vec::new(),
        };
        Ok::<_, FormError>(
            c.app
                .core
                .jobs()
                .create(&FirmwareId(id.clone()), None, JobRequest::Verify(request))
                .await?,
        )
    }
    .await;
    match result {
        Ok(job) => Ok(redirect_with(
            &format!("/console/batches/{}", enc(job.job_id.as_str())),
            "Verification started.",
        )),
        Err(err) => Ok(refused(render(&c, &ctx, &id, &form, Some(&err)).await?)),
    }
}
