//! The native API's checks: each route's RAM action (one table, also shown in the OpenAPI
//! document as `x-ota-action` and in docs/access-control.md), the ids a request names
//! (path, query and the JSON body's top-level fields), and the middleware that checks them
//! and writes the audit log.

use super::audit::{self, Outcome};
use super::{Caller, FORBIDDEN, Refusal, check_all};
use crate::auth::MAX_SIGNED_BODY;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ota_core::NamedResources;
use serde_json::Value;

/// The action of creating a batch depends on its kind.
pub const CREATE_JOB_BY_KIND: &str =
    "iot:CreateOTAVerifyJob|CreateOTAStaticUpgradeJob|CreateOTADynamicUpgradeJob";

/// Every native route (method, path under `/api/v1`) and the RAM action it performs.
pub const ROUTE_ACTIONS: &[(&str, &str, &str)] = &[
    ("POST", "/debug/clock", "iot:AdvanceClock"),
    ("GET", "/firmwares", "iot:ListOTAFirmware"),
    ("POST", "/firmwares", "iot:CreateOTAFirmware"),
    (
        "DELETE",
        "/firmwares/{firmware_id}",
        "iot:DeleteOTAFirmware",
    ),
    ("GET", "/firmwares/{firmware_id}", "iot:QueryOTAFirmware"),
    ("PATCH", "/firmwares/{firmware_id}", "iot:ModifyOTAFirmware"),
    ("GET", "/firmwares/{firmware_id}/deltas", "iot:ListOTADelta"),
    (
        "POST",
        "/firmwares/{firmware_id}/deltas",
        "iot:CreateOTADelta",
    ),
    (
        "GET",
        "/firmwares/{firmware_id}/jobs",
        "iot:ListOTAJobByFirmware",
    ),
    ("POST", "/firmwares/{firmware_id}/jobs", CREATE_JOB_BY_KIND),
    (
        "GET",
        "/firmwares/{firmware_id}/rollouts",
        "iot:ListOTARollout",
    ),
    (
        "POST",
        "/firmwares/{firmware_id}/rollouts",
        "iot:CreateOTARollout",
    ),
    ("GET", "/groups", "iot:QueryDeviceGroupList"),
    ("POST", "/groups", "iot:CreateDeviceGroup"),
    ("DELETE", "/groups/{group_id}", "iot:DeleteDeviceGroup"),
    ("GET", "/groups/{group_id}", "iot:QueryDeviceGroupInfo"),
    (
        "GET",
        "/groups/{group_id}/members",
        "iot:QueryDeviceListByDeviceGroup",
    ),
    (
        "POST",
        "/groups/{group_id}/members",
        "iot:BatchAddDeviceGroupRelations",
    ),
    ("GET", "/jobs/{job_id}", "iot:QueryOTAJob"),
    ("PATCH", "/jobs/{job_id}", "iot:UpdateOTAJob"),
    ("POST", "/jobs/{job_id}/cancel", "iot:CancelOTAJob"),
    (
        "POST",
        "/jobs/{job_id}/cancel-strategy",
        "iot:CancelOTAStrategyByJob",
    ),
    ("POST", "/jobs/{job_id}/pause", "iot:PauseOTAJob"),
    ("POST", "/jobs/{job_id}/resume", "iot:ResumeOTAJob"),
    ("POST", "/jobs/{job_id}/approve", "iot:ApproveOTAJob"),
    ("POST", "/jobs/{job_id}/deny", "iot:DenyOTAJob"),
    ("GET", "/jobs/{job_id}/tasks", "iot:ListOTATaskByJob"),
    ("GET", "/rollouts/{rollout_id}", "iot:QueryOTARollout"),
    (
        "POST",
        "/rollouts/{rollout_id}/pause",
        "iot:PauseOTARollout",
    ),
    (
        "POST",
        "/rollouts/{rollout_id}/resume",
        "iot:ResumeOTARollout",
    ),
    (
        "POST",
        "/rollouts/{rollout_id}/cancel",
        "iot:CancelOTARollout",
    ),
    (
        "POST",
        "/rollouts/{rollout_id}/next-wave",
        "iot:StartOTARolloutWave",
    ),
    (
        "POST",
        "/rollouts/{rollout_id}/approve",
        "iot:ApproveOTAJob",
    ),
    ("POST", "/rollouts/{rollout_id}/deny", "iot:DenyOTAJob"),
    ("GET", "/nodes", "iot:ListNodes"),
    ("GET", "/products", "iot:QueryProductList"),
    ("POST", "/products", "iot:CreateProduct"),
    ("DELETE", "/products/{product_key}", "iot:DeleteProduct"),
    ("GET", "/products/{product_key}", "iot:QueryProduct"),
    ("PATCH", "/products/{product_key}", "iot:UpdateProduct"),
    (
        "GET",
        "/products/{product_key}/device-cas",
        "iot:ListDeviceCa",
    ),
    (
        "POST",
        "/products/{product_key}/device-cas",
        "iot:AddDeviceCa",
    ),
    (
        "DELETE",
        "/products/{product_key}/device-cas/{ca_id}",
        "iot:DeleteDeviceCa",
    ),
    ("GET", "/products/{product_key}/devices", "iot:QueryDevice"),
    (
        "POST",
        "/products/{product_key}/devices",
        "iot:BatchRegisterDevice",
    ),
    (
        "DELETE",
        "/products/{product_key}/devices/{device_name}",
        "iot:DeleteDevice",
    ),
    (
        "GET",
        "/products/{product_key}/devices/{device_name}",
        "iot:QueryDeviceDetail",
    ),
    (
        "POST",
        "/products/{product_key}/devices/{device_name}/disable",
        "iot:DisableThing",
    ),
    (
        "POST",
        "/products/{product_key}/devices/{device_name}/enable",
        "iot:EnableThing",
    ),
    (
        "POST",
        "/products/{product_key}/devices/{device_name}/reset",
        "iot:ResetThing",
    ),
    (
        "PUT",
        "/products/{product_key}/devices/{device_name}/tags",
        "iot:SaveDeviceProp",
    ),
    (
        "GET",
        "/products/{product_key}/devices/{device_name}/tasks",
        "iot:ListOTATaskByDevice",
    ),
    (
        "GET",
        "/products/{product_key}/modules",
        "iot:ListOTAModuleByProduct",
    ),
    (
        "POST",
        "/products/{product_key}/modules",
        "iot:CreateOTAModule",
    ),
    (
        "DELETE",
        "/products/{product_key}/modules/{module_name}",
        "iot:DeleteOTAModule",
    ),
    (
        "PATCH",
        "/products/{product_key}/modules/{module_name}",
        "iot:UpdateOTAModule",
    ),
    (
        "GET",
        "/products/{product_key}/revoked-certificates",
        "iot:ListRevokedDeviceCertificate",
    ),
    (
        "POST",
        "/products/{product_key}/revoked-certificates",
        "iot:RevokeDeviceCertificate",
    ),
    (
        "DELETE",
        "/products/{product_key}/revoked-certificates/{serial}",
        "iot:UnrevokeDeviceCertificate",
    ),
    (
        "GET",
        "/products/{product_key}/signing-keys",
        "iot:ListOTASigningKey",
    ),
    (
        "POST",
        "/products/{product_key}/signing-keys/rotate",
        "iot:RotateOTASigningKey",
    ),
    (
        "GET",
        "/products/{product_key}/versions",
        "iot:QueryOTAVersionDistribution",
    ),
    ("POST", "/tasks/cancel", "iot:CancelOTATask"),
    ("POST", "/tasks/confirm", "iot:ConfirmOTATask"),
    ("POST", "/tasks/reupgrade", "iot:ReupgradeOTATask"),
    ("PUT", "/uploads/{file_name}", "iot:GenerateOTAUploadURL"),
    ("GET", "/users", "ram:ListUsers"),
    ("POST", "/users", "ram:CreateUser"),
    ("GET", "/users/{user_name}", "ram:GetUser"),
    ("PATCH", "/users/{user_name}", "ram:UpdateUser"),
    ("DELETE", "/users/{user_name}", "ram:DeleteUser"),
    (
        "GET",
        "/users/{user_name}/access-keys",
        "ram:ListAccessKeys",
    ),
    (
        "POST",
        "/users/{user_name}/access-keys",
        "ram:CreateAccessKey",
    ),
    (
        "GET",
        "/users/{user_name}/policies",
        "ram:ListPoliciesForUser",
    ),
    (
        "POST",
        "/users/{user_name}/policies",
        "ram:AttachPolicyToUser",
    ),
    (
        "DELETE",
        "/users/{user_name}/policies/{policy_name}",
        "ram:DetachPolicyFromUser",
    ),
    ("GET", "/users/{user_name}/tokens", "ram:ListTokens"),
    ("POST", "/users/{user_name}/tokens", "ram:CreateToken"),
    ("DELETE", "/tokens/{token_id}", "ram:DeleteToken"),
    ("GET", "/access-keys", "ram:ListAccessKeys"),
    (
        "PATCH",
        "/access-keys/{access_key_id}",
        "ram:UpdateAccessKey",
    ),
    (
        "DELETE",
        "/access-keys/{access_key_id}",
        "ram:DeleteAccessKey",
    ),
    ("GET", "/policies", "ram:ListPolicies"),
    ("POST", "/policies", "ram:CreatePolicy"),
    ("GET", "/policies/{policy_name}", "ram:GetPolicy"),
    ("PUT", "/policies/{policy_name}", "ram:CreatePolicyVersion"),
    ("DELETE", "/policies/{policy_name}", "ram:DeletePolicy"),
    ("GET", "/audit-events", "actiontrail:LookupEvents"),
    ("GET", "/webhooks", "iot:ListOTAWebhook"),
    ("POST", "/webhooks", "iot:CreateOTAWebhook"),
    ("GET", "/webhooks/{webhook_id}", "iot:QueryOTAWebhook"),
    ("PATCH", "/webhooks/{webhook_id}", "iot:UpdateOTAWebhook"),
    ("DELETE", "/webhooks/{webhook_id}", "iot:DeleteOTAWebhook"),
    (
        "GET",
        "/webhooks/{webhook_id}/deliveries",
        "iot:ListOTAWebhookDelivery",
    ),
    ("POST", "/webhooks/{webhook_id}/test", "iot:TestOTAWebhook"),
];

