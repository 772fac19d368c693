//! Device identity from the console: disable a device (optionally cancelling its unfinished
//! tasks), enable it, reset its dynamic registration, and a product's dynamic registration
//! settings. Each is a small form on the device list or the device's page; the answer
//! returns to the page the form was on.

use crate::console::Console;
use crate::console::form::{FormData, PageResult};
use crate::console::layout::{csrf, enc};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_domain::registry::{Device, Product};
use ota_domain::{DeviceKey, ProductKey};

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
    let verb = if d.disabled {
        "iot:EnableThing"
    } else {
        "iot:DisableThing"
    };
    if !ctx.may_on_product(verb, d.product_key.as_str()) {
        return html! {};
    }
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
    if !ctx.may_on_product("iot:ResetThing", d.product_key.as_str()) {
        return html! {};
    }
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

/// The dynamic registration card of a product's device list.
pub fn registration_card(ctx: &Ctx, product: &Product) -> Markup {
    let action = format!(
        "/console/products/{}/registration",
        enc(product.product_key.as_str())
    );
    html! {
        section.card {
            h2 { "Dynamic registration" }
            p.hint { "Devices that know the ProductSecret obtain their own credentials (MQTT register or regnwl, HTTPS /auth/register/device)." }
            @if ctx.may_on_product("iot:UpdateProduct", product.product_key.as_str()) {
                form method="post" action=(action) {
                    (csrf(ctx))
                    label { input type="checkbox" name="dynamic_register" value="on" checked[product.dynamic_register]; " Allow dynamic registration" }
                    label for="regnwl_quota" { "Devices regnwl may create" }
                    input #regnwl_quota type="number" name="regnwl_quota" min="0" max="1000000" value=(product.regnwl_quota);
                    button type="submit" { "Save" }
                }
            } @else {
                dl.props {
                    dt { "Dynamic registration" } dd { @if product.dynamic_register { "allowed" } @else { "off" } }
                    dt { "Devices regnwl may create" } dd { (product.regnwl_quota) }
                }
            }
        }
    }
}

/// `POST /console/products/{pk}/registration`.
pub async fn set_registration(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let allowed = form.text("dynamic_register").is_some();
    let quota = match form.text("regnwl_quota") {
        Some(q) => Some(q.trim().parse::<i64>().map_err(|_| {
            ota_domain::DomainError::invalid("regnwl_quota", "must be a whole number 0-1000000")
        })?),
        None => None,
    };
    c.app
        .core
        .registry()
        .set_dynamic_registration(&ProductKey(pk.clone()), Some(allowed), quota)
        .await?;
    let state = if allowed { "allowed" } else { "off" };
    Ok(redirect_with(
        &format!("/console/products/{}", enc(&pk)),
        &format!("Dynamic registration {state}."),
    ))
}
