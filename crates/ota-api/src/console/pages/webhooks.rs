//! Webhook endpoints: register one, see each one's delivery log (status, attempts, last
//! answer), send it a test event, delete it. The signing secret is typed once and never
//! shown again.

use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, badge, csrf, enc, field, time, time_opt};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_core::NewWebhook;
use ota_core::webhooks::event_names;

/// Deliveries shown on an endpoint's page.
const LOG_ROWS: i64 = 100;

async fn render_list(
    c: &Console,
    ctx: &Ctx,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let hooks = c.app.core.webhooks().list().await?;
    let body = html! {
        h1 { "Webhooks" }
        div.split {
            section.card.grow {
                @if hooks.is_empty() {
                    p.muted { "No endpoint yet." }
                } @else {
                    table #webhooks {
                        thead { tr { th scope="col" { "Endpoint" } th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { "Added" } } }
                        tbody {
                            @for w in &hooks {
                                tr {
                                    td { a href={ "/console/webhooks/" (enc(&w.webhook_id)) } { (w.url) } }
                                    td { (event_names(w).join(", ")) }
                                    td { @if w.enabled { "on" } @else { "off" } }
                                    td { (time(w.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            section.card.side {
                h2 { "Add an endpoint" }
                (layout::error_summary(err))
                form method="post" action="/console/webhooks" {
                    (csrf(ctx))
                    (field("URL", "url", "url", err, Some("http:// or https://"),
                        html! { input #url name="url" type="url" required maxlength="2048" value=[form.get("url")]; }))
                    (field("Signing secret", "secret", "secret", err, Some("16-256 characters; shown nowhere after this"),
                        html! { input #secret name="secret" type="password" required minlength="16" maxlength="256" autocomplete="off"; }))
                    (field("Events", "events", "events", err, Some("comma-separated types, or * for all"),
                        html! { input #events name="events" value=(form.get("events").unwrap_or("*")); }))
                    button.primary type="submit" { "Add endpoint" }
                }
            }
        }
    };
    Ok(layout::page(ctx, "Webhooks", Nav::Webhooks, body))
}

/// `GET /console/webhooks`.
pub async fn list(State(c): State<Console>, Extension(ctx): Extension<Ctx>) -> PageResult<Markup> {
    render_list(&c, &ctx, &FormData::default(), None).await
}

/// `POST /console/webhooks`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let events: Vec<String> = form
        .get("events")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let new = NewWebhook {
        url: form.get("url").unwrap_or_default().trim().to_owned(),
        secret: form.get("secret").unwrap_or_default().to_owned(),
        events,
        description: None,
    };
    match c.app.core.webhooks().create(new).await {
        Ok(w) => Ok(redirect_with(
            &format!("/console/webhooks/{}", enc(&w.webhook_id)),
            "Endpoint added.",
        )),
        Err(e) => Ok(refused(
            render_list(&c, &ctx, &form, Some(&e.into())).await?,
        )),
    }
}

/// `GET /console/webhooks/{id}`: the endpoint and its latest deliveries.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    let hooks = c.app.core.webhooks();
    let w = hooks.get(&id).await?;
    let log = hooks.deliveries(&id, None, LOG_ROWS).await?;
    let base = format!("/console/webhooks/{}", enc(&id));
    let body = html! {
        p.crumbs { a href="/console/webhooks" { "Webhooks" } " / " code { (w.webhook_id) } }
        h1 { (w.url) }
        p { "Events: " (event_names(&w).join(", ")) " · " @if w.enabled { "on" } @else { "off" } }
        div.actions {
            form.inline method="post" action={ (base) "/test" } {
                (csrf(&ctx))
                button.primary type="submit" { "Send test event" }
            }
            form.inline method="post" action={ (base) "/delete" } data-confirm="Delete this endpoint and its delivery log?" {
                (csrf(&ctx))
                button.danger type="submit" { "Delete" }
            }
        }
        section.card {
            h2 { "Deliveries" }
            @if log.is_empty() {
                p.muted { "Nothing sent yet." }
            } @else {
                table #deliveries {
                    thead { tr { th scope="col" { "Event" } th scope="col" { "Batch" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Next attempt" } th scope="col" { "Time" } } }
                    tbody {
                        @for d in &log {
                            tr {
                                td { code { (d.event_type) } }
                                td { @if !d.ordering_key.is_empty() { a href={ "/console/batches/" (enc(&d.ordering_key)) } { (d.ordering_key) } } }
                                td { (badge(d.status.as_str())) }
                                td { (d.attempts) }
                                td {
                                    @if let Some(s) = d.last_status { "HTTP " (s) }
                                    @if let Some(e) = &d.last_error { " " span.muted { (e) } }
                                }
                                td { @if d.status == ota_core::DeliveryStatus::Pending { (time(d.next_attempt_at)) } @else { (time_opt(None)) } }
                                td { (time(d.event_time)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&ctx, "Webhook", Nav::Webhooks, body))
}

/// `POST /console/webhooks/{id}/test`.
pub async fn test(State(c): State<Console>, Path(id): Path<String>) -> PageResult {
    c.app.core.webhooks().send_test(&id).await?;
    Ok(redirect_with(
        &format!("/console/webhooks/{}", enc(&id)),
        "Test event queued.",
    ))
}

/// `POST /console/webhooks/{id}/delete`.
pub async fn delete(State(c): State<Console>, Path(id): Path<String>) -> PageResult {
    c.app.core.webhooks().delete(&id).await?;
    Ok(redirect_with("/console/webhooks", "Endpoint deleted."))
}
