//! Form pieces the batch wizard and the verify form share: a device picker, the source
//! version picker, tag rows, and the mapping of rollout inputs to the raw
//! `ota_domain::validate::UpgradeParams` (validation stays in the domain).

use crate::console::Console;
use crate::console::form::{ConsoleError, FormData, FormError};
use crate::console::layout::field;
use maud::{Markup, html};
use ota_core::Page;
use ota_domain::job::{RampInput, WindowInput};
use ota_domain::validate::{
    FailureGateInput, MAX_TAGS, RETRY_COUNTS, RETRY_INTERVALS, UpgradeParams,
};
use ota_domain::{DomainError, ProductKey};

/// Devices offered in a picker; larger fleets use the CSV upload.
const PICKER_DEVICES: i64 = 500;

/// A filterable multi-select of the product's devices, named `device_names`.
pub async fn device_picker(
    c: &Console,
    pk: &str,
    id: &str,
    param: &str,
    max: usize,
    chosen: &[String],
    err: Option<&FormError>,
) -> Result<Markup, ConsoleError> {
    let (devices, total) = c
        .app
        .core
        .registry()
        .list_devices(
            Some(&ProductKey(pk.to_owned())),
            None,
            Page::new(0, PICKER_DEVICES),
        )
        .await?;
    let hint = if total > PICKER_DEVICES {
        format!(
            "Choose up to {max}. The first {PICKER_DEVICES} of {total} devices are listed; type to filter."
        )
    } else {
        format!("Choose up to {max} (Ctrl or Shift for several); type to filter.")
    };
    Ok(html! {
        div.picker {
            label for={ (id) "-filter" } { "Filter devices" }
            input.picker-filter id={ (id) "-filter" } type="search" data-filter=(id) placeholder="name contains…";
        }
        (field("Devices", id, param, err, Some(&hint), html! {
            select id=(id) name="device_names" multiple size="8" data-max=(max) data-min="1"
                data-msg={ "choose 1-" (max) " devices" } {
                @for d in &devices {
                    @let name = d.device_name.as_str();
                    option value=(name) selected[chosen.iter().any(|c| c == name)] { (name) }
                }
            }
        }))
    })
}

/// Checkboxes of the versions devices report for the package's module, plus free text.
pub fn src_versions_picker(
    id: &str,
    known: &[(String, i64)],
    form: &FormData,
    err: Option<&FormError>,
    required: bool,
) -> Markup {
    let chosen = form.all("src_versions");
    html! {
        fieldset.field.invalid[err.is_some_and(|e| e.is_for("SrcVersion"))] data-param="SrcVersion" id=(id) data-src-required[required] {
            legend { "Source versions" @if !required { " (optional: empty means any)" } }
            div.choices {
                @for (v, n) in known {
                    label { input type="checkbox" name="src_versions" value=(v) checked[chosen.contains(v)]; " " code { (v) } " " span.muted { "(" (n) " devices)" } }
                }
            }
            label for={ (id) "-more" } { "Other versions, comma separated" }
            input id={ (id) "-more" } name="src_versions_more" value=[form.get("src_versions_more")] pattern="[A-Za-z0-9._\\-, ]*";
            p.field-error aria-live="polite" { @if let Some(e) = err.filter(|e| e.is_for("SrcVersion")) { (e.summary()) } }
        }
    }
}

