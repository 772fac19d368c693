//! The editable wave rows of the rollout wizard, and their mapping to the raw
//! `ota_domain::rollout::WaveInput`s (validation stays in the domain).
//!
//! Why a file of its own: a wave has a dozen inputs named per row (`w{N}_percent`, …) and
//! the error each may get back is named per position (`Waves.2.Percent`); keeping both
//! namings in one place keeps them in step. Each row carries a hidden `wave` input with its
//! own number, so the rows are read in the order they were sent whatever `console.js` did
//! to them (added, removed, renumbered), and re-rendered numbered 1, 2, … after a refusal.

use crate::console::form::{FormData, FormError};
use crate::console::layout::field;
use maud::{Markup, html};
use ota_domain::registry::Group;
use ota_domain::rollout::{
    ErrorConditionInput, MAX_SOAK_MINUTES, MAX_WAVES, SuccessConditionInput, WaveInput,
};
use ota_domain::task::FailureReason;

/// Rows a new form starts with.
const FRESH_ROWS: usize = 2;

/// The rows' source numbers in the order sent (`None` for each row of a new form).
fn rows(form: &FormData) -> Vec<Option<String>> {
    if form.pairs.is_empty() {
        return vec![None; FRESH_ROWS];
    }
    form.all("wave").into_iter().map(Some).collect()
}

/// The wave rows, the top-level `Waves` error slot and the add button.
pub fn wave_rows(form: &FormData, err: Option<&FormError>, groups: &[Group]) -> Markup {
    let whole = err.filter(|e| e.field.as_deref() == Some("Waves"));
    html! {
        div #waves.waves data-max=(MAX_WAVES) {
            @for (pos, src) in rows(form).iter().enumerate() {
                (row(pos + 1, src.as_deref(), form, err, groups))
            }
        }
        p.field-error #waves-error aria-live="polite" { @if let Some(e) = whole { (e.message) } }
        button.link type="button" data-add-wave hidden { "+ Add a wave" }
    }
}

