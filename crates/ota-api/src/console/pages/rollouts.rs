//! One rollout: its status and why it waits, the timeline of its waves, the settings every
//! wave's batch runs with, and the operator's commands — pause, resume, cancel, start the
//! next wave, approve or deny the wave awaiting approval. A command is offered only when
//! the rollout's state allows it and the viewer's policies allow its action on the
//! rollout's product (the console's route check is what counts; this only spares the
//! viewer a refusal). Each command calls one `core.rollouts()` method and comes back here.

use super::products::refused;
use super::rollout_view::{Allowed, timeline, title};
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, badge, csrf, enc, time, time_opt};
use crate::console::session::{Ctx, redirect_with};
use crate::rollout_views;
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_core::CoreResult;
use ota_domain::RolloutId;
use ota_domain::job::GateAction;
use ota_domain::rollout::{Rollout, RolloutPauseReason};

async fn render(c: &Console, ctx: &Ctx, id: &str, err: Option<&FormError>) -> PageResult<Markup> {
    let core = &c.app.core;
    let r = core.rollouts().get(&RolloutId(id.to_owned())).await?;
    let f = core.firmwares().get(&r.firmware_id).await?;
    let product = core.registry().product(&r.product_key).await?;
    let now = core.now();
    let view = rollout_views::rollout(&r, now);
    let pk = r.product_key.as_str();
    let may = |action: &str| ctx.may_on_product(action, pk);
    let allowed = Allowed::of(&r);
    let base = format!("/console/rollouts/{}", enc(id));
    let approve = allowed.decide && may("iot:ApproveOTAJob");
    let deny = allowed.decide && may("iot:DenyOTAJob");
    let pause = allowed.pause && may("iot:PauseOTARollout");
    let resume = allowed.resume && may("iot:ResumeOTARollout");
    let next = allowed.next_wave && may("iot:StartOTARolloutWave");
    let cancel = allowed.cancel && may("iot:CancelOTARollout");
    let p = &r.policy;
    let body = html! {
        div.heading {
            h1 { "Rollout " (title(&r)) }
            span #rollout-status { (badge(r.status.as_str())) }
        }
        p.lead {
            "Package " a href={ "/console/packages/" (enc(f.firmware_id.as_str())) } { (f.firmware_name) } " → " strong { (f.dest_version) }
            " in " (r.waves.len()) " waves over " (r.eligible) " eligible devices; at wave " (view.current_wave) "."
        }
        (layout::error_summary(err))
        @if let Some(waiting) = &view.waiting {
            div.notice #rollout-waiting role="status" {
                strong { @if r.pause.is_some() { "Paused: " } @else { "Now: " } }
                (waiting)
                @if approve || deny {
                    form.approval #approval-form method="post" action={ (base) "/approval" } {
                        (csrf(ctx))
                        label for="rollout-remark" { "Remark" }
                        input #rollout-remark name="remark" maxlength="512";
                        @if approve { button.primary type="submit" name="decision" value="approve" { "Approve wave " (view.current_wave) } }
                        @if deny { button.danger type="submit" name="decision" value="deny" { "Deny" } }
                    }
                }
            }
        }
        div.split {
            section.card.grow {
                h2 { "Waves" }
                (timeline(&view, &r))
            }
            div.side {
                @if pause || resume || next || cancel {
                    section.card #rollout-controls {
                        h2 { "Control" }
                        div.controls {
                            @if resume {
                                form #resume-form method="post" action={ (base) "/resume" } {
                                    (csrf(ctx))
                                    button.primary type="submit" { "Resume" }
                                }
                            }
                            @if next {
                                form #next-wave-form method="post" action={ (base) "/next-wave" }
                                    data-confirm={ "Start wave " (view.current_wave + 1) " now, without waiting for wave " (view.current_wave) "'s success condition?" } {
                                    (csrf(ctx))
                                    button type="submit" { "Start next wave" }
                                }
                            }
                            @if pause {
                                form #pause-form method="post" action={ (base) "/pause" } {
                                    (csrf(ctx))
                                    button type="submit" { "Pause" }
                                }
                            }
                            @if cancel {
                                form #cancel-form method="post" action={ (base) "/cancel" } data-confirm="Cancel this rollout? Later waves never start." {
                                    (csrf(ctx))
                                    button.danger type="submit" { "Cancel rollout" }
                                }
                            }
                        }
                        p.hint { "Pausing pauses the running wave's batch; cancelling cancels its devices not yet started." }
                    }
                }
                section.card {
                    h2 { "Settings" }
                    dl.props #rollout-props {
                        dt { "ID" } dd { code { (r.rollout_id) } }
                        @if let Some(d) = &r.description { dt { "Description" } dd { (d) } }
                        dt { "Created" } dd { (time(r.created_at)) }
                        dt { "Finished" } dd { (time_opt(r.finished_at)) }
                        @if let Some(pause) = r.pause {
                            dt { "Paused" } dd { (pause_reason(pause.reason)) " at " (time(pause.at)) }
                        }
                        dt { "Source versions" } dd { @if r.src_versions.is_empty() { "any" } @else { (r.src_versions.join(", ")) } }
                        dt { "Push rate" } dd { (p.maximum_per_minute) " / minute" }
                        dt { "Retry" } dd { @match p.retry { Some(x) => { (x.count) " × after " (x.interval_minutes) " min" }, None => "none" } }
                        dt { "Timeout" } dd { @match p.timeout_minutes { Some(m) => { (m) " min" }, None => "none" } }
                        dt { "Failure gate" } dd { @match p.failure_gate {
                            Some(g) => { (if g.action == GateAction::Pause { "pause" } else { "cancel" }) " a batch above " (g.max_failed_percent) "% failed, after " (g.min_finished) " finished" },
                            None => "none",
                        } }
                        dt { "Options" } dd { (if p.need_push { "push" } else { "devices ask" }) @if p.need_confirm { ", app confirmation" } }
                        dt { "Tags" } dd { @if r.tags.is_empty() { span.muted { "none" } } @for (k, v) in &r.tags { span.tag { (k) "=" (v) } " " } }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        ctx,
        &format!("Rollout {}", title(&r)),
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

fn pause_reason(reason: RolloutPauseReason) -> &'static str {
    match reason {
        RolloutPauseReason::Operator => "by an operator",
        RolloutPauseReason::ErrorCondition => "by an error condition",
        RolloutPauseReason::BelowSuccess => "below its success condition",
    }
}

