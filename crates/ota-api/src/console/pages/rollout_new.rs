//! The rollout wizard: a package delivered in waves. The batch policy every wave runs with
//! (the batch wizard's inputs that make sense for every wave: push rate, retries, timeout,
//! failure gate, push or pull, confirmation, protocol, source versions, tags) and an
//! editable list of waves (`rollout_waves`). Like the batch wizard, `console.js` explains a
//! bad value next to its field before the form is sent; the server maps the inputs to the
//! raw `RolloutRequest` and calls the core directly, so the rules and messages are the
//! domain's (`Waves.2.Percent: …`).
//!
//! Approval is asked per wave: the policy's `approval_required` only means "the first
//! wave's", so the form has no second checkbox for it.

use super::batch_params::{
    push_fields, src_versions, src_versions_picker, tag_rows, upgrade_params,
};
use super::products::refused;
use super::rollout_waves::{wave_inputs, wave_rows};
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, csrf, enc, field};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_core::Page;
use ota_domain::FirmwareId;
use ota_domain::rollout::RolloutRequest;

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
    let known: Vec<(String, i64)> = core
        .registry()
        .version_distribution(&f.product_key, &f.module_name)
        .await?
        .into_iter()
        .filter(|(v, _)| *v != f.dest_version)
        .collect();
    let (groups, _) = core
        .registry()
        .list_groups(Some(&f.product_key), Page::new(0, 200))
        .await?;
    let fresh = form.pairs.is_empty();
    let body = html! {
        h1 { "New rollout" }
        p.lead { "Package " strong { (f.firmware_name) } " updates module " code { (f.module_name) } " to " strong { (f.dest_version) }
            " in waves: each wave is a batch of devices no earlier wave took, started when the one before met its success condition." }
        (layout::error_summary(err))
        form #rollout-form method="post" action={ "/console/packages/" (enc(id)) "/rollouts" } data-validate novalidate {
            (csrf(ctx))
            section.card.step {
                h2 { span.num { "1" } " Rollout" }
                div.grid2 {
                    (field("Name (optional)", "rollout_name", "Name", err, None,
                        html! { input #rollout_name name="name" maxlength="64" value=[form.get("name")]; }))
                    (field("Description (optional)", "rollout_description", "Description", err, None,
                        html! { input #rollout_description name="description" maxlength="256" value=[form.get("description")]; }))
                }
                (src_versions_picker("src_rollout", &known, form, err, false))
            }
            section.card.step {
                h2 { span.num { "2" } " Waves" }
                p.hint { "Shares are of the devices eligible when the rollout is created and add up to at most 100 %." }
                (wave_rows(form, err, &groups))
            }
            section.card.step {
                h2 { span.num { "3" } " Every wave's batch" }
                div.grid3 {
                    (push_fields(form, err))
                    (field("Download protocol", "download_protocol", "DownloadProtocol", err, Some("MQTT carries single files up to 16 MB."), html! {
                        select #download_protocol name="download_protocol" {
                            option value="HTTPS" { "HTTPS" }
                            option value="MQTT" selected[form.get("download_protocol") == Some("MQTT")] { "MQTT" }
                        }
                    }))
                }
                div.choices.column {
                    label { input type="checkbox" name="need_push" value="1" checked[fresh || form.flag("need_push")]; " Push the update to devices (otherwise devices ask for it)" }
                    label { input type="checkbox" name="need_confirm" value="1" checked[form.flag("need_confirm")]; " Require confirmation in the app before a device updates" }
                }
                @if let Some(e) = err.filter(|e| e.is_for("FirmwareId") || e.is_for("ProductKey")) { p.field-error { (e.summary()) } }
                (tag_rows(form, err))
            }
            div.actions {
                button.primary type="submit" { "Create rollout" }
                a href={ "/console/packages/" (enc(id)) } { "Cancel" }
            }
        }
    };
    Ok(layout::page(
        ctx,
        "New rollout",
        Nav::Product {
            pk: f.product_key.as_str(),
            name: &product.product_name,
            tab: Tab::Packages,
        },
        body,
    ))
}

/// `GET /console/packages/{id}/rollouts/new`.
pub async fn form(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &id, &FormData::default(), None).await
}

/// The raw request: the policy inputs the batch wizard also has (those this form leaves
/// out read as their defaults), the source versions and the waves.
fn request(form: &FormData) -> Result<RolloutRequest, FormError> {
    let mut params = upgrade_params(form)?;
    params.approval_required = None;
    Ok(RolloutRequest {
        name: form.text("name"),
        description: form.text("description"),
        src_versions: src_versions(form),
        params,
        waves: wave_inputs(form)?,
    })
}

/// `POST /console/packages/{id}/rollouts`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let result = async {
        let request = request(&form)?;
        Ok::<_, FormError>(
            c.app
                .core
                .rollouts()
                .create(&FirmwareId(id.clone()), None, request)
                .await?,
        )
    }
    .await;
    match result {
        Ok(rollout) => {
            let first = rollout.current_wave();
            let flash = match first.state.job_id.as_ref() {
                Some(job) => format!("Rollout created: wave 1 started as batch {job}."),
                None if first.plan.approval_required => {
                    "Rollout created: wave 1 awaits approval.".to_owned()
                }
                None => "Rollout created: wave 1 is starting.".to_owned(),
            };
            Ok(redirect_with(
                &format!("/console/rollouts/{}", enc(rollout.rollout_id.as_str())),
                &flash,
            ))
        }
        Err(err) => Ok(refused(render(&c, &ctx, &id, &form, Some(&err)).await?)),
    }
}