/// One wave at position `n` (from 1), filled from row `src` of the sent form.
fn row(
    n: usize,
    src: Option<&str>,
    form: &FormData,
    err: Option<&FormError>,
    groups: &[Group],
) -> Markup {
    // What the user sent for this row, or the default of a new row.
    let sent = |key: &str, default: &'static str| -> String {
        match src {
            Some(s) => form
                .get(&format!("w{s}_{key}"))
                .unwrap_or_default()
                .to_owned(),
            None => default.to_owned(),
        }
    };
    let target = sent("target", "percent");
    let error = sent("error", "none");
    let causes: Vec<String> = src.map_or_else(Vec::new, |s| form.all(&format!("w{s}_causes")));
    let name = |key: &str| format!("w{n}_{key}");
    let id = |key: &str| format!("w{n}-{key}");
    let param = |rest: &str| format!("Waves.{n}.{rest}");
    let own = format!("Waves.{n}");
    let condition = format!("Waves.{n}.ErrorConditions.1");
    let row_err = err.filter(|e| {
        e.field.as_deref() == Some(own.as_str()) || e.field.as_deref() == Some(condition.as_str())
    });
    let radio = |key: &str, value: &str, current: &str, default: bool, label: &str| {
        html! { label { input type="radio" name=(name(key)) value=(value) checked[current == value] data-default[default]; " " (label) } }
    };
    html! {
        fieldset.wave data-param=(own) {
            legend { "Wave " span.wave-num { (n) } }
            input type="hidden" name="wave" value=(n);
            div.grid3 {
                (field("Name (optional)", &id("name"), &param("Name"), err, None,
                    html! { input id=(id("name")) name=(name("name")) maxlength="64" value=(sent("name", "")); }))
                (field("Soak (minutes)", &id("soak"), &param("SoakMinutes"), err, Some("Wait after the success condition before the next wave."),
                    html! { input id=(id("soak")) type="number" name=(name("soak")) min="0" max=(MAX_SOAK_MINUTES) value=(sent("soak", "0")) data-default="0"
                        data-msg={ "must be 0-" (MAX_SOAK_MINUTES) }; }))
                div.choices.column {
                    label { input type="checkbox" name=(name("approval")) value="1" checked[!sent("approval", "").is_empty()]; " Wait for approval before this wave starts" }
                }
            }
            div.choices data-switch=(name("target")) {
                (radio("target", "percent", &target, true, "A share of the devices"))
                (radio("target", "devices", &target, false, "A number of devices"))
                (radio("target", "group", &target, false, "A group"))
            }
            div.grid3 {
                div data-when={ (name("target")) "=percent" } hidden[target != "percent"] {
                    (field("Share of devices (%)", &id("percent"), &param("Percent"), err, Some("Of the devices eligible when the rollout is created; above 0, up to 3 decimals."),
                        html! { input id=(id("percent")) name=(name("percent")) inputmode="decimal" required pattern="(100(\\.0{1,3})?|[0-9]{1,2}(\\.[0-9]{1,3})?)" data-positive
                            value=(sent("percent", "")) data-msg="must be a percentage above 0 and at most 100 with at most 3 decimals"; }))
                }
                div data-when={ (name("target")) "=devices" } hidden[target != "devices"] {
                    (field("Devices", &id("devices"), &param("Devices"), err, Some("Drawn from those no earlier wave took."),
                        html! { input id=(id("devices")) type="number" name=(name("devices")) min="1" max="10000000" required
                            value=(sent("devices", "")) data-msg="must be 1-10000000"; }))
                }
                div data-when={ (name("target")) "=group" } hidden[target != "group"] {
                    (field("Group", &id("group"), &param("GroupId"), err, None, html! {
                        select id=(id("group")) name=(name("group")) required data-msg="choose a group" {
                            option value="" { "— choose —" }
                            @for g in groups {
                                option value=(g.group_id) selected[sent("group", "") == g.group_id.as_str()] { (g.group_name) }
                            }
                        }
                    }))
                }
                (field("Next wave at (% of this wave updated)", &id("succeeded"), &param("SuccessCondition.SucceededPercent"), err, Some("1-100."),
                    html! { input id=(id("succeeded")) type="number" name=(name("succeeded")) min="1" max="100" value=(sent("succeeded", "100")) data-default="100"
                        data-msg="must be 1-100"; }))
                (field("…once this many finished", &id("finished"), &param("SuccessCondition.MinFinished"), err, Some("1-1000000, capped at the wave's size."),
                    html! { input id=(id("finished")) type="number" name=(name("finished")) min="1" max="1000000" value=(sent("finished", "1")) data-default="1"
                        data-msg="must be 1-1000000"; }))
            }
            div.choices data-switch=(name("error")) {
                span { "Stop the rollout when" }
                (radio("error", "none", &error, true, "never (no error condition)"))
                (radio("error", "percent", &error, false, "a share of devices failed"))
                (radio("error", "count", &error, false, "a number of devices failed"))
            }
            div data-when={ (name("error")) "=percent,count" } hidden[error == "none"] { div.grid3 {
                div data-when={ (name("error")) "=percent" } hidden[error != "percent"] {
                    (field("More than (% failed)", &id("error-percent"), &param("ErrorConditions.1.MaxFailedPercent"), err, Some("0-100 of the finished devices."),
                        html! { input id=(id("error-percent")) type="number" name=(name("error_percent")) min="0" max="100" required
                            value=(sent("error_percent", "")) data-msg="must be 0-100"; }))
                }
                div data-when={ (name("error")) "=count" } hidden[error != "count"] {
                    (field("More than (devices failed)", &id("error-count"), &param("ErrorConditions.1.MaxFailed"), err, Some("0-10000000."),
                        html! { input id=(id("error-count")) type="number" name=(name("error_count")) min="0" max="10000000" required
                            value=(sent("error_count", "")) data-msg="must be 0-10000000"; }))
                }
                (field("…once this many finished (optional)", &id("error-min"), &param("ErrorConditions.1.MinFinished"), err, Some("1-1000000; default 10 for a share, 1 for a number."),
                    html! { input id=(id("error-min")) type="number" name=(name("error_min")) min="1" max="1000000" value=(sent("error_min", "")) data-msg="must be 1-1000000"; }))
                (field("…and then", &id("error-action"), &param("ErrorConditions.1.Action"), err, None, html! {
                    select id=(id("error-action")) name=(name("error_action")) {
                        option value="PAUSE" { "Pause the rollout" }
                        option value="CANCEL" selected[sent("error_action", "") == "CANCEL"] { "Cancel the rollout" }
                    }
                }))
                (field("Counting failures of (optional)", &id("causes"), &param("ErrorConditions.1.Causes"), err, Some("None chosen: any cause."), html! {
                    select id=(id("causes")) name=(name("causes")) multiple size="4" {
                        @for c in FailureReason::ALL {
                            option value=(c.as_str()) selected[causes.iter().any(|x| x == c.as_str())] { (c.as_str().replace('_', " ").to_lowercase()) }
                        }
                    }
                }))
            } }
            p.field-error id=(id("error")) aria-live="polite" { @if let Some(e) = row_err { (e.summary()) } }
            button.link.danger type="button" data-remove-wave hidden { "Remove wave " span.wave-num { (n) } }
        }
    }
}