/// Every chosen source version: ticked ones, then the free-text ones.
pub fn src_versions(form: &FormData) -> Vec<String> {
    let mut out = form.all("src_versions");
    for v in form.get("src_versions_more").unwrap_or_default().split(',') {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// Key/value rows for batch tags; `console.js` adds rows up to the limit.
pub fn tag_rows(form: &FormData, err: Option<&FormError>) -> Markup {
    let keys: Vec<&str> = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "tag_key")
        .map(|(_, v)| v.as_str())
        .collect();
    let values: Vec<&str> = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "tag_value")
        .map(|(_, v)| v.as_str())
        .collect();
    let rows = keys.len().max(2);
    html! {
        fieldset.field.invalid[err.is_some_and(|e| e.is_for("Tag") || e.is_for("Tags"))] data-param="Tag" {
            legend { "Tags (delivered with the push, at most " (MAX_TAGS) ")" }
            div.tags data-max=(MAX_TAGS) {
                @for i in 0..rows {
                    div.tag-row {
                        label.sr-only for={ "tag-key-" (i) } { "Tag " (i + 1) " key" }
                        input id={ "tag-key-" (i) } name="tag_key" placeholder="key" maxlength="30" value=(keys.get(i).copied().unwrap_or(""));
                        label.sr-only for={ "tag-value-" (i) } { "Tag " (i + 1) " value" }
                        input id={ "tag-value-" (i) } name="tag_value" placeholder="value" maxlength="1024" value=(values.get(i).copied().unwrap_or(""));
                    }
                }
            }
            button.link type="button" data-add-tag { "+ Add a tag" }
            p.field-error aria-live="polite" { @if let Some(e) = err.filter(|e| e.is_for("Tag") || e.is_for("Tags")) { (e.summary()) } }
        }
    }
}

/// The tag rows as `Tag.N.Key`/`Tag.N.Value` pairs; fully blank rows are skipped.
pub fn tags(form: &FormData) -> Vec<(Option<String>, Option<String>)> {
    let keys = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "tag_key")
        .map(|(_, v)| v.trim());
    let values = form
        .pairs
        .iter()
        .filter(|(k, _)| k == "tag_value")
        .map(|(_, v)| v.trim());
    keys.zip(values)
        .filter(|(k, v)| !k.is_empty() || !v.is_empty())
        .map(|(k, v)| {
            (
                (!k.is_empty()).then(|| k.to_owned()),
                (!v.is_empty()).then(|| v.to_owned()),
            )
        })
        .collect()
}

/// The rollout inputs as raw API parameters.
pub fn upgrade_params(form: &FormData) -> Result<UpgradeParams, FormError> {
    Ok(UpgradeParams {
        retry_interval: form.int("retry_interval", "RetryInterval")?,
        retry_count: if form.get("retry_interval").is_some() {
            form.int("retry_count", "RetryCount")?
        } else {
            None
        },
        timeout_in_minutes: form.int("timeout_minutes", "TimeoutInMinutes")?,
        maximum_per_minute: form.int("maximum_per_minute", "MaximumPerMinute")?,
        rate_steps: Vec::new(),
        need_push: Some(form.flag("need_push")),
        need_confirm: Some(form.flag("need_confirm")),
        overwrite_mode: Some(if form.flag("overwrite") { 2 } else { 1 }),
        multi_module_mode: Some(form.flag("multi_module")),
        download_protocol: form.text("download_protocol"),
        tags: tags(form),
        failure_gate: failure_gate(form)?,
        exponential_rate: ramp(form)?,
        maintenance_windows: window(form).into_iter().collect(),
        approval_required: Some(form.flag("approval_required")),
    })
}

/// The maintenance window inputs: none unless a cron expression is given.
fn window(form: &FormData) -> Option<WindowInput> {
    form.text("window_cron").map(|cron| WindowInput {
        cron: Some(cron),
        duration_minutes: form.get("window_minutes").and_then(|m| m.parse().ok()),
        time_zone: form.text("window_zone"),
    })
}

/// The exponential ramp inputs: none unless a base rate is given.
fn ramp(form: &FormData) -> Result<Option<RampInput>, FormError> {
    if form.get("ramp_base").is_none() {
        return Ok(None);
    }
    let factor = match form.get("ramp_factor") {
        None => None,
        Some(text) => Some(text.parse::<f64>().map_err(|_| {
            FormError::from(DomainError::invalid(
                "ExponentialRate.IncrementFactor",
                "must be a number from 1.1 to 5",
            ))
        })?),
    };
    let every = form.int("ramp_every", "ExponentialRate.IncreaseCriteria")?;
    let on_success = form.get("ramp_on") == Some("succeeded");
    Ok(Some(RampInput {
        base_rate_per_minute: form.int("ramp_base", "ExponentialRate.BaseRatePerMinute")?,
        increment_factor: factor,
        notified_devices: every.filter(|_| !on_success),
        succeeded_devices: every.filter(|_| on_success),
    }))
}

