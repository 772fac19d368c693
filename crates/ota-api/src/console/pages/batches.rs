//! One batch: its settings, counts by state, the device list (paged, filterable by state),
//! and the operator's controls — cancel the batch (per-state choices; a dynamic batch can
//! also just stop adding devices), change the rate and tags while it runs, and act on
//! single tasks. The page subscribes to `live` for updates while the batch runs.

use super::batch_params::{tag_rows, tags};
use super::batch_view::{TaskCommands, counts_block, label, status_only, task_row};
use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, badge, csrf, enc, field, time, time_opt};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, Query, State};
use maud::{Markup, html};
use ota_domain::job::{
    CancelOptions, GateAction, Job, JobEvent, JobType, PauseReason, RateUpdate, SelectionType,
    TargetSelection,
};
use ota_domain::task::TaskStatus;
use ota_domain::validate;
use ota_domain::{DomainError, JobId};
use serde::Deserialize;

/// Rows per page of the device list.
pub const ROWS: i64 = 50;

#[derive(Deserialize, Default, Clone)]
pub struct DetailQuery {
    pub status: Option<String>,
    pub page: Option<i64>,
}

impl DetailQuery {
    /// The state filter, if it names a state.
    pub fn status(&self) -> Option<TaskStatus> {
        self.status.as_deref().and_then(TaskStatus::parse)
    }

    /// The states the device list shows (all when empty).
    pub fn statuses(&self) -> Vec<TaskStatus> {
        self.status().into_iter().collect()
    }
}

fn target(job: &Job) -> String {
    match &job.target_selection {
        TargetSelection::All => "all devices".to_owned(),
        TargetSelection::Specific { device_names } => {
            format!("{} selected devices", device_names.len())
        }
        TargetSelection::Gray { milli_percent } => format!(
            "{}% of devices",
            validate::format_gray_percent(*milli_percent)
        ),
        TargetSelection::Group { group_id } => format!("group {group_id}"),
    }
}

/// Which control a refusal belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Cancel,
    Edit,
}