/// The waves as sent, in order, as raw domain input. Only the chosen target's input and the
/// chosen kind of error condition are read; a number that is not one is refused at its field.
pub fn wave_inputs(form: &FormData) -> Result<Vec<WaveInput>, FormError> {
    let mut waves = Vec::new();
    for (pos, src) in form.all("wave").iter().enumerate() {
        let key = |k: &str| format!("w{src}_{k}");
        let param = |rest: &str| format!("Waves.{}.{rest}", pos + 1);
        let int = |k: &str, rest: &str| form.int(&key(k), &param(rest));
        let target = form.get(&key("target")).unwrap_or("percent");
        let limit = |kind: &str, k: &str, rest: &str| match form.get(&key("error")) {
            Some(chosen) if chosen == kind => int(k, rest),
            _ => Ok(None),
        };
        let max_failed_percent = limit(
            "percent",
            "error_percent",
            "ErrorConditions.1.MaxFailedPercent",
        )?;
        let max_failed = limit("count", "error_count", "ErrorConditions.1.MaxFailed")?;
        let errors = match form.get(&key("error")) {
            Some("percent" | "count") => vec![ErrorConditionInput {
                causes: form.all(&key("causes")),
                max_failed_percent,
                max_failed,
                min_finished: int("error_min", "ErrorConditions.1.MinFinished")?,
                action: form.text(&key("error_action")),
            }],
            _ => Vec::new(),
        };
        let succeeded_percent = int("succeeded", "SuccessCondition.SucceededPercent")?;
        let min_finished = int("finished", "SuccessCondition.MinFinished")?;
        waves.push(WaveInput {
            name: form.text(&key("name")),
            percent: (target == "percent")
                .then(|| form.text(&key("percent")))
                .flatten(),
            devices: if target == "devices" {
                int("devices", "Devices")?
            } else {
                None
            },
            group_id: (target == "group")
                .then(|| form.text(&key("group")))
                .flatten(),
            success: (succeeded_percent.is_some() || min_finished.is_some()).then_some(
                SuccessConditionInput {
                    succeeded_percent,
                    min_finished,
                },
            ),
            errors,
            soak_minutes: int("soak", "SoakMinutes")?,
            approval_required: Some(form.flag(&key("approval"))),
        });
    }
    Ok(waves)
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
    fn rows_are_read_in_the_order_sent_with_only_the_chosen_inputs() {
        let sent = form(&[
            ("wave", "3"),
            ("w3_target", "devices"),
            ("w3_percent", "50"),
            ("w3_devices", "7"),
            ("w3_error", "count"),
            ("w3_error_percent", "20"),
            ("w3_error_count", "2"),
            ("w3_causes", "TIMEOUT"),
            ("w3_error_action", "CANCEL"),
            ("w3_approval", "1"),
            ("wave", "1"),
            ("w1_target", "percent"),
            ("w1_percent", "25"),
            ("w1_error", "none"),
            ("w1_error_count", "9"),
            ("w1_succeeded", "90"),
        ]);
        let waves = wave_inputs(&sent).expect("valid input");
        assert_eq!(waves.len(), 2);
        assert_eq!(
            (waves[0].percent.as_deref(), waves[0].devices),
            (None, Some(7))
        );
        assert_eq!(waves[0].errors[0].max_failed, Some(2));
        assert_eq!(waves[0].errors[0].max_failed_percent, None);
        assert_eq!(waves[0].errors[0].causes, ["TIMEOUT"]);
        assert_eq!(waves[0].approval_required, Some(true));
        assert_eq!(waves[0].success, None);
        assert_eq!(waves[1].percent.as_deref(), Some("25"));
        assert!(waves[1].errors.is_empty());
        assert_eq!(waves[1].approval_required, Some(false));
        assert_eq!(
            waves[1].success.as_ref().and_then(|s| s.succeeded_percent),
            Some(90)
        );
    }

    #[test]
    fn a_bad_number_is_refused_at_its_positional_field() {
        let sent = form(&[
            ("wave", "1"),
            ("w1_percent", "10"),
            ("wave", "2"),
            ("w2_target", "devices"),
            ("w2_devices", "many"),
        ]);
        let err = wave_inputs(&sent).expect_err("not a number");
        assert_eq!(err.field.as_deref(), Some("Waves.2.Devices"));
    }
}
