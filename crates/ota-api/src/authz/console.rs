//! The console's checks: each console route's RAM action (the same actions as the API's,
//! so one policy governs both), and the middleware that checks it and writes the audit log.
//! Pages hide what the user may not do; this is the check that counts, so a forged form
//! post is refused all the same.

use super::audit::{self, Outcome};
use super::{Caller, FORBIDDEN, Refusal, check_all};
use crate::console::session::multipart_field;
use crate::state::AppState;
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ota_core::NamedResources;
use serde_json::Value;

/// Chosen from the form: a batch's kind, a task action's verb.
const BY_BATCH_KIND: &str = "by batch kind";
const BY_TASK_VERB: &str = "by task verb";
const BY_APPROVAL_DECISION: &str = "by approval decision";
/// Routes every signed-in user may use.
const ANYONE: &str = "";

/// Every console route (method, path under `/console`) and its RAM action.
pub const CONSOLE_ACTIONS: &[(&str, &str, &str)] = &[
    ("GET", "/", ANYONE),
    ("POST", "/logout", ANYONE),
    ("GET", "/products", "iot:QueryProductList"),
    ("POST", "/products", "iot:CreateProduct"),
    ("GET", "/products/{pk}", "iot:QueryDevice"),
    ("POST", "/products/{pk}/devices", "iot:BatchRegisterDevice"),
    (
        "POST",
        "/products/{pk}/devices/import",
        "iot:BatchRegisterDevice",
    ),
    (
        "GET",
        "/products/{pk}/devices/{dn}",
        "iot:QueryDeviceDetail",
    ),
    (
        "POST",
        "/products/{pk}/devices/{dn}/disable",
        "iot:DisableThing",
    ),
    (
        "POST",
        "/products/{pk}/devices/{dn}/enable",
        "iot:EnableThing",
    ),
    (
        "POST",
        "/products/{pk}/devices/{dn}/reset",
        "iot:ResetThing",
    ),
    ("POST", "/products/{pk}/registration", "iot:UpdateProduct"),
    ("POST", "/products/{pk}/certificates", "iot:UpdateProduct"),
    ("POST", "/products/{pk}/device-cas", "iot:AddDeviceCa"),
    (
        "POST",
        "/products/{pk}/device-cas/{ca_id}/remove",
        "iot:DeleteDeviceCa",
    ),
    (
        "POST",
        "/products/{pk}/revocations",
        "iot:RevokeDeviceCertificate",
    ),
    (
        "POST",
        "/products/{pk}/revocations/{serial}/remove",
        "iot:UnrevokeDeviceCertificate",
    ),
    ("GET", "/products/{pk}/groups", "iot:QueryDeviceGroupList"),
    ("POST", "/products/{pk}/groups", "iot:CreateDeviceGroup"),
    ("GET", "/groups/{id}", "iot:QueryDeviceGroupInfo"),
    (
        "POST",
        "/groups/{id}/members",
        "iot:BatchAddDeviceGroupRelations",
    ),
    (
        "GET",
        "/products/{pk}/modules",
        "iot:ListOTAModuleByProduct",
    ),
    ("POST", "/products/{pk}/modules", "iot:CreateOTAModule"),
    ("POST", "/products/{pk}/modules/{m}", "iot:UpdateOTAModule"),
    (
        "POST",
        "/products/{pk}/modules/{m}/delete",
        "iot:DeleteOTAModule",
    ),
    ("GET", "/products/{pk}/packages", "iot:ListOTAFirmware"),
    ("POST", "/products/{pk}/packages", "iot:CreateOTAFirmware"),
    (
        "GET",
        "/products/{pk}/packages/new",
        "iot:CreateOTAFirmware",
    ),
    (
        "GET",
        "/products/{pk}/analysis",
        "iot:QueryOTAVersionDistribution",
    ),
    ("PUT", "/uploads/{file_name}", "iot:GenerateOTAUploadURL"),
    ("GET", "/packages/{id}", "iot:QueryOTAFirmware"),
    ("POST", "/packages/{id}/verify", "iot:CreateOTAVerifyJob"),
    ("POST", "/packages/{id}/deltas", "iot:CreateOTADelta"),
    (
        "GET",
        "/packages/{id}/batches/new",
        "iot:CreateOTAStaticUpgradeJob",
    ),
    ("POST", "/packages/{id}/batches", BY_BATCH_KIND),
    ("GET", "/packages/{id}/rollouts/new", "iot:CreateOTARollout"),
    ("POST", "/packages/{id}/rollouts", "iot:CreateOTARollout"),
    ("GET", "/device-list-template.csv", ANYONE),
    ("GET", "/batches/{id}", "iot:QueryOTAJob"),
    ("GET", "/batches/{id}/live", "iot:QueryOTAJob"),
    ("POST", "/batches/{id}/cancel", "iot:CancelOTAJob"),
    ("POST", "/batches/{id}/pause", "iot:PauseOTAJob"),
    ("POST", "/batches/{id}/resume", "iot:ResumeOTAJob"),
    ("POST", "/batches/{id}/edit", "iot:UpdateOTAJob"),
    ("POST", "/batches/{id}/tasks", BY_TASK_VERB),
    ("POST", "/batches/{id}/approval", BY_APPROVAL_DECISION),
    ("GET", "/rollouts/{id}", "iot:QueryOTARollout"),
    ("POST", "/rollouts/{id}/pause", "iot:PauseOTARollout"),
    ("POST", "/rollouts/{id}/resume", "iot:ResumeOTARollout"),
    ("POST", "/rollouts/{id}/cancel", "iot:CancelOTARollout"),
    (
        "POST",
        "/rollouts/{id}/next-wave",
        "iot:StartOTARolloutWave",
    ),
    ("POST", "/rollouts/{id}/approval", BY_APPROVAL_DECISION),
    ("GET", "/users", "ram:ListUsers"),
    ("POST", "/users", "ram:CreateUser"),
    ("GET", "/users/{user}", "ram:GetUser"),
    ("POST", "/users/{user}/enable", "ram:UpdateUser"),
    ("POST", "/users/{user}/disable", "ram:UpdateUser"),
    ("POST", "/users/{user}/password", "ram:UpdateUser"),
    ("POST", "/users/{user}/delete", "ram:DeleteUser"),
    ("POST", "/users/{user}/access-keys", "ram:CreateAccessKey"),
    ("POST", "/users/{user}/policies", "ram:AttachPolicyToUser"),
    (
        "POST",
        "/users/{user}/policies/{policy}/detach",
        "ram:DetachPolicyFromUser",
    ),
    ("POST", "/access-keys/{key}/enable", "ram:UpdateAccessKey"),
    ("POST", "/access-keys/{key}/disable", "ram:UpdateAccessKey"),
    ("POST", "/access-keys/{key}/delete", "ram:DeleteAccessKey"),
    ("GET", "/policies", "ram:ListPolicies"),
    ("POST", "/policies", "ram:CreatePolicy"),
    ("GET", "/policies/{policy}", "ram:GetPolicy"),
    ("POST", "/policies/{policy}", "ram:CreatePolicyVersion"),
    ("POST", "/policies/{policy}/delete", "ram:DeletePolicy"),
    ("GET", "/audit", "actiontrail:LookupEvents"),
    ("GET", "/audit.csv", "actiontrail:LookupEvents"),
    ("GET", "/webhooks", "iot:ListOTAWebhook"),
    ("POST", "/webhooks", "iot:CreateOTAWebhook"),
    ("GET", "/webhooks/{id}", "iot:ListOTAWebhookDelivery"),
    ("POST", "/webhooks/{id}/test", "iot:TestOTAWebhook"),
    ("POST", "/webhooks/{id}/delete", "iot:DeleteOTAWebhook"),
];

