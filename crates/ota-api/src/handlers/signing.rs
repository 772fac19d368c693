//! Package-signing keys of a product (secure update): list the public keys devices should
//! trust, and rotate. Only public halves ever leave the core (`SigningKeyInfo`).

use crate::body::{ApiJson, ApiPath};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use ota_core::{DEFAULT_OVERLAP_MS, SigningKeyInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A product's package-signing keys.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeys {
    pub product_key: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    pub keys: Vec<views::SigningKeyView>,
    /// The public keys devices should trust now (base64).
    pub trusted_public_keys: Vec<String>,
}

fn view(product_key: &str, keys: &[SigningKeyInfo]) -> SigningKeys {
    SigningKeys {
        product_key: product_key.to_owned(),
        algorithm: "Ed25519",
        keys: keys.iter().map(views::signing_key).collect(),
        trusted_public_keys: keys
            .iter()
            .filter(|k| k.trusted)
            .map(|k| k.public_key.clone())
            .collect(),
    }
}

/// Package-signing public keys (created on first use) and the ones devices should trust
#[utoipa::path(
    get,
    path = "/products/{product_key}/signing-keys",
    tag = "signing",
    params(("product_key" = String, Path)),
    responses(
        (status = 200, description = "Success", body = SigningKeys),
        ErrorResponses,
    ),
)]
pub async fn list_keys(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<SigningKeys>> {
    let keys = s.core.signing().keys(&pk).await?;
    Ok(Json(view(&pk, &keys)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rotation {
    /// How long devices keep trusting the old key; default 7 days.
    overlap_seconds: Option<i64>,
}

/// Rotate the package-signing key; the old one stays trusted for overlapSeconds
#[utoipa::path(
    post,
    path = "/products/{product_key}/signing-keys/rotate",
    tag = "signing",
    params(("product_key" = String, Path)),
    request_body = Rotation,
    responses(
        (status = 200, description = "Success", body = SigningKeys),
        ErrorResponses,
    ),
)]
pub async fn rotate(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<Rotation>,
) -> ApiResult<Json<SigningKeys>> {
    let overlap = req
        .overlap_seconds
        .map_or(DEFAULT_OVERLAP_MS, |s| s.saturating_mul(1000));
    let keys = s.core.signing().rotate_key(&pk, overlap).await?;
    Ok(Json(view(&pk, &keys)))
}