async fn render(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    q: &DetailQuery,
    form: &FormData,
    err: Option<(Which, &FormError)>,
) -> PageResult<Markup> {
    let core = &c.app.core;
    let job_id = JobId(id.to_owned());
    let job = core.jobs().get(&job_id).await?;
    let counts = status_only(core.tasks().job_status_counts(&job_id).await?);
    let f = core.firmwares().get(&job.firmware_id).await?;
    let product = core.registry().product(&job.product_key).await?;
    let (page, paging) = super::page_of(q.page, ROWS);
    let tasks = core
        .tasks()
        .job_task_page(&job_id, &q.statuses(), paging)
        .await?;
    let total = q.status().map_or(counts.total, |s| counts.status(s));
    let base = format!("/console/batches/{}", enc(id));
    let list_base = match q.status() {
        Some(s) => format!("{base}?status={}", s.as_str()),
        None => base.clone(),
    };
    let cancel_err = err.filter(|(w, _)| *w == Which::Cancel).map(|(_, e)| e);
    let edit_err = err.filter(|(w, _)| *w == Which::Edit).map(|(_, e)| e);
    let running = !job.status.is_terminal();
    let kind = if job.job_type == JobType::VerifyFirmware {
        "Verification"
    } else if job.selection_type == SelectionType::Dynamic {
        "Dynamic batch"
    } else {
        "Static batch"
    };
    let p = &job.policy;
    let pk = job.product_key.as_str();
    let may = |action: &str| ctx.may_on_product(action, pk);
    let commands = TaskCommands::of(ctx, pk);
    let body = html! {
        div.heading {
            h1 { (kind) " " code { (job.job_id) } }
            span #job-status data-live-badge="job_status" { (badge(job.status.as_str())) }
        }
        p.lead { "Package " a href={ "/console/packages/" (enc(f.firmware_id.as_str())) } { (f.firmware_name) } " → " strong { (f.dest_version) } " on " (target(&job)) "." }
        @if job.awaits_approval() {
            div.alert #job-approval role="status" {
                strong { "Awaiting approval" }
                " No device is pushed until someone allowed to approve it does. Since "
                (time(job.control.pause.map_or(job.created_at, |p| p.at))) "."
                @if may("iot:ApproveOTAJob") || may("iot:DenyOTAJob") {
                    form.approval method="post" action={ (base) "/approval" } {
                        (csrf(ctx))
                        label for="remark" { "Remark" }
                        input #remark name="remark" maxlength="512";
                        @if may("iot:ApproveOTAJob") {
                            button.primary type="submit" name="decision" value="approve" { "Approve" }
                        }
                        @if may("iot:DenyOTAJob") {
                            button.danger type="submit" name="decision" value="deny" { "Deny" }
                        }
                    }
                }
            }
        } @else if let Some(pause) = job.control.pause {
            div.alert #job-paused role="status" {
                strong { "Paused" }
                @match pause.reason {
                    PauseReason::FailureGate => " by its failure gate: too many devices failed. ",
                    PauseReason::Operator | PauseReason::AwaitingApproval => " by an operator. ",
                }
                "No new device is pushed; devices already told go on. Since " (time(pause.at)) "."
                @if may("iot:ResumeOTAJob") {
                    form.resume method="post" action={ (base) "/resume" } {
                        (csrf(ctx))
                        button.primary type="submit" { "Resume" }
                    }
                }
            }
        }
        @if let Some(decision) = &job.control.approval {
            p.muted #job-decision {
                @if decision.approved { "Approved" } @else { "Denied" }
                " by " strong { (decision.by) } " at " (time(decision.at))
                @if !decision.remark.is_empty() { ": " (decision.remark) }
            }
        }
        (counts_block(&base, &job, &counts))
        div.split {
            section.card.grow #devices data-live-src={ (base) "/live" @if let Some(s) = q.status() { "?status=" (s.as_str()) "&page=" (page) } @else { "?page=" (page) } } {
                h2 { "Devices" }
                nav.filters aria-label="Filter by state" {
                    a href=(base) aria-current=[q.status().is_none().then_some("page")] { "All" }
                    @for s in TaskStatus::ALL {
                        a href={ (base) "?status=" (s.as_str()) } aria-current=[(q.status() == Some(s)).then_some("page")] { (label(s)) }
                    }
                }
                @if commands.any() {
                    form #tasks-form method="post" action={ (base) "/tasks" } {
                        (csrf(ctx))
                        input type="hidden" name="back" value=(list_base);
                    }
                }
                @if tasks.is_empty() { p.muted { "No device in this state." } }
                @else {
                    table #task-table {
                        thead { tr {
                            th scope="col" { span.sr-only { "Select" } }
                            th scope="col" { "Device" } th scope="col" { "Version" } th scope="col" { "State" }
                            th scope="col" { "Why / progress" } th scope="col" { "Updated" } th scope="col" { span.sr-only { "Actions" } }
                        } }
                        tbody { @for t in &tasks { (task_row(c, &job, t, commands)) } }
                    }
                    @if commands.any() {
                        div.bulk {
                            span { "With the selected devices: " }
                            @if commands.confirm { button type="submit" form="tasks-form" name="action" value="bulk-confirm" { "Confirm" } }
                            @if commands.reupgrade { button type="submit" form="tasks-form" name="action" value="bulk-reupgrade" { "Re-upgrade" } }
                            @if commands.cancel { button.danger type="submit" form="tasks-form" name="action" value="bulk-cancel" { "Cancel" } }
                        }
                    }
                    (layout::pager(&list_base, page, ROWS, total))
                }
            }
            div.side {
                section.card {
                    h2 { "Settings" }
                    dl.props {
                        dt { "Created" } dd { (time(job.created_at)) }
                        @if let Some(c) = job.creation {
                            dt { "Tasks" } dd #job-creation {
                                @if c.is_running() { "being created: " (c.created) " so far; nothing is pushed until all are" }
                                @else { (c.created) " created" @if c.skipped_busy > 0 { ", " (c.skipped_busy) " devices busy" } @if c.overwritten > 0 { ", " (c.overwritten) " overridden" } }
                            }
                        }
                        dt { "Started" } dd { (time_opt(job.started_at)) }
                        dt { "Finished" } dd { (time_opt(job.finished_at)) }
                        dt { "Schedule" } dd { (time_opt(p.schedule_time)) @if let Some(e) = p.schedule_finish_time { " until " (time(e)) } }
                        dt { "Source versions" } dd { @if job.src_versions.is_empty() { "any" } @else { (job.src_versions.join(", ")) } }
                        dt { "Push rate" } dd #job-rate { (p.maximum_per_minute) " / minute" }
                        dt { "Retry" } dd { @match p.retry { Some(r) => { (r.count) " × after " (r.interval_minutes) " min" }, None => "none" } }
                        dt { "Timeout" } dd { @match p.timeout_minutes { Some(m) => { (m) " min" }, None => "none" } }
                        dt { "Failure gate" } dd #job-gate { @match p.failure_gate {
                            Some(g) => { (if g.action == GateAction::Pause { "pause" } else { "cancel" }) " above " (g.max_failed_percent) "% failed, after " (g.min_finished) " finished" },
                            None => "none",
                        } }
                        dt { "Options" } dd {
                            (if p.need_push { "push" } else { "devices ask" })
                            @if p.need_confirm { ", app confirmation" }
                            @if p.overwrite_mode == ota_domain::job::OverwriteMode::Overwrite { ", overrides previous tasks" }
                            @if p.dynamic_mode == Some(ota_domain::job::DynamicMode::OnlyNewReports) { ", only new reports" }
                        }
                        dt { "Tags" } dd #job-tags { @if job.tags.is_empty() { span.muted { "none" } } @for (k, v) in &job.tags { span.tag { (k) "=" (v) } " " } }
                    }
                }
                @if running && job.job_type == JobType::UpgradeFirmware && may("iot:UpdateOTAJob") {
                    section.card {
                        h2 { "Change rate and tags" }
                        (layout::error_summary(edit_err))
                        form #edit-form method="post" action={ (base) "/edit" } data-validate {
                            (csrf(ctx))
                            (field("Push rate (devices per minute)", "edit_rate", "MaximumPerMinute", edit_err, Some("10-10000"),
                                html! { input #edit_rate type="number" name="maximum_per_minute" min="10" max="10000" required data-msg="must be 10-10000"
                                    value=(form.get("maximum_per_minute").map_or(p.maximum_per_minute.to_string(), str::to_owned)); }))
                            @let current = if form.pairs.is_empty() { FormData::new(job.tags.iter().flat_map(|(k, v)| [("tag_key".to_owned(), k.clone()), ("tag_value".to_owned(), v.clone())]).collect()) } else { form.clone() };
                            (tag_rows(&current, edit_err))
                            button.primary type="submit" { "Save changes" }
                        }
                    }
                }
                @if running && !job.is_paused() && job.job_type == JobType::UpgradeFirmware && may("iot:PauseOTAJob") {
                    section.card {
                        h2 { "Pause the batch" }
                        p.muted { "Stops pushing new devices; devices already told go on." }
                        form #pause-form method="post" action={ (base) "/pause" } {
                            (csrf(ctx))
                            button type="submit" { "Pause" }
                        }
                    }
                }
                @if running && !job.is_creating() && may("iot:CancelOTAJob") {
                    section.card {
                        h2 { "Cancel the batch" }
                        (layout::error_summary(cancel_err))
                        form #cancel-form method="post" action={ (base) "/cancel" } data-confirm="Cancel this batch?" {
                            (csrf(ctx))
                            @if job.selection_type == SelectionType::Dynamic {
                                div.choices.column {
                                    label { input type="radio" name="mode" value="strategy" checked; " Stop adding devices; let started tasks finish" }
                                    label { input type="radio" name="mode" value="cancel"; " Cancel the batch and the tasks chosen below" }
                                }
                            } @else { input type="hidden" name="mode" value="cancel"; }
                            fieldset.field.invalid[cancel_err.is_some()] data-param="CancelQueuedTask" {
                                legend { "Cancel tasks that are" }
                                div.choices.column {
                                    label { input type="checkbox" name="cancel_queued" value="1" checked; " to be pushed" }
                                    label { input type="checkbox" name="cancel_unconfirmed" value="1" checked; " waiting for confirmation" }
                                    label { input type="checkbox" name="cancel_scheduled" value="1" checked; " waiting for the schedule" }
                                    label { input type="checkbox" name="cancel_notified" value="1"; " pushed (the device may still update)" }
                                    label { input type="checkbox" name="cancel_in_progress" value="1"; " updating" }
                                }
                            }
                            button.danger type="submit" { "Cancel batch" }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        ctx,
        &format!("Batch {}", job.job_id),
        Nav::Product {
            pk: job.product_key.as_str(),
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

/// `GET /console/batches/{id}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult<Markup> {
    render(&c, &ctx, &id, &q, &FormData::default(), None).await
}

/// `POST /console/batches/{id}/cancel`.
pub async fn cancel(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let job_id = JobId(id.clone());
    let result = if form.get("mode") == Some("strategy") {
        c.app
            .core
            .jobs()
            .apply_event(&job_id, JobEvent::StrategyCanceled)
            .await
            .map_err(FormError::from)
    } else {
        let flag = |k: &str| Some(form.flag(k));
        match CancelOptions::from_params(
            flag("cancel_in_progress"),
            flag("cancel_queued"),
            flag("cancel_notified"),
            flag("cancel_scheduled"),
            flag("cancel_unconfirmed"),
        ) {
            Ok(options) => c
                .app
                .core
                .jobs()
                .cancel(&job_id, options)
                .await
                .map_err(FormError::from),
            Err(e) => Err(e.into()),
        }
    };
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/console/batches/{}", enc(&id)),
            "Batch cancelled.",
        )),
        Err(err) => Ok(refused(
            render(
                &c,
                &ctx,
                &id,
                &DetailQuery::default(),
                &FormData::default(),
                Some((Which::Cancel, &err)),
            )
            .await?,
        )),
    }
}

