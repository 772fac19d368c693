//! The batch wizard: every option of CreateOTAStaticUpgradeJob and
//! CreateOTADynamicUpgradeJob on one form, in steps. `console.js` shows only the inputs of
//! the chosen kind and target and explains a bad value next to its field before the form
//! is sent; the server then maps the inputs of the chosen target to the raw request and
//! the domain validates it, so the rules and messages are the APIs'.

use super::batch_params::{
    device_picker, push_fields, schedule_ms, src_versions, src_versions_picker, tag_rows,
    upgrade_params,
};
use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, csrf, enc, field};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Multipart, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use maud::{Markup, html};
use ota_core::Page;
use ota_core::{JobRequest, UploadPurpose};
use ota_domain::FirmwareId;
use ota_domain::registry::GroupKind;
use ota_domain::validate::{
    DynamicJobRequest, MAX_DEVICE_LIST_NAMES, MAX_TARGET_DEVICE_NAMES, StaticJobRequest,
};

fn radio(name: &str, value: &str, current: &str, label: &str) -> Markup {
    html! { label { input type="radio" name=(name) value=(value) checked[current == value]; " " (label) } }
}

async fn render(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let core = &c.app.core;
    let f = core.firmwares().get(&FirmwareId(id.to_owned())).await?;
    let product = core.registry().product(&f.product_key).await?;
    let pk = f.product_key.as_str();
    let known = core
        .registry()
        .version_distribution(&f.product_key, &f.module_name)
        .await?;
    let known: Vec<(String, i64)> = known
        .into_iter()
        .filter(|(v, _)| *v != f.dest_version)
        .collect();
    let (groups, _) = core
        .registry()
        .list_groups(Some(&f.product_key), Page::new(0, 200))
        .await?;
    let kind = form.get("kind").unwrap_or("static");
    let target = form.get("target").unwrap_or("ALL");
    let by = form.get("specific_by").unwrap_or("pick");
    let dyn_target = form.get("dyn_target").unwrap_or("versions");
    let fresh = form.pairs.is_empty();
    let show = |on: bool| !on;
    let body = html! {
        h1 { "New update batch" }
        p.lead { "Package " strong { (f.firmware_name) } " updates module " code { (f.module_name) } " to " strong { (f.dest_version) } "." }
        (layout::error_summary(err))
        form #batch-form method="post" action={ "/console/packages/" (enc(id)) "/batches" } enctype="multipart/form-data" data-validate novalidate data-now=(core.now()) {
            (csrf(ctx))
            section.card.step {
                h2 { span.num { "1" } " Kind" }
                div.choices data-switch="kind" {
                    (radio("kind", "static", kind, "Static: the devices chosen now"))
                    @if ctx.may_on_product("iot:CreateOTADynamicUpgradeJob", pk) {
                        (radio("kind", "dynamic", kind, "Dynamic: also devices that report a matching version later"))
                    }
                }
            }
            section.card.step {
                h2 { span.num { "2" } " Devices" }
                div data-when="kind=static" hidden[show(kind == "static")] {
                    div.choices data-switch="target" {
                        (radio("target", "ALL", target, "All devices"))
                        (radio("target", "SPECIFIC", target, "Selected devices"))
                        (radio("target", "GRAY", target, "Phased: a percentage"))
                        (radio("target", "GROUP", target, "A group"))
                    }
                    div data-when="target=SPECIFIC" hidden[show(target == "SPECIFIC")] {
                        div.choices data-switch="specific_by" {
                            (radio("specific_by", "pick", by, "Pick from the list"))
                            (radio("specific_by", "csv", by, "Upload a CSV of device names"))
                        }
                        div data-when="specific_by=pick" hidden[show(by == "pick")] {
                            (device_picker(c, pk, "batch_devices", "TargetDeviceName", MAX_TARGET_DEVICE_NAMES, &form.all("device_names"), err).await?)
                        }
                        div data-when="specific_by=csv" hidden[show(by == "csv")] {
                            (field("Device list (CSV)", "batch_csv", "DnListFileUrl", err, Some(&format!("One device name per line, at most {MAX_DEVICE_LIST_NAMES} names and 5 MB.")),
                                html! { input #batch_csv type="file" name="device_csv" accept=".csv,text/csv,text/plain" required data-msg="choose a CSV file"; }))
                            p.hint { a href="/console/device-list-template.csv" download { "Download the CSV template" } }
                        }
                    }
                    div data-when="target=GRAY" hidden[show(target == "GRAY")] {
                        (field("Share of devices (%)", "gray_percent", "GrayPercent", err, Some("Above 0 and at most 100, up to 3 decimals; e.g. 10 or 33.333."),
                            html! { input #gray_percent name="gray_percent" inputmode="decimal" required pattern="(100(\\.0{1,3})?|[0-9]{1,2}(\\.[0-9]{1,3})?)" data-positive
                                value=[form.get("gray_percent")] data-msg="must be a percentage above 0 and at most 100 with at most 3 decimals"; }))
                    }
                    div data-when="target=GROUP" hidden[show(target == "GROUP")] {
                        (field("Group", "group_static", "GroupId", err, None, html! {
                            select #group_static name="group_id" required data-msg="choose a group" {
                                option value="" { "— choose —" }
                                @for g in groups.iter().filter(|g| matches!(g.kind, GroupKind::Static)) {
                                    option value=(g.group_id) selected[form.get("group_id") == Some(g.group_id.as_str())] { (g.group_name) }
                                }
                            }
                        }))
                    }
                    div data-when="target=ALL,GRAY" hidden[show(target == "ALL" || target == "GRAY")] {
                        (src_versions_picker("src_static", &known, form, err, false))
                    }
                }
                div data-when="kind=dynamic" hidden[show(kind == "dynamic")] {
                    div.choices data-switch="dyn_target" {
                        (radio("dyn_target", "versions", dyn_target, "Devices at chosen source versions"))
                        (radio("dyn_target", "group", dyn_target, "A dynamic group"))
                    }
                    div data-when="dyn_target=versions" hidden[show(dyn_target == "versions")] {
                        (src_versions_picker("src_dynamic", &known, form, err, true))
                    }
                    div data-when="dyn_target=group" hidden[show(dyn_target == "group")] {
                        (field("Dynamic group", "group_dynamic", "GroupId", err, None, html! {
                            select #group_dynamic name="dyn_group_id" required data-msg="choose a dynamic group" {
                                option value="" { "— choose —" }
                                @for g in groups.iter().filter(|g| matches!(g.kind, GroupKind::Dynamic { .. })) {
                                    option value=(g.group_id) selected[form.get("dyn_group_id") == Some(g.group_id.as_str())] { (g.group_name) }
                                }
                            }
                        }))
                    }
                    div.choices {
                        label { input type="checkbox" name="only_new" value="1" checked[form.flag("only_new")]; " Only devices that newly report versions (DynamicMode 2)" }
                    }
                }
            }
            section.card.step data-when="kind=static" hidden[show(kind == "static")] {
                h2 { span.num { "3" } " Schedule" }
                p.hint { "Leave empty to start now. A start must be 5 minutes to 7 days ahead; an end 1 hour to 30 days after the start (or now)." }
                div.grid2 {
                    (field("Start", "schedule_time", "ScheduleTime", err, None,
                        html! { input #schedule_time type="datetime-local" name="schedule_time" value=[form.get("schedule_time")] data-epoch="schedule_time_ms" data-check="schedule-start"
                            data-msg="must be from now+5 minutes to now+7 days"; }))
                    (field("End (optional)", "schedule_finish_time", "ScheduleFinishTime", err, None,
                        html! { input #schedule_finish_time type="datetime-local" name="schedule_finish_time" value=[form.get("schedule_finish_time")] data-epoch="schedule_finish_time_ms" data-check="schedule-end"
                            data-msg="must be from the start (or now) +1 hour to +30 days"; }))
                }
                input type="hidden" name="schedule_time_ms";
                input type="hidden" name="schedule_finish_time_ms";
            }
            section.card.step {
                h2 { span.num { "4" } " Rollout" }
                div.grid3 {
                    (push_fields(form, err))
                    (field("Maintenance window: opens at (cron, optional)", "window_cron", "MaintenanceWindows.1.Cron", err, Some("Five fields, e.g. 0 2 * * * for 02:00 every day; devices are started only inside the window."),
                        html! { input #window_cron name="window_cron" placeholder="0 2 * * *" value=[form.get("window_cron")]; }))
                    (field("…for (minutes)", "window_minutes", "MaintenanceWindows.1.DurationMinutes", err, Some("1-10080."),
                        html! { input #window_minutes type="number" name="window_minutes" min="1" max="10080" value=[form.get("window_minutes")] data-msg="must be 1-10080"; }))
                    (field("…in time zone", "window_zone", "MaintenanceWindows.1.TimeZone", err, Some("IANA name, e.g. Europe/Berlin; default UTC."),
                        html! { input #window_zone name="window_zone" placeholder="UTC" value=[form.get("window_zone")]; }))
                    (field("Ramp: start at (devices a minute, optional)", "ramp_base", "ExponentialRate.BaseRatePerMinute", err, Some("1-10000; the rate then grows up to the maximum above."),
                        html! { input #ramp_base type="number" name="ramp_base" min="1" max="10000" value=[form.get("ramp_base")] data-msg="must be 1-10000"; }))
                    (field("…multiplied by", "ramp_factor", "ExponentialRate.IncrementFactor", err, Some("1.1-5."),
                        html! { input #ramp_factor type="number" name="ramp_factor" min="1.1" max="5" step="0.001" value=[form.get("ramp_factor")] data-msg="must be 1.1-5"; }))
                    (field("…every (devices)", "ramp_every", "ExponentialRate.IncreaseCriteria", err, Some("1-1000000 devices notified or succeeded."), html! {
                        input #ramp_every type="number" name="ramp_every" min="1" max="1000000" value=[form.get("ramp_every")] data-msg="must be 1-1000000";
                        select #ramp_on name="ramp_on" aria-label="counted as" {
                            option value="notified" { "notified" }
                            option value="succeeded" selected[form.get("ramp_on") == Some("succeeded")] { "succeeded" }
                        }
                    }))
                    (field("Download protocol", "download_protocol", "DownloadProtocol", err, Some("MQTT carries single files up to 16 MB."), html! {
                        select #download_protocol name="download_protocol" {
                            option value="HTTPS" { "HTTPS" }
                            option value="MQTT" selected[form.get("download_protocol") == Some("MQTT")] { "MQTT" }
                        }
                    }))
                }
                div.choices.column {
                    label { input type="checkbox" name="need_push" value="1" checked[fresh || form.flag("need_push")]; " Push the update to devices (otherwise devices ask for it)" }
                    label { input type="checkbox" name="overwrite" value="1" checked[form.flag("overwrite")]; " Override previous unfinished tasks of the module (OverwriteMode 2)" }
                    label { input type="checkbox" name="multi_module" value="1" checked[form.flag("multi_module")]; " Multi-module mode" }
                    label { input type="checkbox" name="need_confirm" value="1" checked[form.flag("need_confirm")]; " Require confirmation in the app before a device updates" }
                    label { input type="checkbox" name="approval_required" value="1" checked[form.flag("approval_required")]; " Require approval before any device is pushed" }
                }
                @if let Some(e) = err.filter(|e| e.is_for("OverwriteMode") || e.is_for("DynamicMode") || e.is_for("FirmwareId")) { p.field-error { (e.summary()) } }
            }
            section.card.step {
                h2 { span.num { "5" } " Tags" }
                (tag_rows(form, err))
            }
            div.actions {
                button.primary type="submit" { "Create batch" }
                a href={ "/console/packages/" (enc(id)) } { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        ctx,
        "New update batch",
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

/// `GET /console/packages/{id}/batches/new`.
pub async fn form(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &id, &FormData::default(), None).await
}

/// The raw request of the chosen kind and target; a device-list CSV is stored first so
/// the core reads it like an uploaded `DnListFileUrl`.
async fn request(c: &Console, form: &FormData) -> Result<JobRequest, FormError> {
    let params = upgrade_params(form)?;
    if form.get("kind") == Some("dynamic") {
        let by_group = form.get("dyn_target") == Some("group");
        return Ok(JobRequest::Dynamic(DynamicJobRequest {
            src_versions: if by_group {
                Vec::new()
            } else {
                src_versions(form)
            },
            group_id: if by_group {
                form.text("dyn_group_id")
            } else {
                None
            },
            group_type: by_group.then(|| "LINK_PLATFORM_DYNAMIC".to_owned()),
            dynamic_mode: Some(if form.flag("only_new") { 2 } else { 1 }),
            params,
        }));
    }
    let target = form.get("target").unwrap_or("ALL");
    let mut r = StaticJobRequest {
        target_selection: Some(target.to_owned()),
        schedule_time: schedule_ms(form, "schedule_time", "ScheduleTime")?,
        schedule_finish_time: schedule_ms(form, "schedule_finish_time", "ScheduleFinishTime")?,
        params,
        ..StaticJobRequest::default()
    };
    match target {
        "ALL" => r.src_versions = src_versions(form),
        "GRAY" => {
            r.src_versions = src_versions(form);
            r.gray_percent = form.text("gray_percent");
        }
        "GROUP" => {
            r.group_id = form.text("group_id");
            r.group_type = Some("LINK_PLATFORM".to_owned());
        }
        "SPECIFIC" if form.get("specific_by") == Some("csv") => {
            let (_, _, bytes) = form.file("device_csv").ok_or_else(|| FormError {
                field: Some("DnListFileUrl".into()),
                message: "choose a CSV file".into(),
            })?;
            let grant = c
                .app
                .core
                .firmwares()
                .grant_upload(UploadPurpose::DeviceList)
                .await?;
            let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes.clone())]);
            let file = c
                .app
                .core
                .firmwares()
                .receive_granted_upload(
                    &grant.key,
                    grant.expires_at,
                    (grant.min_size, grant.max_size),
                    body,
                )
                .await?;
            r.dn_list_file_url = Some(file.key);
        }
        _ => r.target_device_names = form.all("device_names"),
    }
    Ok(JobRequest::Static(r))
}

/// `POST /console/packages/{id}/batches`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> PageResult {
    let form = match FormData::multipart(multipart).await {
        Ok(f) => f,
        Err(e) => {
            return Ok(refused(
                render(&c, &ctx, &id, &FormData::default(), Some(&e)).await?,
            ));
        }
    };
    let result = async {
        let request = request(&c, &form).await?;
        Ok::<_, FormError>(
            c.app
                .core
                .jobs()
                .create(&FirmwareId(id.clone()), None, request)
                .await?,
        )
    }
    .await;
    match result {
        Ok(job) => {
            let created = job.creation.unwrap_or_default();
            let flash = if job.is_creating() {
                format!(
                    "Batch created; its tasks are still being created ({} so far). \
                     Nothing is pushed until they all are.",
                    created.created
                )
            } else {
                format!(
                    "Batch created: {} tasks, {} devices busy with another task, {} tasks \
                     overridden.",
                    created.created, created.skipped_busy, created.overwritten
                )
            };
            Ok(redirect_with(
                &format!("/console/batches/{}", enc(job.job_id.as_str())),
                &flash,
            ))
        }
        Err(err) => Ok(refused(render(&c, &ctx, &id, &form, Some(&err)).await?)),
    }
}

/// `GET /console/device-list-template.csv`.
pub async fn template() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"device-list-template.csv\"",
            ),
        ],
        "DeviceName\ndevice-0001\ndevice-0002\n",
    )
}
