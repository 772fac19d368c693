//! HTTPS dynamic registration, `POST /auth/register/device`, as the device SDKs call it
//! (the Node.js SDK's `register({…, registerURL})`): a form of `productKey`, `deviceName`,
//! `random`, `sign` (hex HMAC keyed with the ProductSecret over
//! `deviceName{dn}productKey{pk}random{random}`) and `signMethod` (`hmacsha1`, `hmacsha256`
//! or `hmacmd5`).
//!
//! The answer is always HTTP 200 with a JSON `code`, as the SDKs read it (the Node.js SDK
//! passes on any answer whose `code` is not 200): `{"code":200,"message":"success",
//! "data":{"productKey","deviceName","deviceSecret"}}`, or a refusal's code and a message
//! naming the field and the rule. The rules are the core's
//! (`Registry::register_dynamically`), shared with MQTT registration.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use ota_core::{CoreError, RegistrationChannel, RegistrationRequest};
use ota_domain::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// The route's path.
pub const PATH: &str = "/auth/register/device";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RegisterForm {
    #[serde(default)]
    product_key: String,
    #[serde(default)]
    device_name: String,
    #[serde(default)]
    random: String,
    #[serde(default)]
    sign: String,
    sign_method: Option<String>,
}

/// The body's `code` for a refusal: 460 a malformed request, 401 a signature that is not
/// the ProductSecret's, 404 an unknown product or device, 403 registration not allowed
/// (off for the product, device disabled, registered or connected already, `random`
/// reused), 429 the quota, 500 the platform failed.
fn refusal(err: &CoreError) -> (u16, String) {
    match err {
        CoreError::Domain(e) => {
            let code = match (e.code, e.field.as_deref()) {
                (ErrorCode::InvalidParameter, Some("sign")) => 401,
                (ErrorCode::InvalidParameter, _) => 460,
                (ErrorCode::NotFound, _) => 404,
                (ErrorCode::QuotaExceeded, _) => 429,
                _ => 403,
            };
            (code, e.to_string())
        }
        _ => (500, "the platform could not answer; try again".to_owned()),
    }
}

fn answer(body: Value) -> Response {
    Json(body).into_response()
}

/// `POST /auth/register/device`.
pub async fn register(
    State(s): State<AppState>,
    form: Result<axum::Form<RegisterForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(f)) = form else {
        return answer(json!({"code": 460, "message":
            "the body must be a form of productKey, deviceName, random, sign and signMethod"}));
    };
    for (field, value) in [
        ("productKey", &f.product_key),
        ("deviceName", &f.device_name),
        ("random", &f.random),
        ("sign", &f.sign),
    ] {
        if value.is_empty() {
            return answer(json!({"code": 460, "message": format!("{field} is required")}));
        }
    }
    let request = match RegistrationRequest::from_form(
        &f.product_key,
        &f.device_name,
        &f.random,
        &f.sign,
        f.sign_method.as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => return answer(json!({"code": 460, "message": e.to_string()})),
    };
    let registry = s.core.registry();
    match registry
        .register_dynamically(&request, RegistrationChannel::Https)
        .await
    {
        Ok(issued) => answer(json!({"code": 200, "message": "success", "data": issued})),
        Err(err) => {
            let (code, message) = refusal(&err);
            tracing::info!(device = %request.device, code, %message, "HTTPS registration refused");
            answer(json!({"code": code, "message": message}))
        }
    }
}
