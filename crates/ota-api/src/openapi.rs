//! The OpenAPI 3 document at `/api/v1/openapi.json`, generated from the route table so it
//! lists exactly the routes the server has.

use crate::handlers::ROUTES;
use axum::Json;
use serde_json::{Map, Value, json};

/// Builds the document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for (method, path, summary) in ROUTES {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "Success", "content": {"application/json": {}}},
                "4XX": {"description": "Bad input, missing entity or wrong state", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
            "security": [{"OtaHmac": []}],
        });
        if matches!(*method, "post" | "put" | "patch") {
            let content = if path.starts_with("/uploads/") {
                "application/octet-stream"
            } else {
                "application/json"
            };
            op["requestBody"] = json!({"required": true, "content": {content: {}}});
        }
        paths
            .entry(format!("/api/v1{path}"))
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item is an object")
            .insert((*method).to_owned(), op);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "OTA platform native API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Signed with HMAC-SHA256: headers X-Ota-Key-Id, X-Ota-Timestamp, X-Ota-Nonce, X-Ota-Content-Sha256 and Authorization: OTA-HMAC-SHA256 Signature=<hex> over METHOD\\nPATH\\nSORTED-QUERY\\nTIMESTAMP\\nNONCE\\nCONTENT-SHA256.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"OtaHmac": {"type": "apiKey", "in": "header", "name": "Authorization"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "field": {"type": "string"},
                        "message": {"type": "string"},
                    },
                },
            },
        },
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_once() {
        let doc = super::build();
        let paths = doc["paths"].as_object().unwrap();
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(documented, super::ROUTES.len());
        for (method, path, _) in super::ROUTES {
            assert!(
                paths[&format!("/api/v1{path}")][*method].is_object(),
                "{method} {path}"
            );
        }
    }
}
