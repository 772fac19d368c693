//! An OSS PostObject-compatible upload endpoint, `POST /oss`, for the credentials
//! GenerateOTAUploadURL and GenerateDeviceNameListURL hand out. The form carries `key`,
//! `policy` (base64 JSON with `expiration` and `conditions`), `OSSAccessKeyId`, `Signature`
//! (base64 HMAC-SHA1 of the policy under the access key's secret), optionally
//! `success_action_status`, and `file` last. Errors are OSS-style XML.

use super::auth::Caller;
use super::envelope::utc;
use super::sign_v1::hmac_sha1_base64;
use crate::state::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::TryStreamExt;
use ota_core::{Core, CoreError, UploadGrant};
use ota_domain::ErrorCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Where uploads are posted (the `Host` of the upload credentials).
pub const PATH: &str = "/oss";

/// The form fields a client needs besides the file.
pub struct Form {
    pub host: String,
    /// What CreateOTAFirmware's `FirmwareUrl` / a static batch's `DnListFileUrl` take.
    pub file_url: String,
    pub policy: String,
    pub signature: String,
}

/// Signs `grant` as an OSS POST policy under the caller's access key.
pub fn form(core: &Core, grant: &UploadGrant, caller: &Caller) -> Form {
    let host = format!("{}{PATH}", core.config().public_url.trim_end_matches('/'));
    let policy = json!({
        "expiration": utc(grant.expires_at),
        "conditions": [
            ["content-length-range", grant.min_size, grant.max_size],
            ["eq", "$key", grant.key],
        ],
    });
    let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    Form {
        file_url: format!("{host}/{}", grant.key),
        signature: hmac_sha1_base64(&caller.secret, &policy),
        policy,
        host,
    }
}

fn oss_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message></Error>",
        message.replace('&', "&amp;").replace('<', "&lt;")
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// What a verified policy allows.
struct Allowed {
    expires_at: i64,
    sizes: (u64, u64),
    /// The user whose key signed the policy.
    principal: ota_core::Principal,
}

/// Checks the signature and reads the policy's expiry, size range and key condition.
async fn verify(state: &AppState, fields: &BTreeMap<String, String>) -> Result<Allowed, Response> {
    let denied = |m: &str| oss_error(StatusCode::FORBIDDEN, "AccessDenied", m);
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
    let (key_id, policy, signature, key) = (
        get("ossaccesskeyid"),
        get("policy"),
        get("signature"),
        get("key"),
    );
    if key_id.is_empty() || policy.is_empty() || signature.is_empty() || key.is_empty() {
        return Err(oss_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "key, policy, OSSAccessKeyId and Signature are required before file",
        ));
    }
    let checked = state
        .core
        .teams()
        .signing_key(key_id)
        .await
        .map_err(|err| {
            tracing::error!(%err, "PostObject: the access-key lookup failed");
            oss_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the key store is unavailable; try again",
            )
        })?;
    // An upload policy signed by a key since disabled no longer uploads.
    let (secret, principal) = match checked {
        ota_core::KeyCheck::Active(key) => (key.secret, key.principal),
        ota_core::KeyCheck::Inactive => return Err(denied("the OSSAccessKeyId is disabled")),
        ota_core::KeyCheck::Unknown => {
            return Err(oss_error(
                StatusCode::FORBIDDEN,
                "InvalidAccessKeyId",
                "unknown OSSAccessKeyId",
            ));
        }
    };
    let expected = hmac_sha1_base64(&secret, policy);
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return Err(oss_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "the policy signature does not match",
        ));
    }
    let doc: Value = base64::engine::general_purpose::STANDARD
        .decode(policy)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            oss_error(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                "policy is not base64 JSON",
            )
        })?;
    let expires_at = doc["expiration"]
        .as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .ok_or_else(|| {
            oss_error(
                StatusCode::BAD_REQUEST,
                "InvalidPolicyDocument",
                "policy has no expiration",
            )
        })?;
    let mut sizes = (0, u64::MAX);
    let mut key_ok = false;
    for cond in doc["conditions"].as_array().into_iter().flatten() {
        match cond.as_array().map(Vec::as_slice) {
            Some([name, min, max]) if name == "content-length-range" => {
                sizes = (min.as_u64().unwrap_or(0), max.as_u64().unwrap_or(0));
            }
            Some([op, field, value]) if op == "eq" && field == "$key" => {
                key_ok = value.as_str() == Some(key);
            }
            _ => {}
        }
    }
    if !key_ok {
        return Err(denied(
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\"]",
        ));
    }
    Ok(Allowed {
        expires_at,
        sizes,
        principal,
    })
}

/// `POST /oss`: an OSS PostObject form upload.
pub async fn post_object(
    State(state): State<AppState>,
    origin: crate::authz::RequestOrigin,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    // A request that is no multipart form at all (wrong content type, no boundary) gets the
    // same XML error as a malformed one, not the framework's plain-text rejection.
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => {
            return oss_error(
                StatusCode::BAD_REQUEST,
                "MalformedPOSTRequest",
                &rejection.body_text(),
            );
        }
    };
    let mut fields = BTreeMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => {
                return oss_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidArgument",
                    "the form has no file field",
                );
            }
            Err(e) => {
                return oss_error(
                    StatusCode::BAD_REQUEST,
                    "MalformedPOSTRequest",
                    &e.to_string(),
                );
            }
        };
        let name = field.name().unwrap_or_default().to_ascii_lowercase();
        if name != "file" {
            let Ok(value) = field.text().await else {
                return oss_error(
                    StatusCode::BAD_REQUEST,
                    "MalformedPOSTRequest",
                    "unreadable field",
                );
            };
            fields.insert(name, value);
            continue;
        }
        let allowed = match verify(&state, &fields).await {
            Ok(allowed) => allowed,
            Err(response) => return response,
        };
        let key = fields["key"].clone();
        let stream = Box::pin(field.map_err(|e| e.to_string()));
        let stored = state
            .core
            .firmwares()
            .receive_granted_upload(&key, allowed.expires_at, allowed.sizes, stream)
            .await;
        let (result, error_message) = match &stored {
            Ok(_) => ("Success".to_owned(), None),
            Err(err) => (err.code().to_owned(), Some(err.to_string())),
        };
        let caller = crate::authz::Caller {
            principal: allowed.principal,
            session_id: None,
            source_ip: origin.source_ip,
            user_agent: origin.user_agent,
        };
        crate::authz::audit::record(
            &state.core,
            Some(&caller),
            crate::authz::audit::Outcome {
                face: "aliyun",
                event_name: "PostObject",
                parameters: serde_json::json!({"key": key}),
                result,
                error_message,
                resources: vec![key.clone()],
            },
        )
        .await;
        return match stored {
            Ok(file) => stored_response(&fields, &key, &file.md5),
            Err(err) => upload_error(err),
        };
    }
}

