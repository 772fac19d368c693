//! The live parts of a batch page, rendered the same way on first load and in the live
//! stream: the counts (from one aggregate query, never from rows) and one device row.
//! Elements carry `data-live` keys so `console.js` can update them in place.

use crate::console::Console;
use crate::console::layout::{badge, enc, time};
use crate::console::session::Ctx;
use maud::{Markup, html};
use ota_core::JobCounts;
use ota_domain::DeviceKey;
use ota_domain::job::Job;
use ota_domain::task::{QueuedReason, Task, TaskStatus};
use serde_json::{Value, json};

/// Counts from the by-state aggregate alone; the reason breakdown stays empty until the
/// live stream brings it.
pub fn status_only(by_status: std::collections::HashMap<TaskStatus, i64>) -> JobCounts {
    JobCounts {
        total: by_status.values().sum(),
        by_status,
        ..JobCounts::default()
    }
}

/// Counts as the live stream sends them: `{key: number}` for every `data-live` element.
/// The reasons why tasks wait are included when `detailed` (they cost a larger query).
pub fn counts_json(job: &Job, c: &JobCounts, detailed: bool) -> Value {
    let mut v = serde_json::Map::new();
    for s in TaskStatus::ALL {
        v.insert(s.as_str().to_owned(), json!(c.status(s)));
    }
    v.insert("total".into(), json!(c.total));
    if detailed {
        v.insert("q_offline".into(), json!(c.queued.offline));
        v.insert("q_scheduled".into(), json!(c.queued.scheduled));
        v.insert("q_rate_limited".into(), json!(c.queued.rate_limited));
        v.insert("q_retry".into(), json!(c.queued.retry_scheduled));
        v.insert("q_pull".into(), json!(c.queued.awaiting_pull));
    }
    v.insert("success_rate".into(), json!(success_rate(c)));
    v.insert("job_status".into(), json!(job.status.as_str()));
    Value::Object(v)
}

/// Succeeded over finished tasks, as a percentage text.
pub fn success_rate(c: &JobCounts) -> String {
    let ok = c.status(TaskStatus::Succeeded);
    let done = ok + c.status(TaskStatus::Failed) + c.status(TaskStatus::Canceled);
    if done == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", ok as f64 * 100.0 / done as f64)
    }
}

/// The CSS class of a status' colour.
fn tone(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Succeeded => "ok",
        TaskStatus::Failed | TaskStatus::Canceled => "bad",
        TaskStatus::InProgress | TaskStatus::Notified => "busy",
        TaskStatus::Queued | TaskStatus::Confirm => "wait",
    }
}

/// Cards of tasks by state (each links to the filtered list), the queue reasons (filled in
/// by the live stream), and a stacked bar.
pub fn counts_block(base: &str, job: &Job, c: &JobCounts) -> Markup {
    let v = counts_json(job, c, false);
    let pct = |s: TaskStatus| {
        if c.total > 0 {
            c.status(s) as f64 * 100.0 / c.total as f64
        } else {
            0.0
        }
    };
    html! {
        section.card #counts aria-label="Tasks by state" {
            div.stackbar role="img" aria-label="Share of tasks by state" {
                @for s in TaskStatus::ALL {
                    span class={ "seg " (tone(s)) " s-" (s.as_str()) } data-live-width=(s.as_str()) style={ "width:" (format!("{:.2}", pct(s))) "%" } {}
                }
            }
            div.cards.counts {
                div.stat { span.n data-live="total" { (c.total) } span.l { "devices" } }
                @for s in TaskStatus::ALL {
                    a class={ "stat " (tone(s)) } href={ (base) "?status=" (s.as_str()) } {
                        span.n data-live=(s.as_str()) { (v[s.as_str()]) }
                        span.l { (label(s)) }
                    }
                }
                div.stat { span.n data-live="success_rate" { (success_rate(c)) } span.l { "success rate" } }
            }
            p.reasons {
                strong { "To be pushed: " }
                span { span data-live="q_offline" { "…" } " offline" } " · "
                span { span data-live="q_scheduled" { "…" } " scheduled" } " · "
                span { span data-live="q_rate_limited" { "…" } " rate-limited" } " · "
                span { span data-live="q_retry" { "…" } " waiting to retry" } " · "
                span { span data-live="q_pull" { "…" } " waiting for the device to ask" }
            }
        }
    }
}

/// A state as people say it.
pub fn label(s: TaskStatus) -> &'static str {
    match s {
        TaskStatus::Confirm => "to be confirmed",
        TaskStatus::Queued => "to be pushed",
        TaskStatus::Notified => "pushed",
        TaskStatus::InProgress => "updating",
        TaskStatus::Succeeded => "succeeded",
        TaskStatus::Failed => "failed",
        TaskStatus::Canceled => "cancelled",
    }
}

