//! Server-generated deltas on a package's page: each source version with its generation
//! status, progress, size against the full image, and a form to ask for more.
//!
//! Why on the package page: deciding which versions deserve a delta is a per-package choice
//! the operator makes while looking at that package (and at the version distribution).

use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{badge, csrf, enc, field, size, time_opt};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_core::{DeltaView, PAYOFF_PERCENT};
use ota_domain::FirmwareId;
use ota_domain::firmware::{Firmware, FirmwareType};

/// Versions typed as `1.0, 1.1 1.2`.
pub fn versions(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split([',', ' '])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The deltas section of a package page (nothing for a package deltas cannot be made of).
pub fn section(
    ctx: &Ctx,
    f: &Firmware,
    deltas: &[DeltaView],
    form: &FormData,
    err: Option<&FormError>,
) -> Markup {
    let full: u64 = f.files.iter().map(|x| x.size).sum();
    if f.firmware_type != FirmwareType::Full || f.multi_file {
        return html! {};
    }
    html! {
        h2 { "Deltas" }
        p.muted { "A device that reports a source version gets the delta instead of the full package when the delta is at most " (PAYOFF_PERCENT) "% of it." }
        @if deltas.is_empty() { p.muted #no-deltas { "No delta yet." } }
        @else {
            table #deltas {
                thead { tr { th scope="col" { "From version" } th scope="col" { "Status" } th scope="col" { "Progress" } th scope="col" { "Size" } th scope="col" { "Of full" } th scope="col" { "Device memory" } th scope="col" { "Format" } th scope="col" { "Finished" } } }
                tbody {
                    @for d in deltas {
                        tr data-src=(d.src_version) {
                            td { (d.src_version) }
                            td { (badge(&d.status)) @if let Some(e) = &d.error { " " span.muted { (e) } } }
                            td.num { progress max="100" value=(d.progress) {} " " (d.progress) "%" }
                            td.num { @if let Some(s) = d.size { (size(s.max(0) as u64)) } @else { "—" } }
                            td.num { @if let (Some(s), true) = (d.size, full > 0) { (format!("{:.1}%", s.max(0) as f64 * 100.0 / full as f64)) } @else { "—" } }
                            td.num title="Memory a device needs to apply it; a device announcing less gets the full package" { @if let Some(m) = d.apply_memory { (size(m.max(0) as u64)) } @else { "—" } }
                            td.num { @if let Some(v) = d.format { "v" (v) } @else { "—" } }
                            td { (time_opt(d.finished_at)) }
                        }
                    }
                }
            }
        }
        @if ctx.may_on_product("iot:CreateOTADelta", f.product_key.as_str()) {
            form #delta-form method="post" action={ "/console/packages/" (enc(f.firmware_id.as_str())) "/deltas" } {
                (csrf(ctx))
                (field("Generate deltas from versions", "delta_versions", "src_versions", err, Some("Earlier versions of this module with a full package, separated by commas."),
                    html! { input #delta_versions name="src_versions" required value=[form.get("src_versions")] data-msg="name at least one version"; }))
                button type="submit" { "Generate" }
            }
        }
    }
}

/// `POST /console/packages/{id}/deltas`.
pub async fn request(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let wanted = versions(form.get("src_versions"));
    let result = async {
        if wanted.is_empty() {
            return Err(FormError {
                field: Some("src_versions".into()),
                message: "name at least one version".into(),
            });
        }
        c.app
            .core
            .deltas()
            .request_deltas(&FirmwareId(id.clone()), &wanted)
            .await
            .map_err(FormError::from)
    }
    .await;
    match result {
        Ok(_) => Ok(redirect_with(
            &format!("/console/packages/{}", enc(&id)),
            "Delta generation queued.",
        )),
        Err(err) => Ok(refused(
            super::packages::render(&c, &ctx, &id, &form, Some(&err)).await?,
        )),
    }
}
