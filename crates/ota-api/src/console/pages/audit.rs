//! The audit log: who did what through which face, newest first, filtered by user, access
//! key, event, resource id and time; older pages by the log's keyset cursor, and the
//! matching events as CSV. Filters and paging are the native API's
//! (`GET /api/v1/audit-events`), so both read the same events the same way.

use super::batch_params::schedule_ms;
use crate::console::Console;
use crate::console::form::{ConsoleError, FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, enc, field, time};
use crate::console::session::Ctx;
use crate::handlers::audit::{AuditQuery, csv, next_token};
use axum::extract::{Extension, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use ota_core::{AuditEventRow, AuditFilter, MAX_AUDIT_PAGE};

/// Events per page.
const PAGE: i64 = 50;
/// The filter inputs, carried from page to page (with the times as the browser computed
/// them, `from_ms` and `to_ms`).
const FILTERS: [&str; 8] = [
    "user_name",
    "access_key_id",
    "event_name",
    "resource_id",
    "from",
    "to",
    "from_ms",
    "to_ms",
];

/// The store filter of a submitted filter form: `limit` events older than `next_token`.
/// Errors name the input (`start_time`, `end_time`, `next_token`).
fn filter_of(form: &FormData, limit: i64) -> Result<AuditFilter, FormError> {
    let query = AuditQuery {
        start_time: schedule_ms(form, "from", "start_time")?,
        end_time: schedule_ms(form, "to", "end_time")?,
        user_name: form.text("user_name"),
        access_key_id: form.text("access_key_id"),
        event_name: form.text("event_name"),
        resource_id: form.text("resource_id"),
        page_size: Some(limit),
        next_token: form.text("next_token"),
        format: None,
    };
    query.filter().map_err(|e| FormError {
        field: e.field,
        message: e.message,
    })
}

/// The filters as a query string (without the cursor), for the paging and CSV links.
fn filter_query(form: &FormData) -> String {
    FILTERS
        .iter()
        .filter_map(|k| form.get(k).map(|v| format!("{k}={}", enc(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn with_query(path: &str, query: &str, extra: Option<String>) -> String {
    let parts: Vec<String> = [Some(query.to_owned()), extra]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", parts.join("&"))
    }
}

fn result_badge(result: &str) -> Markup {
    let tone = if result == "Success" { "ok" } else { "bad" };
    html! { span class={ "badge " (tone) } { (result) } }
}

fn row(e: &AuditEventRow) -> Markup {
    html! {
        tr data-event=(e.event_name) data-result=(e.result) {
            td { (time(e.event_time)) }
            td { (e.user_name.as_deref().unwrap_or("—")) }
            td { @if let Some(k) = &e.access_key_id { code { (k) } } @else { span.muted { "—" } } }
            td { code { (e.event_name) } }
            td { (e.face) }
            td {
                (result_badge(&e.result))
                @if let Some(m) = &e.error_message { br; span.muted { (m) } }
            }
            td { @for (i, r) in e.resources.iter().enumerate() { @if i > 0 { " " } code { (r) } } }
            td { (e.source_ip.as_deref().unwrap_or("—")) }
            td {
                details {
                    summary { "Request" }
                    pre.document { (e.request_parameters) }
                    @if let Some(s) = &e.session_id { p.muted { "Session " code { (s) } } }
                    @if let Some(ua) = &e.user_agent { p.muted { (ua) } }
                }
            }
        }
    }
}

fn text_filter(label: &str, name: &str, form: &FormData, err: Option<&FormError>) -> Markup {
    let id = format!("audit_{name}");
    field(
        label,
        &id,
        name,
        err,
        None,
        html! { input id=(id) name=(name) value=[form.get(name)]; },
    )
}

fn time_filter(
    label: &str,
    name: &str,
    param: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> Markup {
    let id = format!("audit_{name}");
    html! {
        (field(label, &id, param, err, None,
            html! { input id=(id) type="datetime-local" name=(name) value=[form.get(name)] data-epoch={ (name) "_ms" }; }))
        // Filled by console.js from the input, in the viewer's time zone; without it the
        // time is read as UTC.
        input type="hidden" name={ (name) "_ms" } value="";
    }
}

/// `GET /console/audit`.
pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult<Response> {
    let form = FormData::new(pairs);
    let (events, next, err) = match filter_of(&form, PAGE) {
        Ok(filter) => {
            let rows = c.app.core.audit().list(&filter).await?;
            let next = next_token(&rows, filter.limit);
            (rows, next, None)
        }
        Err(err) => (Vec::new(), None, Some(err)),
    };
    let err = err.as_ref();
    let query = filter_query(&form);
    let paged = form.get("next_token").is_some();
    let body = html! {
        div.heading {
            h1 { "Audit log" }
            a.button #audit-csv href=(with_query("/console/audit.csv", &query, None)) download {
                "Download CSV"
            }
        }
        p.muted { "Denied calls and every change, through the APIs and the console, newest first. The CSV holds the newest " (MAX_AUDIT_PAGE) " matching events." }
        section.card {
            (layout::error_summary(err))
            form #audit-filters method="get" action="/console/audit" data-validate {
                div.grid3 {
                    (text_filter("User", "user_name", &form, err))
                    (text_filter("Access key ID", "access_key_id", &form, err))
                    (text_filter("Event name", "event_name", &form, err))
                    (text_filter("Resource id", "resource_id", &form, err))
                    (time_filter("From", "from", "start_time", &form, err))
                    (time_filter("Until", "to", "end_time", &form, err))
                }
                button.primary type="submit" { "Filter" }
                " "
                a href="/console/audit" { "Clear" }
            }
        }
        section.card {
            @if events.is_empty() { p.muted #no-events { "No event matches." } }
            @else {
                table #audit-events {
                    thead { tr {
                        th scope="col" { "Time" } th scope="col" { "User" } th scope="col" { "Access key" } th scope="col" { "Event" }
                        th scope="col" { "Face" } th scope="col" { "Result" } th scope="col" { "Resources" } th scope="col" { "Source" }
                        th scope="col" { span.sr-only { "Request" } }
                    } }
                    tbody { @for e in &events { (row(e)) } }
                }
            }
            nav.pager aria-label="Pages" {
                @if paged { a href=(with_query("/console/audit", &query, None)) { "← Newest" } }
                @if let Some(token) = &next {
                    a href=(with_query("/console/audit", &query, Some(format!("next_token={}", enc(token))))) rel="next" { "Older →" }
                }
            }
        }
    };
    let page = layout::page(&ctx, "Audit log", Nav::Audit, body);
    let status = if err.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

/// `GET /console/audit.csv`: the newest matching events (at most [`MAX_AUDIT_PAGE`]).
pub async fn download(
    State(c): State<Console>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> PageResult<Response> {
    let form = FormData::new(pairs);
    let bad = |e: FormError| ConsoleError {
        status: StatusCode::BAD_REQUEST,
        message: e.summary(),
    };
    let filter = filter_of(&form, MAX_AUDIT_PAGE).map_err(bad)?;
    let rows = c.app.core.audit().list(&filter).await?;
    let text = csv(&rows).map_err(|e| ConsoleError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: e.message,
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-events.csv\"",
            ),
        ],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn the_filter_form_becomes_the_store_filter() {
        let f = filter_of(
            &form(&[
                ("user_name", "viewer"),
                ("event_name", " CreateProduct "),
                ("access_key_id", ""),
                ("from", "2025-01-31T12:00"),
                ("to", "2025-01-31T13:00"),
                ("to_ms", "1738331000000"),
                ("next_token", "42"),
            ]),
            PAGE,
        )
        .expect("valid");
        assert_eq!(f.user_name.as_deref(), Some("viewer"));
        assert_eq!(f.event_name.as_deref(), Some("CreateProduct"));
        assert_eq!(f.access_key_id, None);
        assert_eq!(
            f.from,
            Some(1_738_324_800_000),
            "read as UTC without the browser's value"
        );
        assert_eq!(f.to, Some(1_738_331_000_000), "the browser's value wins");
        assert_eq!(f.before_seq, Some(42));
        assert_eq!(f.limit, PAGE);
    }

    #[test]
    fn a_bad_filter_names_its_input() {
        let cases = [
            (vec![("from", "yesterday")], "start_time"),
            (vec![("from_ms", "2000"), ("to_ms", "1000")], "end_time"),
            (vec![("next_token", "x")], "next_token"),
        ];
        for (pairs, field) in cases {
            let err = filter_of(&form(&pairs), PAGE).expect_err("refused");
            assert_eq!(err.field.as_deref(), Some(field), "{pairs:?}");
        }
    }

    #[test]
    fn links_keep_the_filters_but_not_the_cursor() {
        let f = form(&[
            ("user_name", "a b"),
            ("next_token", "42"),
            ("resource_id", ""),
            ("from", "2025-01-31T12:00"),
        ]);
        let q = filter_query(&f);
        assert_eq!(q, "user_name=a%20b&from=2025-01-31T12%3A00");
        assert_eq!(
            with_query("/console/audit", &q, Some("next_token=7".to_owned())),
            "/console/audit?user_name=a%20b&from=2025-01-31T12%3A00&next_token=7"
        );
        assert_eq!(
            with_query("/console/audit.csv", "", None),
            "/console/audit.csv"
        );
    }
}