/// The action of a route, when the table has it.
pub fn route_action(method: &str, path: &str) -> Option<&'static str> {
    super::action_in(ROUTE_ACTIONS, method, path)
}

/// A batch creation's action from its body's `kind` (static when absent, as the
/// handler reads it).
fn job_action(body: &Value) -> &'static str {
    match body.get("kind").and_then(Value::as_str) {
        Some("verify") => "iot:CreateOTAVerifyJob",
        Some("dynamic") => "iot:CreateOTADynamicUpgradeJob",
        _ => "iot:CreateOTAStaticUpgradeJob",
    }
}

/// The ids a request names, from its path parameters, query and JSON body.
fn named_resources(
    path: &[(String, String)],
    query: &[(String, String)],
    body: &Value,
) -> NamedResources {
    let mut named = NamedResources::default();
    let mut add = |key: &str, value: &str| {
        let list = match key {
            "product_key" => &mut named.product_keys,
            "firmware_id" => &mut named.firmware_ids,
            "job_id" => &mut named.job_ids,
            "rollout_id" => &mut named.rollout_ids,
            "group_id" => &mut named.group_ids,
            "iot_id" => &mut named.iot_ids,
            "task_ids" | "task_id" => &mut named.task_ids,
            _ => return,
        };
        if !value.is_empty() {
            list.push(value.to_owned());
        }
    };
    for (key, value) in path.iter().chain(query) {
        add(key, value);
    }
    if let Value::Object(map) = body {
        for (key, value) in map {
            match value {
                Value::String(s) => add(key, s),
                Value::Array(items) => {
                    for item in items.iter().filter_map(Value::as_str) {
                        add(key, item);
                    }
                }
                _ => {}
            }
        }
    }
    named
}

