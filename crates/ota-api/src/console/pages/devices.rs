//! A product's devices: search by name prefix, register one, import many from a CSV file,
//! and one device's detail (module versions, connection, task history).

use super::products::refused;
use super::{device_certificates, device_identity, page_of};
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, badge, csrf, enc, field, time, time_opt};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Multipart, Path, Query, State};
use axum::response::IntoResponse;
use maud::{Markup, html};
use ota_core::TaskFilter;
use ota_domain::registry::Device;
use ota_domain::validate::parse_device_list_csv;
use ota_domain::{DeviceKey, ProductKey};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<i64>,
}

/// Which form a refusal belongs to.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Which {
    Register,
    Import,
}

const PAGE: i64 = 25;

/// Disabled by an operator, else online now (gateway memory), else offline if it ever
/// connected, else never activated.
pub fn presence(c: &Console, d: &Device) -> &'static str {
    let key = DeviceKey::new(d.product_key.as_str(), d.device_name.as_str());
    if d.disabled {
        "DISABLE"
    } else if c.app.core.registry().is_online(&key) {
        "ONLINE"
    } else if d.last_online_at.is_some() {
        "OFFLINE"
    } else {
        "UNACTIVE"
    }
}

async fn render(
    c: &Console,
    ctx: &Ctx,
    pk: &str,
    q: &ListQuery,
    form: &FormData,
    err: Option<(Which, &FormError)>,
) -> PageResult<Markup> {
    let product = super::product(c, pk).await?;
    let (page, paging) = page_of(q.page, PAGE);
    let prefix = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let (devices, total) = c
        .app
        .core
        .registry()
        .list_devices(Some(&product.product_key), prefix, paging)
        .await?;
    let base = format!("/console/products/{}", enc(pk));
    let certificates = device_certificates::card(c, ctx, &product).await?;
    let reg_err = err.filter(|(w, _)| *w == Which::Register).map(|(_, e)| e);
    let imp_err = err.filter(|(w, _)| *w == Which::Import).map(|(_, e)| e);
    let body = html! {
        h1 { "Devices" }
        div.split {
            section.card.grow {
                form.search role="search" method="get" action=(base) {
                    label for="q" { "Search by device name prefix" }
                    input #q type="search" name="q" value=[prefix] placeholder="e.g. lamp-00";
                    button type="submit" { "Search" }
                }
                @if devices.is_empty() { p.muted { @if prefix.is_some() { "No device matches." } @else { "No device yet." } } }
                @else {
                    table #devices {
                        thead { tr { th scope="col" { "Device name" } th scope="col" { "State" } th scope="col" { "Last online" } th scope="col" { "Registered" } th scope="col" { span.sr-only { "Disable or enable" } } } }
                        tbody {
                            @for d in &devices {
                                tr {
                                    td { a href={ (base) "/devices/" (enc(d.device_name.as_str())) } { (d.device_name) } }
                                    td { (badge(presence(c, d))) }
                                    td { (time_opt(d.last_online_at)) }
                                    td { (time(d.created_at)) }
                                    td { (device_identity::toggle(ctx, d, false)) }
                                }
                            }
                        }
                    }
                }
                (layout::pager(&match prefix { Some(p) => format!("{base}?q={}", enc(p)), None => base.clone() }, page, PAGE, total))
            }
            div.side {
                (device_identity::registration_card(ctx, &product))
                (certificates)
                @if ctx.may_on_product("iot:BatchRegisterDevice", pk) { section.card {
                    h2 { "Register a device" }
                    (layout::error_summary(reg_err))
                    form method="post" action={ (base) "/devices" } data-validate {
                        (csrf(ctx))
                        (field("Device name", "device_name", "DeviceName", reg_err, Some("4-32 characters of letters, digits and - _ @ . : (blank: generated)"),
                            html! { input #device_name name="device_name" minlength="4" maxlength="32" pattern="[A-Za-z0-9_@.:\\-]{4,32}" value=[form.get("device_name")]
                                data-msg="must be 4-32 characters of letters, digits and '-', '_', '@', '.', ':'"; }))
                        button.primary type="submit" { "Register" }
                    }
                }
                section.card {
                    h2 { "Import from CSV" }
                    (layout::error_summary(imp_err))
                    form method="post" action={ (base) "/devices/import" } enctype="multipart/form-data" data-validate {
                        (csrf(ctx))
                        (field("CSV file, one device name per line", "device_file", "DeviceName", imp_err, Some("Up to 10,000 names; an optional DeviceName header line."),
                            html! { input #device_file type="file" name="file" accept=".csv,text/csv,text/plain" required data-msg="choose a CSV file"; }))
                        p.hint { a href="/console/device-list-template.csv" download { "Download the template" } }
                        button.primary type="submit" { "Import devices" }
                    }
                } }
            }
        }
    };
    Ok(layout::page(
        ctx,
        &format!("Devices of {}", product.product_name),
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Devices,
        },
        body,
    ))
}

/// `GET /console/products/{pk}`: the device list.
pub async fn list(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult<Markup> {
    render(&c, &ctx, &pk, &q, &FormData::default(), None).await
}

/// `POST /console/products/{pk}/devices`: registers one device.
pub async fn register(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let names = [form.text("device_name")];
    match c
        .app
        .core
        .registry()
        .register_devices(&ProductKey(pk.clone()), &names)
        .await
    {
        Ok(devices) => {
            let name = devices
                .first()
                .map(|d| d.device_name.to_string())
                .unwrap_or_default();
            Ok(redirect_with(
                &format!("/console/products/{}/devices/{}", enc(&pk), enc(&name)),
                &format!("Device {name} registered."),
            ))
        }
        Err(e) => {
            let mut err = FormError::from(e);
            if err.is_for("DeviceName") {
                err.field = Some("DeviceName".to_owned());
            }
            let page = render(
                &c,
                &ctx,
                &pk,
                &ListQuery::default(),
                &form,
                Some((Which::Register, &err)),
            )
            .await?;
            Ok(refused(page))
        }
    }
}

/// `POST /console/products/{pk}/devices/import`: registers every name of a CSV file,
/// all or nothing.
pub async fn import(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let result = async {
        let form = FormData::multipart(multipart).await?;
        let (_, _, bytes) = form.file("file").ok_or_else(|| FormError {
            field: Some("DeviceName".into()),
            message: "choose a CSV file".into(),
        })?;
        let text = std::str::from_utf8(bytes).map_err(|_| FormError {
            field: Some("DeviceName".into()),
            message: "the file must be UTF-8 text".into(),
        })?;
        let names = parse_device_list_csv(text).map_err(|e| FormError {
            field: Some("DeviceName".into()),
            message: e.message,
        })?;
        let names: Vec<Option<String>> = names.into_iter().map(Some).collect();
        Ok::<_, FormError>(
            c.app
                .core
                .registry()
                .register_devices(&ProductKey(pk.clone()), &names)
                .await?
                .len(),
        )
    }
    .await;
    match result {
        Ok(n) => Ok(redirect_with(
            &format!("/console/products/{}", enc(&pk)),
            &format!("Imported {n} devices."),
        )),
        Err(err) => {
            let page = render(
                &c,
                &ctx,
                &pk,
                &ListQuery::default(),
                &FormData::default(),
                Some((Which::Import, &err)),
            )
            .await?;
            Ok(refused(page).into_response())
        }
    }
}

#[derive(Deserialize)]
pub struct DetailQuery {
    page: Option<i64>,
}

/// `GET /console/products/{pk}/devices/{dn}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path((pk, dn)): Path<(String, String)>,
    Query(q): Query<DetailQuery>,
) -> PageResult<Markup> {
    let product = super::product(&c, &pk).await?;
    let key = DeviceKey::new(pk.as_str(), dn.as_str());
    let detail = c.app.core.registry().device_detail(&key).await?;
    let (page, paging) = page_of(q.page, 20);
    let filter = TaskFilter {
        device: Some(key),
        ..TaskFilter::default()
    };
    let (tasks, total) = c.app.core.jobs().list_tasks(&filter, paging).await?;
    let d = &detail.device;
    let body = html! {
        h1 { "Device " (d.device_name) }
        div.split {
            section.card.grow {
                h2 { "Reported module versions" }
                @if detail.versions.is_empty() { p.muted { "The device has not reported a version yet." } }
                @else {
                    table #versions {
                        thead { tr { th scope="col" { "Module" } th scope="col" { "Version" } th scope="col" { "Reported" } } }
                        tbody { @for v in &detail.versions { tr { td { (v.module_name) } td { code { (v.version) } } td { (time(v.reported_at)) } } } }
                    }
                }
                h2 { "Task history" }
                @if tasks.is_empty() { p.muted { "No update task yet." } }
                @else {
                    table #history {
                        thead { tr { th scope="col" { "Batch" } th scope="col" { "Module" } th scope="col" { "From → to" } th scope="col" { "Status" } th scope="col" { "Updated" } } }
                        tbody {
                            @for t in &tasks {
                                tr {
                                    td { a href={ "/console/batches/" (enc(t.job_id.as_str())) } { code { (t.job_id) } } }
                                    td { (t.module_name) }
                                    td { (t.src_version.as_deref().unwrap_or("unreported")) " → " (t.dest_version) }
                                    td { (badge(t.status.as_str())) }
                                    td { (time(t.modified_at)) }
                                }
                            }
                        }
                    }
                    (layout::pager(&format!("/console/products/{}/devices/{}", enc(&pk), enc(&dn)), page, 20, total))
                }
            }
            section.card.side {
                h2 { "Identity" }
                dl.props {
                    dt { "State" } dd { (badge(presence(&c, d))) }
                    dt { "IotId" } dd { code { (d.iot_id) } }
                    dt { "ProductKey" } dd { code { (d.product_key) } }
                    dt { "Last online" } dd { (time_opt(d.last_online_at)) }
                    dt { "Registered" } dd { (time(d.created_at)) }
                    dt { "Dynamic registration" } dd {
                        @match &d.registration {
                            Some(r) => { code { (r.method.as_str()) } " " (time(r.registered_at)) }
                            None => span.muted { "none" },
                        }
                    }
                    dt { "Tags" } dd { @if d.tags.is_empty() { span.muted { "none" } } @for (k, v) in &d.tags { span.tag { (k) "=" (v) } " " } }
                }
                @if ctx.caller.may_read_secrets(&pk) {
                    details #device-secret {
                        summary { "Show the device secret" }
                        p { code.secret { (d.device_secret) } }
                    }
                }
                p { (device_identity::toggle(&ctx, d, true)) " " (device_identity::reset_button(&ctx, d)) }
            }
        }
    };
    Ok(layout::page(
        &ctx,
        &format!("Device {}", d.device_name),
        Nav::Product {
            pk: &pk,
            name: &product.product_name,
            tab: Tab::Devices,
        },
        body,
    ))
}
