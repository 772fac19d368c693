//! Package-signing keys of a product (secure update): list the public keys devices should
//! trust, and rotate. Only public halves ever leave the core (`SigningKeyInfo`).

use crate::body::ApiJson;
use crate::error::ApiResult;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use ota_core::{DEFAULT_OVERLAP_MS, SigningKeyInfo};
use serde::Deserialize;
use serde_json::{Value, json};

fn view(product_key: &str, keys: &[SigningKeyInfo]) -> Value {
    json!({
        "productKey": product_key,
        "algorithm": "Ed25519",
        "keys": keys,
        "trustedPublicKeys": keys.iter().filter(|k| k.trusted).map(|k| &k.public_key).collect::<Vec<_>>(),
    })
}

pub async fn list_keys(
    State(s): State<AppState>,
    Path(pk): Path<String>,
) -> ApiResult<Json<Value>> {
    let keys = s.core.signing().keys(&pk).await?;
    Ok(Json(view(&pk, &keys)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rotation {
    /// How long devices keep trusting the old key; default 7 days.
    overlap_seconds: Option<i64>,
}

pub async fn rotate(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    ApiJson(req): ApiJson<Rotation>,
) -> ApiResult<Json<Value>> {
    let overlap = req
        .overlap_seconds
        .map_or(DEFAULT_OVERLAP_MS, |s| s.saturating_mul(1000));
    let keys = s.core.signing().rotate_key(&pk, overlap).await?;
    Ok(Json(view(&pk, &keys)))
}