/// The action of a console route, when the table has it.
pub fn console_action(method: &str, path: &str) -> Option<&'static str> {
    super::action_in(CONSOLE_ACTIONS, method, path)
}

/// The ids a console path names: its parameters mean different things under each prefix.
fn named_resources(template: &str, params: &[(String, String)]) -> NamedResources {
    let mut named = NamedResources::default();
    for (key, value) in params {
        match key.as_str() {
            "pk" => named.product_keys.push(value.clone()),
            "id" if template.starts_with("/packages/") => named.firmware_ids.push(value.clone()),
            "id" if template.starts_with("/batches/") => named.job_ids.push(value.clone()),
            "id" if template.starts_with("/rollouts/") => named.rollout_ids.push(value.clone()),
            "id" if template.starts_with("/groups/") => named.group_ids.push(value.clone()),
            _ => {}
        }
    }
    named
}

/// The users, access keys and policies a request names (its path parameters and the
/// names a create form gives), for the audit log's resource ids: RAM checks these
/// routes on `*`, so they are not ARNs.
fn ram_ids(params: &[(String, String)], form: &[(String, String)]) -> Vec<String> {
    let path = params
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "user" | "key" | "policy"));
    let created = form
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "user_name" | "policy_name"));
    path.chain(created)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A second action a request needs besides its route's: creating a user with policies
