//! The page shell and the small pieces every page shares: navigation, the flash message,
//! form fields with their error slot, status badges, times and paging. Keeping them here
//! keeps the look consistent and the accessibility rules (a label on every control, an
//! error announced next to its field, a skip link) in one place.

use super::form::FormError;
use super::session::Ctx;
use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use ota_domain::Millis;

/// Where a page sits, for the navigation.
pub enum Nav<'a> {
    Overview,
    Products,
    Users,
    Policies,
    Audit,
    Webhooks,
    /// A product page with its tab.
    Product {
        pk: &'a str,
        name: &'a str,
        tab: Tab,
    },
}

/// The tabs of a product.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Devices,
    Groups,
    Modules,
    Packages,
    Analysis,
}

const TABS: [(Tab, &str, &str); 5] = [
    (Tab::Devices, "Devices", ""),
    (Tab::Groups, "Groups", "/groups"),
    (Tab::Modules, "OTA modules", "/modules"),
    (Tab::Packages, "Packages", "/packages"),
    (Tab::Analysis, "Data analysis", "/analysis"),
];

/// A full console page.
pub fn page(ctx: &Ctx, title: &str, nav: Nav<'_>, body: Markup) -> Markup {
    let section = |is: bool| if is { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(ctx.csrf);
                title { (title) " · OTA console" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/console" { span.logo aria-hidden="true" { "⟳" } " OTA console" }
                    nav aria-label="Main" {
                        a href="/console" aria-current=[section(matches!(nav, Nav::Overview))] { "Overview" }
                        @if ctx.may("iot:QueryProductList") {
                            a href="/console/products" aria-current=[section(matches!(nav, Nav::Products | Nav::Product { .. }))] { "Products" }
                        }
                        @if ctx.may("ram:ListUsers") {
                            a href="/console/users" aria-current=[section(matches!(nav, Nav::Users))] { "Users" }
                        }
                        @if ctx.may("ram:ListPolicies") {
                            a href="/console/policies" aria-current=[section(matches!(nav, Nav::Policies))] { "Policies" }
                        }
                        @if ctx.may("actiontrail:LookupEvents") {
                            a href="/console/audit" aria-current=[section(matches!(nav, Nav::Audit))] { "Audit log" }
                        }
                        @if ctx.may("iot:ListOTAWebhook") {
                            a href="/console/webhooks" aria-current=[section(matches!(nav, Nav::Webhooks))] { "Webhooks" }
                        }
                    }
                    form.signout method="post" action="/console/logout" {
                        (csrf(ctx))
                        span.who { "Signed in as " strong { (ctx.caller.principal.user_name) } @if let Some(key) = &ctx.caller.principal.access_key_id { " (" (key) ")" } }
                        button.link type="submit" { "Sign out" }
                    }
                }
                @if let Nav::Product { pk, name, tab } = nav {
                    div.product-bar {
                        p.crumbs { a href="/console/products" { "Products" } " / " strong { (name) } " " code { (pk) } }
                        nav.tabs aria-label="Product" {
                            @for (t, label, suffix) in TABS {
                                a href={ "/console/products/" (pk) (suffix) } aria-current=[section(t == tab)] { (label) }
                            }
                        }
                    }
                }
                main #main {
                    @if let Some(msg) = &ctx.flash {
                        @if msg.starts_with("Refused") { div.alert role="alert" { (msg) } }
                        @else { div.flash role="status" { (msg) } }
                    }
                    (body)
                }
            }
        }
    }
}

/// A page for a request that failed, without navigation (the session may be missing).
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (status.as_u16()) " · OTA console" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.narrow {
                main #main.card {
                    h1 { (status.canonical_reason().unwrap_or("Error")) }
                    p.error-text { (message) }
                    p { a href="/console" { "Back to the console" } }
                }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf(ctx: &Ctx) -> Markup {
    html! { input type="hidden" name="_csrf" value=(ctx.csrf); }
}

/// A labelled form field: label, control, optional hint, and the slot where the error
/// about parameter `param` appears (filled by the server after a refusal, or by
/// `console.js` before submission).
pub fn field(
    label: &str,
    id: &str,
    param: &str,
    err: Option<&FormError>,
    hint: Option<&str>,
    control: Markup,
) -> Markup {
    let mine = err.filter(|e| e.is_for(param));
    html! {
        div.field.invalid[mine.is_some()] data-param=(param) {
            label for=(id) { (label) }
            (control)
            @if let Some(h) = hint { p.hint id={ (id) "-hint" } { (h) } }
            p.field-error id={ (id) "-error" } aria-live="polite" {
                @if let Some(e) = mine { (e.message) }
            }
        }
    }
}

/// The error summary at the top of a refused form.
pub fn error_summary(err: Option<&FormError>) -> Markup {
    html! {
        @if let Some(e) = err {
            div.alert role="alert" {
                strong { "The request was refused. " }
                (e.summary())
            }
        }
    }
}

/// A coloured status label; the text carries the meaning, the colour only helps.
pub fn badge(status: &str) -> Markup {
    let class = match status {
        "SUCCEEDED" | "COMPLETED" | "VERIFIED" | "ONLINE" | "NOT_REQUIRED" | "READY" => "ok",
        "FAILED" | "VERIFY_FAILED" | "CANCELED" | "DISABLE" => "bad",
        "IN_PROGRESS" | "NOTIFIED" | "VERIFYING" | "RUNNING" | "STARTING" | "SOAKING" => "busy",
        "QUEUED" | "CONFIRM" | "PLANNED" | "UNVERIFIED" | "PENDING" | "PAUSED"
        | "AWAITING_APPROVAL" => "wait",
        _ => "plain",
    };
    html! { span class={ "badge " (class) } { (status.replace('_', " ")) } }
}

/// A UTC time; `console.js` shows it in the viewer's zone.
pub fn time(ms: Millis) -> Markup {
    html! { time datetime=(iso(ms)) data-ms=(ms) { (human(ms)) } }
}

/// An optional time, or a dash.
pub fn time_opt(ms: Option<Millis>) -> Markup {
    match ms {
        Some(ms) => time(ms),
        None => html! { span.muted { "—" } },
    }
}

fn utc(ms: Millis) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// `2025-01-31T12:00:00Z`.
pub fn iso(ms: Millis) -> String {
    utc(ms)
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// `2025-01-31 12:00:00 UTC`.
pub fn human(ms: Millis) -> String {
    utc(ms)
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A byte count for people.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Previous/next links for a paged list; `base` already holds the other query parameters.
pub fn pager(base: &str, page: i64, size: i64, total: i64) -> Markup {
    let pages = ((total + size - 1) / size).max(1);
    let sep = if base.contains('?') { '&' } else { '?' };
    html! {
        nav.pager aria-label="Pages" {
            @if page > 1 { a href={ (base) (sep) "page=" (page - 1) } rel="prev" { "← Previous" } }
            span { "Page " (page) " of " (pages) " · " (total) " total" }
            @if page < pages { a href={ (base) (sep) "page=" (page + 1) } rel="next" { "Next →" } }
        }
    }
}

/// Raw, already-escaped markup (for the SVG charts built as strings).
pub fn raw(s: String) -> Markup {
    PreEscaped(s)
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
