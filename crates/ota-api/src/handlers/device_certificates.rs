//! A product's X.509 device certificate settings: the CA certificates whose device
//! certificates log devices in on the MQTT TLS listener, and the serials revoked.

use crate::body::{ApiJson, ApiPath};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views::Items;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_core::{DeviceCaRow, RevokedCertificateRow};
use ota_domain::ProductKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeviceCa {
    /// The CA certificate, one PEM `CERTIFICATE` block (basicConstraints `CA:TRUE`, not
    /// expired).
    certificate: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeviceCaView {
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub ca_id: String,
    pub product_key: String,
    pub subject: String,
    /// When the CA certificate expires, epoch ms.
    pub not_after: i64,
    pub certificate: String,
    pub created_at: i64,
}

fn ca_view(row: &DeviceCaRow) -> DeviceCaView {
    DeviceCaView {
        ca_id: row.ca_id.clone(),
        product_key: row.product_key.to_string(),
        subject: row.subject.clone(),
        not_after: row.not_after,
        certificate: row.certificate_pem.clone(),
        created_at: row.created_at,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// The device certificate's serial number in hexadecimal, optionally with `:` between
    /// bytes.
    serial: String,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedCertificateView {
    /// Lower-case hex without leading zeros.
    pub serial: String,
    pub revoked_at: i64,
}

fn revoked_view(row: &RevokedCertificateRow) -> RevokedCertificateView {
    RevokedCertificateView {
        serial: row.serial.clone(),
        revoked_at: row.revoked_at,
    }
}

/// Register a CA certificate for a product's device certificates
///
/// A device presenting, on the MQTT TLS listener, a certificate this CA issued whose subject
/// has OU = the ProductKey and CN = its DeviceName logs in without a password.
#[utoipa::path(
    post,
    path = "/products/{product_key}/device-cas",
    tag = "registry",
    params(("product_key" = String, Path)),
    request_body = NewDeviceCa,
    responses(
        (status = 201, description = "Registered", body = DeviceCaView),
        ErrorResponses,
    ),
)]
pub async fn add_device_ca(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<NewDeviceCa>,
) -> ApiResult<(StatusCode, Json<DeviceCaView>)> {
    let row = s
        .core
        .registry()
        .add_device_ca(&ProductKey(pk), &req.certificate)
        .await?;
    Ok((StatusCode::CREATED, Json(ca_view(&row))))
}

/// A product's registered device CAs
#[utoipa::path(
    get,
    path = "/products/{product_key}/device-cas",
    tag = "registry",
    params(("product_key" = String, Path)),
    responses(
        (status = 200, description = "Success", body = Items<DeviceCaView>),
        ErrorResponses,
    ),
)]
pub async fn list_device_cas(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<Items<DeviceCaView>>> {
    let rows = s.core.registry().device_cas(&ProductKey(pk)).await?;
    Ok(Json(Items::new(rows.iter().map(ca_view).collect())))
}

/// Remove a device CA from a product
///
/// Certificates it issued no longer log devices in; devices connected with one stay
/// connected until they reconnect.
#[utoipa::path(
    delete,
    path = "/products/{product_key}/device-cas/{ca_id}",
    tag = "registry",
    params(("product_key" = String, Path), ("ca_id" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn remove_device_ca(
    State(s): State<AppState>,
    ApiPath((pk, ca_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .remove_device_ca(&ProductKey(pk), &ca_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke a device certificate by serial
///
/// A device presenting a certificate with this serial is refused at CONNECT, whichever CA
/// issued it. Revoking a serial twice changes nothing.
#[utoipa::path(
    post,
    path = "/products/{product_key}/revoked-certificates",
    tag = "registry",
    params(("product_key" = String, Path)),
    request_body = NewRevocation,
    responses(
        (status = 201, description = "Revoked", body = RevokedCertificateView),
        ErrorResponses,
    ),
)]
pub async fn revoke_certificate(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<NewRevocation>,
) -> ApiResult<(StatusCode, Json<RevokedCertificateView>)> {
    let pk = ProductKey(pk);
    let registry = s.core.registry();
    let serial = registry.revoke_certificate(&pk, &req.serial).await?;
    let revoked = registry.revoked_certificates(&pk).await?;
    let row = revoked.iter().find(|r| r.serial == serial);
    Ok((
        StatusCode::CREATED,
        Json(match row {
            Some(row) => revoked_view(row),
            None => RevokedCertificateView {
                serial,
                revoked_at: 0,
            },
        }),
    ))
}

/// A product's revoked device certificate serials, most recent first
#[utoipa::path(
    get,
    path = "/products/{product_key}/revoked-certificates",
    tag = "registry",
    params(("product_key" = String, Path)),
    responses(
        (status = 200, description = "Success", body = Items<RevokedCertificateView>),
        ErrorResponses,
    ),
)]
pub async fn list_revoked_certificates(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<Items<RevokedCertificateView>>> {
    let rows = s
        .core
        .registry()
        .revoked_certificates(&ProductKey(pk))
        .await?;
    Ok(Json(Items::new(rows.iter().map(revoked_view).collect())))
}

/// Take a certificate revocation back
#[utoipa::path(
    delete,
    path = "/products/{product_key}/revoked-certificates/{serial}",
    tag = "registry",
    params(("product_key" = String, Path), ("serial" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn unrevoke_certificate(
    State(s): State<AppState>,
    ApiPath((pk, serial)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .unrevoke_certificate(&ProductKey(pk), &serial)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
