//! The Alibaba Cloud IoT OpenAPI face (RPC style, version 2018-01-20): `GET|POST /` with the
//! action in `x-acs-action` or `Action`, parameters in the query string and the form body,
//! signed with ACS3-HMAC-SHA256 or signature v1. The official SDKs and the `aliyun` CLI drive
//! it unchanged. Plus the OSS PostObject endpoint the upload operations hand out.
//!
//! Each request is parsed into an [`Action`] (an enum, so metrics and spans are per
//! operation), then one handler per operation converts parameters, calls `ota_core::Core`
//! and renders the answer. No rule lives here.

mod auth;
mod envelope;
mod firmware;
mod groups;
mod identity;
mod jobs;
mod modules;
mod oss;
mod params;
mod registry;
mod sign_acs3;
pub mod sign_v1;
mod tasks;

/// The RPC parameter parser and the ACS3 header parser for the fuzz targets in `fuzz/`; not
/// an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use super::params::{Params, decode_pairs};
    pub use super::sign_acs3::{canonical_request, parse_authorization, signature};
}

use crate::state::AppState;
use auth::{Caller, Signed};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use ota_core::{Core, CoreError};
use params::{Params, decode_pairs};
use serde_json::Value;

/// A time as the platform writes it (`2026-01-01T00:00:00.000Z`), for every face.
pub fn utc_text(ms: ota_domain::Millis) -> String {
    envelope::utc(ms)
}

/// The API version every request must name.
pub const VERSION: &str = "2018-01-20";
/// Largest form body accepted.
const MAX_BODY: usize = 8 * 1024 * 1024;

/// What one operation handler sees.
pub(crate) struct Ctx<'a> {
    pub core: &'a Core,
    pub params: &'a Params,
    pub caller: &'a Caller,
}

/// An operation's answer: the fields next to `RequestId` and `Success`.
pub(crate) type Answer = Result<Value, CoreError>;

macro_rules! actions {
    ($($name:ident => $handler:path,)*) => {
        /// Every supported operation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($name,)* }

        impl Action {
            /// All operations, in documentation order.
            pub const ALL: &'static [Action] = &[$(Action::$name,)*];

            /// The operation's name on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Action::$name => stringify!($name),)* }
            }

            /// The operation named `name`, exactly as the SDKs spell it.
            pub fn parse(name: &str) -> Option<Action> {
                Action::ALL.iter().copied().find(|a| a.as_str() == name)
            }

            async fn handle(self, ctx: &Ctx<'_>) -> Answer {
                match self { $(Action::$name => $handler(ctx).await,)* }
            }
        }
    };
}

actions! {
    GenerateOTAUploadURL => firmware::generate_upload_url,
    GenerateDeviceNameListURL => firmware::generate_device_list_url,
    CreateOTAFirmware => firmware::create,
    ModifyOTAFirmware => firmware::modify,
    DeleteOTAFirmware => firmware::delete,
    QueryOTAFirmware => firmware::query,
    ListOTAFirmware => firmware::list,
    CreateOTAModule => modules::create,
    UpdateOTAModule => modules::update,
    DeleteOTAModule => modules::delete,
    ListOTAModuleByProduct => modules::list,
    ListOTAModuleVersionsByDevice => modules::versions_by_device,
    CreateOTAVerifyJob => jobs::create_verify,
    CreateOTAStaticUpgradeJob => jobs::create_static,
    CreateOTADynamicUpgradeJob => jobs::create_dynamic,
    UpdateOTAJob => jobs::update,
    QueryOTAJob => jobs::query,
    ListOTAJobByFirmware => jobs::list_by_firmware,
    ListOTAJobByDevice => jobs::list_by_device,
    CancelOTAStrategyByJob => jobs::cancel_strategy,
    CancelOTATaskByJob => jobs::cancel_tasks,
    ListOTATaskByJob => tasks::list_by_job,
    ListOTAUnfinishedTaskByDevice => tasks::unfinished_by_device,
    CancelOTATaskByDevice => tasks::cancel_by_device,
    ConfirmOTATask => tasks::confirm,
    ReupgradeOTATask => tasks::reupgrade,
    CreateProduct => registry::create_product,
    UpdateProduct => registry::update_product,
    QueryProduct => registry::query_product,
    QueryProductList => registry::list_products,
    DeleteProduct => registry::delete_product,
    RegisterDevice => registry::register_device,
    BatchCheckDeviceNames => registry::check_device_names,
    BatchRegisterDevice => registry::batch_register,
    BatchRegisterDeviceWithApplyId => registry::register_with_apply_id,
    QueryBatchRegisterDeviceStatus => registry::batch_status,
    QueryPageByApplyId => registry::page_by_apply_id,
    QueryDeviceDetail => registry::device_detail,
    QueryDevice => registry::list_devices,
    DeleteDevice => registry::delete_device,
    GetDeviceStatus => registry::device_status,
    BatchGetDeviceState => registry::batch_device_state,
    DisableThing => identity::disable,
    EnableThing => identity::enable,
    ResetThing => identity::reset,
    CreateDeviceGroup => groups::create,
    DeleteDeviceGroup => groups::delete,
    BatchAddDeviceGroupRelations => groups::add_devices,
    QueryDeviceGroupList => groups::list,
    QueryDeviceListByDeviceGroup => groups::members,
}

/// The routes of this face: `GET|POST /` and the upload endpoint `POST /oss`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(handle).post(handle))
        .route(oss::PATH, post(oss::post_object))
}