/// The failure gate inputs: none unless a percentage is given.
fn failure_gate(form: &FormData) -> Result<Option<FailureGateInput>, FormError> {
    let Some(percent) = form.int("gate_percent", "FailureGate.MaxFailedPercent")? else {
        return Ok(None);
    };
    Ok(Some(FailureGateInput {
        max_failed_percent: Some(percent),
        min_finished: form.int("gate_min", "FailureGate.MinFinished")?,
        action: form.text("gate_action"),
    }))
}

/// A schedule input: the epoch milliseconds `console.js` computed in the viewer's zone, or
/// else the `datetime-local` value read as UTC.
pub fn schedule_ms(form: &FormData, name: &str, field: &str) -> Result<Option<i64>, FormError> {
    if let Some(ms) = form.int(&format!("{name}_ms"), field)? {
        return Ok(Some(ms));
    }
    let Some(text) = form.get(name) else {
        return Ok(None);
    };
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let text = text.get(..16).unwrap_or(text);
    let at = time::PrimitiveDateTime::parse(text, fmt).map_err(|_| FormError {
        field: Some(field.to_owned()),
        message: "must be a date and time".into(),
    })?;
    Ok(Some(
        (at.assume_utc().unix_timestamp_nanos() / 1_000_000) as i64,
    ))
}

/// The inputs of how a batch pushes that the batch and rollout wizards share: push rate,
/// retries, timeout and failure gate (cells of the caller's grid).
pub fn push_fields(form: &FormData, err: Option<&FormError>) -> Markup {
    let retry = form.get("retry_interval").unwrap_or("");
    html! {
        (field("Push rate (devices per minute)", "max_rate", "MaximumPerMinute", err, Some("10-10000"),
            html! { input #max_rate type="number" name="maximum_per_minute" min="10" max="10000" required value=(form.get("maximum_per_minute").unwrap_or("1000")) data-msg="must be 10-10000"; }))
        (field("Retry interval", "retry_interval", "RetryInterval", err, Some("Must be below the timeout."), html! {
            select #retry_interval name="retry_interval" data-check="retry" data-msg="must be less than TimeoutInMinutes" {
                option value="" selected[retry.is_empty()] { "No retry" }
                @for m in RETRY_INTERVALS { option value=(m) selected[retry == m.to_string()] { @if m == 0 { "Immediately" } @else if m == 1440 { "After 24 hours" } @else { "After " (m) " minutes" } } }
            }
        }))
        (field("Maximum retries", "retry_count", "RetryCount", err, None, html! {
            select #retry_count name="retry_count" data-needs="retry_interval" {
                @for n in RETRY_COUNTS { option value=(n) selected[form.get("retry_count") == Some(&n.to_string())] { (n) } }
            }
        }))
        (field("Timeout (minutes, optional)", "timeout_minutes", "TimeoutInMinutes", err, Some("1-1440, counted from the device's first progress report."),
            html! { input #timeout_minutes type="number" name="timeout_minutes" min="1" max="1440" value=[form.get("timeout_minutes")] data-msg="must be 1-1440"; }))
        (field("Failure gate: stop above (% failed, optional)", "gate_percent", "FailureGate.MaxFailedPercent", err, Some("0-100 of finished devices; empty: no gate."),
            html! { input #gate_percent type="number" name="gate_percent" min="0" max="100" value=[form.get("gate_percent")] data-msg="must be 0-100"; }))
        (field("…once this many have finished", "gate_min", "FailureGate.MinFinished", err, Some("1-1000000 (default 10)."),
            html! { input #gate_min type="number" name="gate_min" min="1" max="1000000" value=[form.get("gate_min")] data-msg="must be 1-1000000"; }))
        (field("…and then", "gate_action", "FailureGate.Action", err, None, html! {
            select #gate_action name="gate_action" {
                option value="PAUSE" { "Pause the batch" }
                option value="CANCEL" selected[form.get("gate_action") == Some("CANCEL")] { "Cancel devices not yet started" }
            }
        }))
    }
}