/// `POST /console/batches/{id}/pause`.
pub async fn pause(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c.app.core.jobs().pause(&JobId(id.clone())).await;
    pause_or_resume(
        &c,
        &ctx,
        &id,
        result.map_err(FormError::from),
        "Batch paused.",
    )
    .await
}

/// `POST /console/batches/{id}/approval`: approve or deny (`decision`) with a remark.
pub async fn approval(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let approved = form.get("decision") == Some("approve");
    let result = c
        .app
        .core
        .jobs()
        .decide_approval(
            &JobId(id.clone()),
            approved,
            &ctx.caller.principal.user_name,
            form.get("remark").unwrap_or_default(),
        )
        .await;
    let message = if approved {
        "Batch approved: devices are pushed now."
    } else {
        "Batch denied and cancelled."
    };
    pause_or_resume(&c, &ctx, &id, result.map_err(FormError::from), message).await
}

/// `POST /console/batches/{id}/resume`.
pub async fn resume(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c.app.core.jobs().resume(&JobId(id.clone())).await;
    pause_or_resume(
        &c,
        &ctx,
        &id,
        result.map_err(FormError::from),
        "Batch resumed.",
    )
    .await
}

async fn pause_or_resume(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    result: Result<Job, FormError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/console/batches/{}", enc(id)),
            done,
        )),
        Err(err) => Ok(refused(
            render(
                c,
                ctx,
                id,
                &DetailQuery::default(),
                &FormData::default(),
                Some((Which::Cancel, &err)),
            )
            .await?,
        )),
    }
}

/// `POST /console/batches/{id}/edit`: the push rate and the tags of a running batch.
pub async fn edit(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let job_id = JobId(id.clone());
    let result = async {
        let rate = validate::maximum_per_minute(Some(
            form.int("maximum_per_minute", "MaximumPerMinute")?
                .ok_or_else(|| DomainError::invalid("MaximumPerMinute", "is required"))?,
        ))?;
        let tags = validate::parse_tags("Tag", tags(&form))?;
        c.app
            .core
            .jobs()
            .apply_event(&job_id, JobEvent::UpdateRate(RateUpdate::Fixed(rate)))
            .await?;
        c.app
            .core
            .jobs()
            .apply_event(&job_id, JobEvent::UpdateTags(tags))
            .await?;
        Ok::<_, FormError>(())
    }
    .await;
    match result {
        Ok(()) => Ok(redirect_with(
            &format!("/console/batches/{}", enc(&id)),
            "Batch settings saved.",
        )),
        Err(err) => Ok(refused(
            render(
                &c,
                &ctx,
                &id,
                &DetailQuery::default(),
                &form,
                Some((Which::Edit, &err)),
            )
            .await?,
        )),
    }
}