/// attaches them, which must not be a way around `ram:AttachPolicyToUser`.
fn also_required(method: &str, template: &str, form: &[(String, String)]) -> Option<&'static str> {
    let attaches = form
        .iter()
        .any(|(k, v)| k == "policy" && !v.trim().is_empty());
    (method == "POST" && template == "/users" && attaches).then_some("ram:AttachPolicyToUser")
}

fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn task_action(verb: &str) -> &'static str {
    let verb = verb.split_once(':').map_or(verb, |(v, _)| v);
    match verb.strip_prefix("bulk-").unwrap_or(verb) {
        "confirm" => "iot:ConfirmOTATask",
        "reupgrade" => "iot:ReupgradeOTATask",
        _ => "iot:CancelOTATask",
    }
}

fn batch_action(kind: Option<&str>) -> &'static str {
    match kind {
        Some("dynamic") => "iot:CreateOTADynamicUpgradeJob",
        _ => "iot:CreateOTAStaticUpgradeJob",
    }
}

/// Middleware inside the session check: checks the route's action, runs the page, and
/// writes denials and state-changing requests to the audit log.
pub(crate) async fn authorize(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    let template = parts
        .extensions
        .get::<MatchedPath>()
        .map(|p| p.as_str().trim_start_matches("/console").to_owned())
        .unwrap_or_default();
    let template = if template.is_empty() {
        "/".to_owned()
    } else {
        template
    };
    let Some(listed) = console_action(parts.method.as_str(), &template) else {
        tracing::error!(method = %parts.method, path = %template, "console route has no RAM action");
        return forbidden("This page has no access rule.");
    };
    let mutating = !matches!(parts.method, Method::GET | Method::HEAD);
    let params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &state)
        .await
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // The session check already read form bodies whole (for the CSRF field); uploads
    // (PUT) stream and are not read here.
    let (body, form) = if mutating && parts.method != Method::PUT {
        match to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                let form = if content_type.starts_with("application/x-www-form-urlencoded") {
                    form_pairs(&bytes)
                } else if content_type.starts_with("multipart/form-data") {
                    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
                    multipart_field(probe, "kind")
                        .await
                        .map(|kind| vec![("kind".to_owned(), kind)])
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                (Body::from(bytes), form)
            }
            Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
        }
    } else {
        (body, Vec::new())
    };
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let action = match listed {
        BY_BATCH_KIND => batch_action(field("kind")),
        BY_TASK_VERB => task_action(field("action").unwrap_or_default()),
        BY_APPROVAL_DECISION => match field("decision") {
            Some("approve") => "iot:ApproveOTAJob",
            _ => "iot:DenyOTAJob",
        },
        other => other,
    };
    let event_name = action.split_once(':').map_or(action, |(_, name)| name);
    let named = named_resources(&template, &params);
    let mut parameters = serde_json::Map::new();
    for (key, value) in params
        .iter()
        .chain(form.iter().filter(|(k, _)| k != "_csrf"))
    {
        parameters.insert(key.clone(), Value::String(value.clone()));
    }
    let mut resources = named.ids();
    resources.extend(ram_ids(&params, &form));
    let also = also_required(parts.method.as_str(), &template, &form);
    let needed: Vec<&str> = std::iter::once(action)
        .chain(also)
        .filter(|a| *a != ANYONE)
        .collect();
    let denial = Outcome {
        face: "console",
        event_name,
        parameters: Value::Object(parameters.clone()),
        result: String::new(),
        error_message: None,
        resources: resources.clone(),
    };
    match check_all(&state.core, &caller, &needed, &named, denial).await {
        Ok(()) => {}
        Err(Refusal::Denied(message)) => return forbidden(&message),
        Err(Refusal::Failed(err)) => {
            return crate::console::form::ConsoleError::from(err).into_response();
        }
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if mutating && action != ANYONE {
        // Console actions answer with a redirect and a message; a 4xx/5xx page is a refusal.
        let status = response.status();
        let result = if status.is_success() || status.is_redirection() {
            "Success".to_owned()
        } else {
            format!("HTTP{}", status.as_u16())
        };
        audit::record(
            &state.core,
            Some(&caller),
            Outcome {
                face: "console",
                event_name,
                parameters: Value::Object(parameters),
                result,
                error_message: None,
                resources,
            },
        )
        .await;
    }
    response
}

fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{FORBIDDEN}: {message}"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_choose_the_action_of_a_batch_or_task_post() {
        let cases = [
            (
                batch_action(Some("dynamic")),
                "iot:CreateOTADynamicUpgradeJob",
            ),
            (
                batch_action(Some("static")),
                "iot:CreateOTAStaticUpgradeJob",
            ),
            (batch_action(None), "iot:CreateOTAStaticUpgradeJob"),
            (task_action("confirm:T1"), "iot:ConfirmOTATask"),
            (task_action("bulk-reupgrade"), "iot:ReupgradeOTATask"),
            (task_action("bulk-cancel"), "iot:CancelOTATask"),
            (task_action("anything"), "iot:CancelOTATask"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn path_ids_are_read_by_their_prefix() {
        let id = |v: &str| vec![("id".to_owned(), v.to_owned())];
        assert_eq!(
            named_resources("/packages/{id}", &id("F1")).firmware_ids,
            ["F1"]
        );
        assert_eq!(named_resources("/batches/{id}", &id("J1")).job_ids, ["J1"]);
        assert_eq!(
            named_resources("/rollouts/{id}/pause", &id("R1")).rollout_ids,
            ["R1"]
        );
        assert_eq!(named_resources("/groups/{id}", &id("G1")).group_ids, ["G1"]);
        let pk = vec![("pk".to_owned(), "P1".to_owned())];
        assert_eq!(
            named_resources("/products/{pk}/modules", &pk).product_keys,
            ["P1"]
        );
    }

    #[test]
    fn docs_access_control_lists_every_console_route() {
        let doc = include_str!("../../../../docs/access-control.md");
        for (method, path, action) in CONSOLE_ACTIONS {
            let shown = if *path == "/" { "" } else { path };
            let start = format!("| {method} | `/console{shown}` | ");
            let line = doc
                .lines()
                .find(|l| l.starts_with(&start))
                .unwrap_or_else(|| panic!("docs/access-control.md has no row for {method} {path}"));
            if action.contains(':') {
                assert!(line.contains(&format!("`{action}`")), "{line}");
            }
        }
    }

    #[test]
    fn creating_a_user_with_policies_also_needs_attaching() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let with = pairs(&[("user_name", "ci"), ("policy", "AdministratorAccess")]);
        let without = pairs(&[("user_name", "ci"), ("policy", " ")]);
        assert_eq!(
            also_required("POST", "/users", &with),
            Some("ram:AttachPolicyToUser")
        );
        assert_eq!(also_required("POST", "/users", &without), None);
        assert_eq!(also_required("POST", "/policies", &with), None);
        assert_eq!(also_required("GET", "/users", &with), None);
    }

    #[test]
    fn ram_routes_log_the_users_keys_and_policies_they_name() {
        let params = vec![
            ("user".to_owned(), "ci".to_owned()),
            ("pk".to_owned(), "P1".to_owned()),
            ("policy".to_owned(), "Ops".to_owned()),
        ];
        let form = vec![
            ("policy_name".to_owned(), "New".to_owned()),
            ("display_name".to_owned(), "x".to_owned()),
        ];
        assert_eq!(ram_ids(&params, &form), ["ci", "Ops", "New"]);
    }

    #[test]
    fn every_console_route_is_listed_once() {
        let mut keys: Vec<_> = CONSOLE_ACTIONS.iter().map(|(m, p, _)| (m, p)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), CONSOLE_ACTIONS.len());
    }
}
