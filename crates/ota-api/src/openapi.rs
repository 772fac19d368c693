//! The OpenAPI document at `/api/v1/openapi.json`: generated from the routes themselves
//! (`handlers::routes`), each with its parameters, request body and response schemas
//! taken from the types the handlers read and write.

use crate::error::ErrorBody;
use axum::Json;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Paths, Server};

const SIGNING: &str = "Signed with HMAC-SHA256: headers X-Ota-Key-Id, X-Ota-Timestamp, \
X-Ota-Nonce, X-Ota-Content-Sha256 and Authorization: OTA-HMAC-SHA256 Signature=<hex> over \
METHOD\\nPATH\\nSORTED-QUERY\\nTIMESTAMP\\nNONCE\\nCONTENT-SHA256. Or, for scripts that \
cannot sign, Authorization: Bearer <personal access token>. Each operation's x-ota-action is the \
RAM action the caller's policies must allow.";

#[derive(OpenApi)]
#[openapi(
    info(title = "OTA platform native API"),
    components(schemas(ErrorBody)),
    tags(
        (name = "registry", description = "Products, devices, OTA modules and groups"),
        (name = "firmwares", description = "Uploads and packages"),
        (name = "jobs", description = "Batches and their tasks"),
        (name = "rollouts", description = "Packages delivered in waves, each wave a batch"),
        (name = "deltas", description = "Server-generated deltas of a package"),
        (name = "signing", description = "Package-signing keys"),
        (name = "nodes", description = "The nodes serving this store"),
        (name = "teams", description = "Users, access keys, tokens, RAM policies and the audit log"),
        (name = "webhooks", description = "Signed webhooks: endpoints, delivery logs, test events"),
        (name = "debug", description = "Test servers only"),
    )
)]
struct ApiDoc;

/// Builds the document: the routes' paths under `/api/v1`, every operation signed.
pub fn build() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = crate::handlers::routes().split_for_parts();
    doc.merge(ApiDoc::openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.info.description = Some(SIGNING.to_owned());
    let mut paths = Paths::new();
    for (path, mut item) in std::mem::take(&mut doc.paths.paths) {
        annotate_actions(&path, &mut item);
        paths.paths.insert(format!("/api/v1{path}"), item);
    }
    doc.paths = paths;
    doc.servers = Some(vec![Server::new("/")]);
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "OtaHmac",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            SIGNING,
        ))),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "OtaHmac",
        Vec::<String>::new(),
    )]);
    doc
}

/// Shows each operation's RAM action (`x-ota-action`), from the table the server checks.
fn annotate_actions(path: &str, item: &mut utoipa::openapi::PathItem) {
    let operations = [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("PATCH", &mut item.patch),
    ];
    for (method, operation) in operations {
        let (Some(operation), Some(action)) = (
            operation.as_mut(),
            crate::authz::native::route_action(method, path),
        ) else {
            continue;
        };
        let action = if action == crate::authz::native::CREATE_JOB_BY_KIND {
            "iot:CreateOTAVerifyJob | iot:CreateOTAStaticUpgradeJob | iot:CreateOTADynamicUpgradeJob (by kind)"
        } else {
            action
        };
        operation
            .extensions
            .get_or_insert_with(Default::default)
            .insert("x-ota-action".to_owned(), serde_json::json!(action));
    }
}

/// The document, built once.
pub async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    Json(DOC.get_or_init(build))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn every_operation_has_its_schemas() {
        let doc = serde_json::to_value(super::build()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            assert!(path.starts_with("/api/v1/"), "{path}");
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let name = format!("{method} {path}");
                assert!(op["summary"].is_string(), "{name}: no summary");
                let ok = op["responses"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(status, _)| status.starts_with('2'))
                    .unwrap_or_else(|| panic!("{name}: no success response"));
                if ok.0 != "204" {
                    assert!(
                        ok.1["content"]["application/json"]["schema"].is_object(),
                        "{name}: no response schema"
                    );
                }
                if matches!(method.as_str(), "post" | "put" | "patch")
                    && !path.ends_with("/pause")
                    && !path.ends_with("/resume")
                    && !path.ends_with("/cancel-strategy")
                    && !path.ends_with("/enable")
                    && !path.ends_with("/reset")
                    && !path.ends_with("/access-keys")
                    && !path.ends_with("/test")
                    && !path.ends_with("/rollouts/{rollout_id}/cancel")
                    && !path.ends_with("/next-wave")
                {
                    assert!(
                        op["requestBody"]["content"].is_object(),
                        "{name}: no request body"
                    );
                }
                assert!(op["x-ota-action"].is_string(), "{name}: no x-ota-action");
                for param in op["parameters"].as_array().into_iter().flatten() {
                    assert!(param["schema"].is_object(), "{name}: {param}");
                }
                assert_eq!(
                    op["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
                    Value::from("#/components/schemas/ErrorBody"),
                    "{name}"
                );
            }
        }
        assert!(operations >= 46, "{operations} operations");
    }
}
