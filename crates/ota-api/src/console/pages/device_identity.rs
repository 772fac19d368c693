//! A device's identity from the console: disable (optionally cancelling its unfinished
//! tasks), enable, and reset its dynamic registration. Each is a small form on the device
//! list and the device's page; the answer returns to the page the form was on.

use crate::console::Console;
use crate::console::form::{FormData, PageResult};
use crate::console::layout::{csrf, enc};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_domain::DeviceKey;
use ota_domain::registry::Device;

/// Where to go back to: the device's page when the form says so, else the device list.
fn back(form: &FormData, pk: &str, dn: &str) -> String {
    match form.text("back").as_deref() {
        Some("detail") => format!("/console/products/{}/devices/{}", enc(pk), enc(dn)),
        _ => format!("/console/products/{}", enc(pk)),
    }
}

/// The disable or enable button of a device; `detail` when shown on the device's page
/// (which also offers to cancel the device's unfinished tasks).
pub fn toggle(ctx: &Ctx, d: &Device, detail: bool) -> Markup {
    let action = format!(
        "/console/products/{}/devices/{}/{}",
        enc(d.product_key.as_str()),
        enc(d.device_name.as_str()),
        if d.disabled { "enable" } else { "disable" }
    );
    let back = if detail { "detail" } else { "list" };
    html! {
        @if d.disabled {
            form.inline method="post" action=(action) {
                (csrf(ctx))
                input type="hidden" name="back" value=(back);
                button type="submit" aria-label={ "Enable " (d.device_name) } { "Enable" }
            }
        } @else {
            form.inline method="post" action=(action) data-confirm={ "Disable device " (d.device_name) "? It is disconnected at once." } {
                (csrf(ctx))
                input type="hidden" name="back" value=(back);
                @if detail {
                    label { input type="checkbox" name="cancel_tasks" value="on"; " Cancel its unfinished tasks" }
                    " "
                }
                button.danger type="submit" aria-label={ "Disable " (d.device_name) } { "Disable" }
            }
        }
    }
}

/// The reset button of a device's page.
pub fn reset_button(ctx: &Ctx, d: &Device) -> Markup {
    html! {
        form.inline method="post" action={ "/console/products/" (enc(d.product_key.as_str())) "/devices/" (enc(d.device_name.as_str())) "/reset" }
            data-confirm={ "Reset the registration of " (d.device_name) "? It may register again." } {
            (csrf(ctx))
            button type="submit" { "Reset registration" }
        }
    }
}

/// `POST /console/products/{pk}/devices/{dn}/disable`.
pub async fn disable(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path((pk, dn)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let cancel = form.text("cancel_tasks").is_some();
    let key = DeviceKey::new(pk.as_str(), dn.as_str());
    let cancelled = c.app.core.registry().disable_device(&key, cancel).await?;
    let note = if cancel {
        format!(
            "Device {dn} disabled; {} unfinished tasks cancelled.",
            cancelled.len()
        )
    } else {
        format!("Device {dn} disabled.")
    };
    Ok(redirect_with(&back(&form, &pk, &dn), &note))
}

/// `POST /console/products/{pk}/devices/{dn}/enable`.
pub async fn enable(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path((pk, dn)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let key = DeviceKey::new(pk.as_str(), dn.as_str());
    c.app.core.registry().enable_device(&key).await?;
    Ok(redirect_with(
        &back(&form, &pk, &dn),
        &format!("Device {dn} enabled."),
    ))
}

/// `POST /console/products/{pk}/devices/{dn}/reset`.
pub async fn reset(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path((pk, dn)): Path<(String, String)>,
) -> PageResult {
    let key = DeviceKey::new(pk.as_str(), dn.as_str());
    c.app.core.registry().reset_device(&key).await?;
    Ok(redirect_with(
        &format!("/console/products/{}/devices/{}", enc(&pk), enc(&dn)),
        &format!("The registration of {dn} was reset; it may register again."),
    ))
}
