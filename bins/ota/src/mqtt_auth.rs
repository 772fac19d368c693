//! Device authentication and topic ACL served to an external broker over HTTP, so devices
//! behind Mosquitto (go-auth), EMQX or VerneMQ are admitted and confined by the same rules
//! as on the embedded broker (`ota_device_gateway::{authenticate, device_may}`).
//!
//! A device admitted by `/mqtt/auth` is (re)connecting: the node treats it as the embedded
//! broker treats a CONNECT, and sends its unfinished pushes again once it has subscribed.
//!
//! `POST /mqtt/auth` (clientid, username, password) and `POST /mqtt/acl` (username,
//! clientid, topic, and either `action` = `publish`|`subscribe` as EMQX 5 sends it, or
//! `access` = `2`|`1` as rmqtt's `rmqtt-auth-http` and EMQX 4 send it), as JSON or a form.
//! Answers follow EMQX's HTTP auth format: 200 with `{"result":"allow"}` or
//! `{"result":"deny"}`; an allowed CONNECT also says whether the client is a superuser, as
//! `is_superuser` (EMQX) and `superuser` (rmqtt). With a shared secret configured, a
//! request without `Authorization: Bearer <secret>` gets 401.

use crate::bridge::DeviceBridge;
use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use ota_device_gateway::{
    Action, AdminCredential, Identity, authenticate, constant_time_eq, device_may,
    device_of_username,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;

/// What the endpoints need.
pub struct MqttAuth {
    pub devices: Arc<DeviceBridge>,
    /// Non-device clients (the platform's own nodes): allowed everything.
    pub admins: Vec<AdminCredential>,
    /// The bearer token the broker must present, if any.
    pub secret: Option<String>,
}

/// The two routes, to merge into the HTTP server.
pub fn router(auth: MqttAuth) -> Router {
    Router::new()
        .route("/mqtt/auth", post(auth_handler))
        .route("/mqtt/acl", post(acl_handler))
        .with_state(Arc::new(auth))
}

#[derive(Deserialize)]
struct AuthRequest {
    #[serde(default)]
    clientid: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct AclRequest {
    #[serde(default)]
    username: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    action: String,
    /// The numeric form: `1` subscribe, `2` publish.
    #[serde(default)]
    access: String,
}

async fn auth_handler(State(auth): State<Arc<MqttAuth>>, request: Request) -> Response {
    let body: AuthRequest = match read(&auth, request).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let outcome = authenticate(
        &auth.admins,
        &*auth.devices,
        &body.clientid,
        &body.username,
        &body.password,
    )
    .await;
    match outcome {
        Ok(Identity::Admin) => {
            Json(json!({"result": "allow", "is_superuser": true, "superuser": true}))
        }
        Ok(Identity::Device(device)) => {
            auth.devices.broker_connect(&device);
            Json(json!({"result": "allow", "is_superuser": false, "superuser": false}))
        }
        Err(refusal) => {
            tracing::debug!(username = body.username, ?refusal, "broker auth refused");
            Json(json!({"result": "deny"}))
        }
    }
    .into_response()
}

async fn acl_handler(State(auth): State<Arc<MqttAuth>>, request: Request) -> Response {
    let body: AclRequest = match read(&auth, request).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let action = match (
        body.action.to_ascii_lowercase().as_str(),
        body.access.trim(),
    ) {
        ("publish" | "pub", _) | ("", "2") => Some(Action::Publish),
        ("subscribe" | "sub", _) | ("", "1") => Some(Action::Subscribe),
        _ => None,
    };
    let allowed = if auth.admins.iter().any(|a| a.username == body.username) {
        true
    } else {
        match (device_of_username(&body.username), action) {
            (Some(device), Some(action)) => device_may(&device, action, &body.topic),
            _ => false,
        }
    };
    let result = if allowed { "allow" } else { "deny" };
    Json(json!({ "result": result })).into_response()
}

/// Checks the shared secret, then reads the body as JSON or as a form.
async fn read<T: DeserializeOwned + Send + 'static>(
    auth: &MqttAuth,
    request: Request,
) -> Result<T, Response> {
    if let Some(secret) = &auth.secret {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(presented.as_bytes(), secret.as_bytes()) {
            return Err(StatusCode::UNAUTHORIZED.into_response());
        }
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let body = if is_json {
        Json::<T>::from_request(request, &())
            .await
            .map(|Json(t)| t)
            .ok()
    } else {
        Form::<T>::from_request(request, &())
            .await
            .map(|Form(t)| t)
            .ok()
    };
    body.ok_or_else(|| (StatusCode::BAD_REQUEST, Json(json!({"result": "deny"}))).into_response())
}