/// Why a task is where it is: for "to be pushed", offline, scheduled (with the time) or
/// rate-limited; progress while updating; the reason of a failure or cancel.
fn reason(c: &Console, job: &Job, t: &Task) -> Markup {
    match t.status {
        TaskStatus::Queued => match t.queued_reason {
            Some(QueuedReason::Scheduled) => {
                html! { "scheduled for " @if let Some(at) = job.policy.schedule_time { (time(at)) } }
            }
            Some(QueuedReason::RetryScheduled) => {
                html! { "retry at " @if let Some(at) = t.retry_at { (time(at)) } }
            }
            Some(QueuedReason::AwaitingPull) => html! { "waiting for the device to ask" },
            _ => {
                let key = DeviceKey::new(t.product_key.as_str(), t.device_name.as_str());
                if c.app.core.registry().is_online(&key) {
                    html! { "rate-limited" }
                } else {
                    html! { "offline" }
                }
            }
        },
        TaskStatus::Confirm => html! { "waiting for confirmation" },
        TaskStatus::Notified => html! { "pushed; waiting for the device" },
        TaskStatus::InProgress => html! {
            progress max="100" value=(t.progress) aria-label={ "Progress of " (t.device_name) } { (t.progress) "%" }
            " " (t.progress) "%"
        },
        TaskStatus::Succeeded => html! { "now at " (t.dest_version) },
        TaskStatus::Failed => html! {
            (t.failure.map_or("", |f| f.as_str()).replace('_', " ").to_lowercase())
            @if let Some(d) = &t.desc { ": " (d) }
        },
        TaskStatus::Canceled => {
            html! { (t.cancel_reason.map_or("", |r| r.as_str()).replace('_', " ").to_lowercase()) }
        }
    }
}

/// The commands on single tasks the viewer may give in a batch (their RAM actions, on the
/// batch's product), so that rows offer only those.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCommands {
    pub confirm: bool,
    pub cancel: bool,
    pub reupgrade: bool,
}

impl TaskCommands {
    /// What `ctx`'s user may do to tasks of product `pk`.
    pub fn of(ctx: &Ctx, pk: &str) -> TaskCommands {
        TaskCommands {
            confirm: ctx.may_on_product("iot:ConfirmOTATask", pk),
            cancel: ctx.may_on_product("iot:CancelOTATask", pk),
            reupgrade: ctx.may_on_product("iot:ReupgradeOTATask", pk),
        }
    }

    /// Whether any command is allowed (rows then have a selection box).
    pub fn any(&self) -> bool {
        self.confirm || self.cancel || self.reupgrade
    }
}

/// One device row; its buttons submit the page's task form.
pub fn task_row(c: &Console, job: &Job, t: &Task, may: TaskCommands) -> Markup {
    let id = t.task_id.as_str();
    let unfinished = !t.status.is_terminal();
    // A cancelled batch refuses re-upgrades, so none is offered.
    let again = matches!(t.status, TaskStatus::Failed | TaskStatus::Canceled)
        && job.status != ota_domain::job::JobStatus::Canceled;
    html! {
        tr id={ "t-" (id) } data-status=(t.status.as_str()) {
            td {
                @if may.any() {
                    input type="checkbox" name="task" value=(id) form="tasks-form" id={ "sel-" (id) } aria-label={ "Select " (t.device_name) };
                }
            }
            td { a href={ "/console/products/" (enc(t.product_key.as_str())) "/devices/" (enc(t.device_name.as_str())) } { (t.device_name) } }
            td { (t.src_version.as_deref().unwrap_or("unreported")) " → " (t.dest_version) }
            td.status { (badge(t.status.as_str())) }
            td.reason { (reason(c, job, t)) }
            td { (time(t.modified_at)) }
            td.row-actions {
                @if may.confirm && t.status == TaskStatus::Confirm {
                    button type="submit" form="tasks-form" name="action" value={ "confirm:" (id) } aria-label={ "Confirm " (t.device_name) } { "Confirm" }
                }
                @if may.cancel && unfinished {
                    button.danger type="submit" form="tasks-form" name="action" value={ "cancel:" (id) } aria-label={ "Cancel " (t.device_name) } { "Cancel" }
                }
                @if may.reupgrade && again {
                    button type="submit" form="tasks-form" name="action" value={ "reupgrade:" (id) } aria-label={ "Re-upgrade " (t.device_name) } { "Re-upgrade" }
                }
            }
        }
    }
}
