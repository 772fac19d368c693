//! How rollouts look: the timeline of a rollout's waves (one card per wave, from the same
//! `rollout_views::WaveView` the native API answers with, so both faces say the same), the
//! list of a package's rollouts on its page, and which operator commands a rollout's state
//! allows now (the same rules as `Rollout::apply`, so no button leads to a refusal).

use crate::console::layout::{badge, enc, time, time_opt};
use crate::rollout_views::{ErrorConditionView, RolloutView, WaveView};
use maud::{Markup, html};
use ota_domain::Millis;
use ota_domain::rollout::{Rollout, RolloutPauseReason, WavePhase};

/// The commands a rollout's state allows, before asking the viewer's policies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allowed {
    pub pause: bool,
    pub resume: bool,
    pub cancel: bool,
    pub next_wave: bool,
    /// Approve or deny: the current wave awaits approval.
    pub decide: bool,
}

impl Allowed {
    pub fn of(r: &Rollout) -> Allowed {
        if r.status.is_terminal() {
            return Allowed::default();
        }
        let phase = r.current_wave().state.phase;
        let reason = r.pause.map(|p| p.reason);
        Allowed {
            pause: reason.is_none(),
            resume: reason.is_some_and(|p| p != RolloutPauseReason::BelowSuccess),
            cancel: true,
            next_wave: r.current + 1 < r.waves.len()
                && match reason {
                    None => phase.is_watched(),
                    Some(p) => p == RolloutPauseReason::BelowSuccess,
                },
            decide: phase == WavePhase::AwaitingApproval,
        }
    }
}

/// A rollout's name, or its id when it has none.
pub fn title(r: &Rollout) -> String {
    r.name
        .clone()
        .unwrap_or_else(|| r.rollout_id.as_str().to_owned())
}

/// The "Rollouts" part of a package page: each rollout with its status, where it is and
/// why it waits.
pub fn package_rollouts(rollouts: &[Rollout], now: Millis) -> Markup {
    html! {
        h2 { "Rollouts" }
        @if rollouts.is_empty() { p.muted { "No rollout yet." } }
        @else {
            table #rollouts {
                thead { tr { th scope="col" { "Rollout" } th scope="col" { "Status" } th scope="col" { "Wave" } th scope="col" { "Waiting for" } th scope="col" { "Created" } } }
                tbody {
                    @for r in rollouts {
                        tr data-rollout=(r.rollout_id) {
                            td { a href={ "/console/rollouts/" (enc(r.rollout_id.as_str())) } { (title(r)) } }
                            td { (badge(r.status.as_str())) }
                            td.num { (r.current + 1) " / " (r.waves.len()) }
                            td { @match r.waiting(now) { Some(w) => (w), None => span.muted { "—" } } }
                            td { (time(r.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// What a wave takes, in words.
fn target(w: &WaveView, r: &Rollout) -> Markup {
    let drawn = r.waves[w.wave - 1].plan.target.pick(r.eligible);
    html! {
        @if let Some(p) = &w.percent {
            (p) " % of the eligible devices"
            @if let Some(n) = drawn { " (" (n) ")" }
        } @else if let Some(n) = w.devices {
            (n) " devices"
        } @else if let Some(g) = &w.group_id {
            "the members of group " a href={ "/console/groups/" (enc(g)) } { code { (g) } }
        }
    }
}

fn error_condition(c: &ErrorConditionView) -> Markup {
    html! {
        "more than "
        @if let Some(p) = c.max_failed_percent { (p) " % of the finished devices" }
        @if let Some(n) = c.max_failed { (n) " devices" }
        " failed"
        @if !c.causes.is_empty() { " (" (c.causes.join(", ").replace('_', " ").to_lowercase()) ")" }
        ", once " (c.min_finished) " finished: "
        (if c.action == "CANCEL" { "cancel" } else { "pause" })
    }
}

/// One wave's card.
fn wave_card(w: &WaveView, r: &Rollout) -> Markup {
    let current = w.wave == r.current + 1 && !r.status.is_terminal();
    let c = &w.counts;
    html! {
        li.wave id={ "wave-" (w.wave) } data-phase=(w.phase) aria-current=[current.then_some("step")] {
            div.wave-head {
                h3 { "Wave " (w.wave) @if let Some(n) = &w.name { " · " (n) } }
                span.phase { (badge(w.phase)) }
            }
            dl.props {
                dt { "Target" } dd { (target(w, r)) }
                dt { "Next wave at" } dd { (w.success_condition.succeeded_percent) " % updated, once " (w.success_condition.min_finished) " finished" }
                dt { "Stops when" } dd {
                    @if w.error_conditions.is_empty() { span.muted { "never" } }
                    @for (i, e) in w.error_conditions.iter().enumerate() { @if i > 0 { "; " } (error_condition(e)) }
                }
                dt { "Soak" } dd { @if w.soak_minutes == 0 { "none" } @else { (w.soak_minutes) " min" } }
                dt { "Approval" } dd.approval {
                    @match &w.approval {
                        Some(d) => {
                            @if d.approved { "approved" } @else { "denied" }
                            " by " strong { (d.by) } " at " (time(d.at))
                            @if !d.remark.is_empty() { ": " (d.remark) }
                        },
                        None => @if w.approval_required { "required" } @else { span.muted { "not required" } },
                    }
                }
                dt { "Batch" } dd.batch {
                    @match &w.job_id {
                        Some(j) => a href={ "/console/batches/" (enc(j)) } { code { (j) } },
                        None => span.muted { "not started" },
                    }
                }
                dt { "Devices" } dd.counts {
                    @if w.job_id.is_some() {
                        (c.succeeded) " succeeded · " (c.failed) " failed · " (c.unfinished) " unfinished · " (c.total) " total"
                    } @else { span.muted { "—" } }
                }
                dt { "Started" } dd { (time_opt(w.started_at)) }
                dt { "Succeeded" } dd { (time_opt(w.succeeded_at)) }
                @if let Some(at) = w.soak_ends_at { dt { "Soak ends" } dd { (time(at)) } }
                dt { "Finished" } dd { (time_opt(w.finished_at)) }
                @if let Some(n) = &w.note { dt { "Note" } dd.note { (n) } }
            }
        }
    }
}

/// The timeline: every wave in order, the current one marked.
pub fn timeline(view: &RolloutView, r: &Rollout) -> Markup {
    html! {
        ol.timeline #waves {
            @for w in &view.waves { (wave_card(w, r)) }
        }
    }
}