fn stored_response(fields: &BTreeMap<String, String>, key: &str, md5: &str) -> Response {
    let etag = format!("\"{}\"", md5.to_ascii_uppercase());
    match fields.get("success_action_status").map(String::as_str) {
        Some("200") => (StatusCode::OK, [(header::ETAG, etag)]).into_response(),
        Some("201") => {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Key>{key}</Key><ETag>{etag}</ETag></PostResponse>"
            );
            (StatusCode::CREATED, [(header::ETAG, etag)], body).into_response()
        }
        _ => (StatusCode::NO_CONTENT, [(header::ETAG, etag)]).into_response(),
    }
}

fn upload_error(err: CoreError) -> Response {
    match err.domain() {
        Some(e) if e.code == ErrorCode::InvalidState && e.field.as_deref() == Some("policy") => {
            oss_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Invalid according to Policy: Policy expired.",
            )
        }
        Some(e) if e.code == ErrorCode::InvalidParameter && e.field.as_deref() == Some("File") => {
            oss_error(
                StatusCode::BAD_REQUEST,
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size.",
            )
        }
        Some(e) if e.field.as_deref() == Some("Body") => {
            oss_error(StatusCode::BAD_REQUEST, "MalformedPOSTRequest", &e.message)
        }
        Some(e) if e.code == ErrorCode::InvalidParameter => {
            oss_error(StatusCode::BAD_REQUEST, "EntityTooSmall", &e.message)
        }
        Some(e) => oss_error(StatusCode::FORBIDDEN, "AccessDenied", &e.message),
        None => {
            tracing::error!(error = %err, "upload failed");
            oss_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "internal error",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::AppState;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use ota_blob::{DirStore, UrlSigner};
    use ota_core::{Core, CoreConfig, SystemClock};
    use std::sync::Arc;
    use tower::ServiceExt;

    #[tokio::test]
    async fn forms_that_cannot_be_read_get_oss_xml_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = ota_store::Store::connect("sqlite::memory:").await.unwrap();
        let blobs = DirStore::open(dir.path()).await.unwrap();
        let core = Core::new(
            store,
            blobs,
            UrlSigner::new(b"s".to_vec()),
            Arc::new(SystemClock),
            CoreConfig::default(),
        );
        core.teams().prepare(Some(("AK", "SK"))).await.unwrap();
        let grant = core
            .firmwares()
            .grant_upload(ota_core::UploadPurpose::DeviceList)
            .await
            .unwrap();
        let state = AppState {
            core,
            metrics: None,
            online: Arc::new(|| 0),
            clock: None,
        };
        let router = crate::router(state);
        let policy = serde_json::json!({
            "expiration": "2099-01-01T00:00:00Z",
            "conditions": [["eq", "$key", grant.key]],
        });
        let policy = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            policy.to_string(),
        );
        let signature = super::hmac_sha1_base64("SK", &policy);
        // A valid form whose file part never reaches its closing boundary. It was an internal
        // error (500) before: found by the `oss_post_object` fuzz target.
        let cut_short = [
            ("key", grant.key.as_str()),
            ("OSSAccessKeyId", "AK"),
            ("policy", &policy),
            ("Signature", &signature),
        ]
        .iter()
        .map(|(k, v)| format!("--X\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"))
        .collect::<String>()
            + "--X\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndev1\r\n--Y--\r\n";
        // (content type, body, OSS error code). The first three were plain-text rejections
        // of the framework before (found by the `oss_post_object` fuzz target).
        let cases: [(Option<&str>, &str, &str); 6] = [
            (None, "x", "MalformedPOSTRequest"),
            (Some("text/plain"), "x", "MalformedPOSTRequest"),
            (Some("multipart/form-data"), "x", "MalformedPOSTRequest"),
            (
                Some("multipart/form-data; boundary=X"),
                "--X\r\nbroken",
                "MalformedPOSTRequest",
            ),
            (
                Some("multipart/form-data; boundary=X"),
                "--X--\r\n",
                "InvalidArgument",
            ),
            (
                Some("multipart/form-data; boundary=X"),
                &cut_short,
                "MalformedPOSTRequest",
            ),
        ];
        for (content_type, body, code) in cases {
            let mut request = Request::post("/oss");
            let body = body.to_owned();
            if let Some(ct) = content_type {
                request = request.header("content-type", ct);
            }
            let response = router
                .clone()
                .oneshot(request.body(Body::from(body)).unwrap())
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{content_type:?}"
            );
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(text.starts_with("<?xml"), "{content_type:?}: {text}");
            assert!(text.contains(&format!("<Code>{code}</Code>")), "{text}");
        }
    }
}