fn is_mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Middleware after the signature check: checks the route's action against the caller's
/// policies, runs the handler, and writes denials and mutating calls to the audit log.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
        return ApiError::unauthorized("MissingAuthentication", "the request is not signed")
            .into_response();
    };
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/api/v1").to_owned())
        .unwrap_or_default();
    let Some(listed) = route_action(parts.method.as_str(), &template) else {
        // A route missing from the table is refused, never let through unchecked.
        tracing::error!(method = %parts.method, path = %template, "route has no RAM action");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            FORBIDDEN,
            None,
            "this route has no access rule",
        )
        .into_response();
    };
    let path_params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|params| {
            params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    // Uploads stream their file; every other body was read whole by the signature check.
    let is_upload = template.starts_with("/uploads/");
    let (body, json) = if is_upload || !is_mutating(&parts.method) {
        (body, Value::Null)
    } else {
        match axum::body::to_bytes(body, MAX_SIGNED_BODY).await {
            Ok(bytes) => {
                let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                (Body::from(bytes), json)
            }
            Err(_) => {
                return ApiError::invalid(
                    "body",
                    format!("must be at most {MAX_SIGNED_BODY} bytes"),
                )
                .into_response();
            }
        }
    };
    let action = if listed == CREATE_JOB_BY_KIND {
        job_action(&json)
    } else {
        listed
    };
    let event_name = action.split_once(':').map_or(action, |(_, name)| name);
    let named = named_resources(&path_params, &query, &json);
    let mut parameters = serde_json::Map::new();
    for (key, value) in path_params.iter().chain(&query) {
        parameters.insert(key.clone(), Value::String(value.clone()));
    }
    if !json.is_null() {
        parameters.insert("body".to_owned(), json.clone());
    }
    // Creating a user with policies also attaches them: both must be allowed, or
    // ram:CreateUser alone could hand out AdministratorAccess.
    let mut actions = vec![action];
    if action == "ram:CreateUser"
        && json
            .get("policies")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
    {
        actions.push("ram:AttachPolicyToUser");
    }
    let named_ids: Vec<String> = named
        .ids()
        .into_iter()
        .chain(path_params.iter().map(|(_, value)| value.clone()))
        .collect();
    let denial = Outcome {
        face: "api",
        event_name,
        parameters: Value::Object(parameters.clone()),
        result: String::new(),
        error_message: None,
        resources: named_ids.clone(),
    };
    match check_all(&state.core, &caller, &actions, &named, denial).await {
        Ok(()) => {}
        Err(Refusal::Denied(message)) => {
            return ApiError::new(StatusCode::FORBIDDEN, FORBIDDEN, None, message).into_response();
        }
        Err(Refusal::Failed(err)) => return ApiError::from(err).into_response(),
    }
    let mutating = is_mutating(&parts.method);
    let response = next.run(Request::from_parts(parts, body)).await;
    if !mutating {
        return response;
    }
    let (response_parts, response_body) = response.into_parts();
    let bytes = axum::body::to_bytes(response_body, usize::MAX)
        .await
        .unwrap_or_default();
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let (result, error_message) = if response_parts.status.is_success() {
        ("Success".to_owned(), None)
    } else {
        (
            answer
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .to_owned(),
            answer
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
    };
    let mut resources = named_ids;
    if response_parts.status.is_success() {
        resources.extend(audit::ids_in_answer(&answer));
    }
    audit::record(
        &state.core,
        Some(&caller),
        Outcome {
            face: "api",
            event_name,
            parameters: Value::Object(parameters),
            result,
            error_message,
            resources,
        },
    )
    .await;
    Response::from_parts(response_parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_route_has_one_action() {
        let doc = serde_json::to_value(crate::openapi::build()).unwrap();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            let path = path.trim_start_matches("/api/v1");
            for method in item.as_object().unwrap().keys() {
                let method = method.to_ascii_uppercase();
                assert!(
                    route_action(&method, path).is_some(),
                    "{method} {path} has no RAM action"
                );
                seen += 1;
            }
        }
        assert_eq!(
            seen,
            ROUTE_ACTIONS.len(),
            "the table lists a route that does not exist"
        );
        let mut keys: Vec<_> = ROUTE_ACTIONS.iter().map(|(m, p, _)| (m, p)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), ROUTE_ACTIONS.len(), "a route is listed twice");
    }

    #[test]
    fn docs_access_control_lists_every_route_with_its_action() {
        let doc = include_str!("../../../../docs/access-control.md");
        for (method, path, action) in ROUTE_ACTIONS {
            let start = format!("| {method} | `/api/v1{path}` | ");
            let line = doc
                .lines()
                .find(|l| l.starts_with(&start))
                .unwrap_or_else(|| panic!("docs/access-control.md has no row for {method} {path}"));
            let named = if *action == CREATE_JOB_BY_KIND {
                "iot:CreateOTAStaticUpgradeJob"
            } else {
                action
            };
            assert!(line.contains(&format!("`{named}`")), "{line}");
        }
    }

    #[test]
    fn a_batch_creation_is_the_action_of_its_kind() {
        let cases = [
            (json!({"kind": "static"}), "iot:CreateOTAStaticUpgradeJob"),
            (json!({"kind": "dynamic"}), "iot:CreateOTADynamicUpgradeJob"),
            (json!({"kind": "verify"}), "iot:CreateOTAVerifyJob"),
            (json!({}), "iot:CreateOTAStaticUpgradeJob"),
        ];
        for (body, want) in cases {
            assert_eq!(job_action(&body), want, "{body}");
        }
    }

    #[test]
    fn ids_come_from_the_path_the_query_and_the_body() {
        let named = named_resources(
            &[("firmware_id".into(), "F1".into())],
            &[("product_key".into(), "P1".into())],
            &json!({"group_id": "G1", "task_ids": ["T1", "T2"], "name": "x", "job_id": ""}),
        );
        assert_eq!(named.firmware_ids, ["F1"]);
        assert_eq!(named.product_keys, ["P1"]);
        assert_eq!(named.group_ids, ["G1"]);
        assert_eq!(named.task_ids, ["T1", "T2"]);
        assert!(named.job_ids.is_empty());
    }
}