/// One RPC request: authenticate, parse the action, run it, render the envelope.
async fn handle(State(state): State<AppState>, request: Request<Body>) -> Response {
    let request_id = envelope::request_id();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return envelope::rejection(
            &request_id,
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidParameter",
            "the request body must be at most 8 MB",
        );
    };
    let query = decode_pairs(parts.uri.query().unwrap_or(""));
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        decode_pairs(&String::from_utf8_lossy(&body))
    } else {
        Vec::new()
    };
    let params = Params::from_pairs(query.iter().cloned().chain(form));
    let signed = Signed {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: &parts.headers,
        query: &query,
        params: &params,
        body: &body,
        extensions: &parts.extensions,
    };
    let caller = match auth::authenticate(&state, &signed).await {
        Ok(caller) => caller,
        Err(r) => return envelope::rejection(&request_id, r.status, r.code, &r.message),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let name = header("x-acs-action").or_else(|| params.string("Action"));
    let Some(action) = name.as_deref().and_then(Action::parse) else {
        return envelope::rejection(
            &request_id,
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            &format!("the specified action {name:?} is not found"),
        );
    };
    let version = header("x-acs-version").or_else(|| params.string("Version"));
    if version.as_deref() != Some(VERSION) {
        return envelope::rejection(
            &request_id,
            StatusCode::BAD_REQUEST,
            "InvalidVersion",
            &format!("Version must be {VERSION}"),
        );
    }
    let named = rpc_resources(&params);
    let ram_action = format!("iot:{}", action.as_str());
    let mutating = !is_read(action.as_str());
    let parameters = rpc_parameters(&params);
    let denial = crate::authz::audit::Outcome {
        face: "aliyun",
        event_name: action.as_str(),
        parameters: parameters.clone(),
        result: String::new(),
        error_message: None,
        resources: named.ids(),
    };
    match crate::authz::check_all(&state.core, &caller.who, &[&ram_action], &named, denial).await {
        Ok(()) => {}
        Err(crate::authz::Refusal::Denied(message)) => {
            return envelope::rejection(
                &request_id,
                StatusCode::FORBIDDEN,
                crate::authz::FORBIDDEN,
                &message,
            );
        }
        Err(crate::authz::Refusal::Failed(err)) => return envelope::failure(&request_id, err),
    }
    let ctx = Ctx {
        core: &state.core,
        params: &params,
        caller: &caller,
    };
    let span = tracing::info_span!(
        "aliyun",
        action = action.as_str(),
        key = %caller.key_id,
        user = %caller.who.principal.user_name
    );
    let answer = tracing::Instrument::instrument(action.handle(&ctx), span).await;
    let outcome = if answer.is_ok() { "ok" } else { "error" };
    metrics::counter!("ota_aliyun_requests_total", "action" => action.as_str(), "outcome" => outcome)
        .increment(1);
    let answer = answer.map(|mut fields| {
        if !mutating && !may_read_secrets(&caller.who, &named) {
            hide_secrets(&mut fields);
        }
        fields
    });
    if mutating {
        let (result, error_message, mut resources) = match &answer {
            Ok(fields) => (
                "Success".to_owned(),
                None,
                crate::authz::audit::ids_in_answer(fields),
            ),
            Err(err) => (err.code().to_owned(), Some(err.to_string()), Vec::new()),
        };
        resources.extend(named.ids());
        crate::authz::audit::record(
            &state.core,
            Some(&caller.who),
            crate::authz::audit::Outcome {
                face: "aliyun",
                event_name: action.as_str(),
                parameters,
                result,
                error_message,
                resources,
            },
        )
        .await;
    }
    match answer {
        Ok(fields) => envelope::success(&request_id, fields),
        Err(err) => envelope::failure(&request_id, err),
    }
}

/// Aliyun's read operations: these are not audited, and show credentials only to callers
/// allowed `iot:ReadDeviceSecret`.
fn is_read(action: &str) -> bool {
    ["Query", "List", "Get", "BatchGet", "BatchCheck"]
        .iter()
        .any(|prefix| action.starts_with(prefix))
}

/// The ids an RPC request names, for the policy check.
fn rpc_resources(params: &Params) -> ota_core::NamedResources {
    let one = |name: &str| params.string(name).into_iter().collect::<Vec<_>>();
    let listed = |name: &str| params.list(name);
    let mut task_ids = one("TaskId");
    task_ids.extend(listed("TaskId"));
    let mut iot_ids = one("IotId");
    iot_ids.extend(listed("IotId"));
    ota_core::NamedResources {
        product_keys: one("ProductKey"),
        firmware_ids: one("FirmwareId"),
        job_ids: one("JobId"),
        rollout_ids: Vec::new(),
        group_ids: one("GroupId"),
        iot_ids,
        task_ids,
    }
}

/// The request's parameters for the audit log (redacted there), signature fields left out.
fn rpc_parameters(params: &Params) -> Value {
    const SIGNING: &[&str] = &[
        "Signature",
        "SignatureNonce",
        "SignatureMethod",
        "SignatureVersion",
        "AccessKeyId",
        "Timestamp",
        "Format",
        "Version",
        "Action",
    ];
    Value::Object(
        params
            .all()
            .iter()
            .filter(|(k, _)| !SIGNING.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn may_read_secrets(caller: &crate::authz::Caller, named: &ota_core::NamedResources) -> bool {
    let arns: Vec<String> = named
        .product_keys
        .iter()
        .map(|pk| ota_domain::access::product_arn(pk))
        .collect();
    caller
        .principal
        .decide(crate::authz::READ_SECRETS, &arns)
        .allowed()
}

/// Blanks device and product secrets anywhere in an answer.
fn hide_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "DeviceSecret" || key == "ProductSecret" {
                    *v = Value::String(String::new());
                } else {
                    hide_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(hide_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips() {
        assert_eq!(Action::ALL.len(), 50);
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
        }
        assert_eq!(Action::parse("createotafirmware"), None);
    }
}