/// `GET /console/rollouts/{id}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &id, None).await
}

/// Back to the rollout with `done`, or the page again with the refusal.
async fn after(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    result: CoreResult<Rollout>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/console/rollouts/{}", enc(id)),
            done,
        )),
        Err(e) => Ok(refused(
            render(c, ctx, id, Some(&FormError::from(e))).await?,
        )),
    }
}

/// `POST /console/rollouts/{id}/pause`.
pub async fn pause(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c.app.core.rollouts().pause(&RolloutId(id.clone())).await;
    after(&c, &ctx, &id, result, "Rollout paused.").await
}

/// `POST /console/rollouts/{id}/resume`.
pub async fn resume(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c.app.core.rollouts().resume(&RolloutId(id.clone())).await;
    after(&c, &ctx, &id, result, "Rollout resumed.").await
}

/// `POST /console/rollouts/{id}/cancel`.
pub async fn cancel(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c.app.core.rollouts().cancel(&RolloutId(id.clone())).await;
    after(&c, &ctx, &id, result, "Rollout cancelled.").await
}

/// `POST /console/rollouts/{id}/next-wave`.
pub async fn next_wave(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult {
    let result = c
        .app
        .core
        .rollouts()
        .start_next_wave(&RolloutId(id.clone()))
        .await;
    after(&c, &ctx, &id, result, "Next wave started.").await
}

/// `POST /console/rollouts/{id}/approval`: approve or deny (`decision`) the wave awaiting
/// approval, with a remark.
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
        .rollouts()
        .decide(
            &RolloutId(id.clone()),
            approved,
            &ctx.caller.principal.user_name,
            form.get("remark").unwrap_or_default(),
        )
        .await;
    let done = if approved {
        "Wave approved: its batch starts."
    } else {
        "Wave denied: the rollout is cancelled."
    };
    after(&c, &ctx, &id, result, done).await
}
