//! A product's X.509 device certificate settings in the console: the CAs whose certificates
//! log devices in on the MQTT TLS listener, revoked serials, and whether a device is created
//! on its first certificate connect. A card on the product's device list.

use crate::console::Console;
use crate::console::form::{FormData, PageResult};
use crate::console::layout::{csrf, enc, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_domain::ProductKey;
use ota_domain::registry::Product;

fn back(pk: &str) -> String {
    format!("/console/products/{}", enc(pk))
}

/// The device certificates card of a product's device list.
pub async fn card(c: &Console, ctx: &Ctx, product: &Product) -> PageResult<Markup> {
    let pk = product.product_key.as_str();
    let registry = c.app.core.registry();
    let cas = registry.device_cas(&product.product_key).await?;
    let revoked = registry.revoked_certificates(&product.product_key).await?;
    let base = format!("/console/products/{}", enc(pk));
    let may = |action: &str| ctx.may_on_product(action, pk);
    Ok(html! {
        section.card #device-certificates {
            h2 { "Device certificates" }
            p.hint { "On the MQTT TLS port, a device whose certificate one of these CAs issued, with OU = " code { (pk) } " and CN = its DeviceName, connects without a password." }
            @if may("iot:UpdateProduct") {
                form method="post" action={ (base) "/certificates" } {
                    (csrf(ctx))
                    label { input type="checkbox" name="auto_create" value="on" checked[product.certificate_auto_create]; " Create devices on their first certificate connect" }
                    button type="submit" { "Save" }
                }
            } @else {
                p { "Devices are " @if !product.certificate_auto_create { "not " } "created on their first certificate connect." }
            }
            @if cas.is_empty() { p.muted { "No CA registered." } }
            @else {
                ul #device-cas {
                    @for ca in &cas {
                        li {
                            (ca.subject) " "
                            span.muted { "until " (time(ca.not_after)) }
                            @if may("iot:DeleteDeviceCa") {
                                form.inline method="post" action={ (base) "/device-cas/" (ca.ca_id) "/remove" } {
                                    (csrf(ctx))
                                    button type="submit" aria-label={ "Remove CA " (ca.subject) } { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
            @if may("iot:AddDeviceCa") {
                form method="post" action={ (base) "/device-cas" } {
                    (csrf(ctx))
                    label for="ca_certificate" { "CA certificate (PEM)" }
                    textarea #ca_certificate name="certificate" rows="4" required {}
                    button type="submit" { "Register CA" }
                }
            }
            @if !revoked.is_empty() {
                h3 { "Revoked serials" }
                ul #revoked-serials {
                    @for r in &revoked {
                        li {
                            code { (r.serial) } " "
                            @if may("iot:UnrevokeDeviceCertificate") {
                                form.inline method="post" action={ (base) "/revocations/" (r.serial) "/remove" } {
                                    (csrf(ctx))
                                    button type="submit" aria-label={ "Take back the revocation of " (r.serial) } { "Take back" }
                                }
                            }
                        }
                    }
                }
            }
            @if may("iot:RevokeDeviceCertificate") {
                form method="post" action={ (base) "/revocations" } {
                    (csrf(ctx))
                    label for="revoke_serial" { "Revoke a certificate serial (hex)" }
                    input #revoke_serial name="serial" required placeholder="e.g. 0a:1b:2c";
                    button type="submit" { "Revoke" }
                }
            }
        }
    })
}

/// `POST /console/products/{pk}/certificates`.
pub async fn set_auto_create(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let on = FormData::new(pairs).text("auto_create").is_some();
    let registry = c.app.core.registry();
    registry
        .set_certificate_auto_create(&ProductKey(pk.clone()), on)
        .await?;
    let state = if on { "on" } else { "off" };
    Ok(redirect_with(
        &back(&pk),
        &format!("Creating devices on their first certificate connect is {state}."),
    ))
}

/// `POST /console/products/{pk}/device-cas`.
pub async fn add_ca(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let pem = FormData::new(pairs).text("certificate").unwrap_or_default();
    let registry = c.app.core.registry();
    let ca = registry
        .add_device_ca(&ProductKey(pk.clone()), &pem)
        .await?;
    Ok(redirect_with(
        &back(&pk),
        &format!("CA {} registered.", ca.subject),
    ))
}

/// `POST /console/products/{pk}/device-cas/{ca_id}/remove`.
pub async fn remove_ca(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path((pk, ca_id)): Path<(String, String)>,
) -> PageResult {
    let registry = c.app.core.registry();
    registry
        .remove_device_ca(&ProductKey(pk.clone()), &ca_id)
        .await?;
    Ok(redirect_with(&back(&pk), "CA removed."))
}

/// `POST /console/products/{pk}/revocations`.
pub async fn revoke(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let serial = FormData::new(pairs).text("serial").unwrap_or_default();
    let registry = c.app.core.registry();
    let serial = registry
        .revoke_certificate(&ProductKey(pk.clone()), &serial)
        .await?;
    Ok(redirect_with(
        &back(&pk),
        &format!("Certificate serial {serial} revoked."),
    ))
}

/// `POST /console/products/{pk}/revocations/{serial}/remove`.
pub async fn unrevoke(
    State(c): State<Console>,
    Extension(_ctx): Extension<Ctx>,
    Path((pk, serial)): Path<(String, String)>,
) -> PageResult {
    let registry = c.app.core.registry();
    registry
        .unrevoke_certificate(&ProductKey(pk.clone()), &serial)
        .await?;
    Ok(redirect_with(
        &back(&pk),
        &format!("The revocation of {serial} was taken back."),
    ))
}
