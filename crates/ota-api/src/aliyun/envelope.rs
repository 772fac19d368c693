//! The response envelope of the Aliyun RPC face: `RequestId` and `Success` on every
//! answer; `Code` and `ErrorMessage` on failures; paging fields on lists; times as
//! `2026-01-01T00:00:00.000Z`. Domain error codes map to Aliyun-style codes in one match.
//!
//! Business failures (a broken parameter rule, a missing entity, a wrong state) answer
//! HTTP 200 with `Success:false`, as the platform does, so SDK callers read `Code` from the
//! body. Protocol failures (authentication, unknown action) answer 4xx, which the SDKs raise.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ota_core::CoreError;
use ota_core::Page;
use ota_domain::{DomainError, ErrorCode, Millis};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// A new request id, shaped like the platform's (`E4C4B0E6-…`).
pub fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let h = hex::encode_upper(Sha256::digest(format!("{n}:{t}").as_bytes()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `2026-01-01T00:00:00.000Z`.
pub fn utc(ms: Millis) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-01-01 00:00:00` (UTC), the platform's `Gmt*` string form.
pub fn gmt(ms: Millis) -> String {
    utc(ms).replace('T', " ").chars().take(19).collect()
}

/// A time, or JSON null.
pub fn utc_opt(ms: Option<Millis>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(utc(ms)))
}

/// The paging fields of a list answer.
pub fn paging(page: Page, total: i64) -> Map<String, Value> {
    let size = page.limit.max(1);
    let mut m = Map::new();
    m.insert("CurrentPage".into(), json!(page.offset / size + 1));
    m.insert("PageSize".into(), json!(page.limit));
    m.insert("PageCount".into(), json!((total + size - 1) / size));
    m.insert("Total".into(), json!(total));
    m
}

/// The Aliyun-style code of a domain error. OTA codes (`iot.ota.*`) are not public on the
/// platform; these are ours, listed in `docs/aliyun-compat.md`.
pub fn aliyun_code(e: &DomainError) -> &'static str {
    let field = e.field.as_deref().map(|f| f.split('.').next().unwrap_or(f));
    match (e.code, field) {
        (ErrorCode::InvalidParameter, Some("CurrentPage" | "PageSize")) => {
            "iot.common.InvalidPageParams"
        }
        (ErrorCode::InvalidParameter, _) => "iot.common.InvalidParameter",
        (ErrorCode::NotFound, Some("ProductKey")) => "iot.prod.NotExistedProduct",
        (ErrorCode::NotFound, Some("DeviceName" | "IotId" | "TargetDeviceName" | "Device")) => {
            "iot.device.NotExistedDevice"
        }
        (ErrorCode::NotFound, Some("FirmwareId")) => "iot.ota.FirmwareNotExist",
        (ErrorCode::NotFound, Some("JobId")) => "iot.ota.JobNotExist",
        (ErrorCode::NotFound, Some("TaskId")) => "iot.ota.TaskNotExist",
        (ErrorCode::NotFound, Some("ModuleName")) => "iot.ota.ModuleNotExist",
        (ErrorCode::NotFound, Some("GroupId")) => "iot.group.NotExistedGroup",
        (ErrorCode::NotFound, Some("ApplyId")) => "iot.device.ApplyIdNotExist",
        (ErrorCode::NotFound, Some("FirmwareUrl" | "MultiFiles" | "DnListFileUrl" | "key")) => {
            "iot.ota.FileNotExist"
        }
        (ErrorCode::NotFound, _) => "iot.common.NotFound",
        (ErrorCode::AlreadyExists, Some("DeviceName")) => "iot.device.AlreadyExistedDeviceName",
        (ErrorCode::AlreadyExists, Some("FirmwareName")) => "iot.ota.FirmwareNameExists",
        (ErrorCode::AlreadyExists, _) => "iot.common.AlreadyExists",
        (ErrorCode::InvalidState, _) => "iot.ota.InvalidState",
        (ErrorCode::QuotaExceeded, _) => "iot.ota.QuotaExceeded",
        (ErrorCode::FirmwareNotVerified, _) => "iot.ota.FirmwareNotVerified",
        (ErrorCode::DeviceInTask, _) => "iot.ota.DeviceInTask",
    }
}

/// The message of a domain error, naming the parameter first.
pub fn message(e: &DomainError) -> String {
    match &e.field {
        Some(f) => format!("{f} {}", e.message),
        None => e.message.clone(),
    }
}

fn body(request_id: &str, success: bool, fields: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("RequestId".into(), json!(request_id));
    m.insert("Success".into(), json!(success));
    if let Value::Object(fields) = fields {
        m.extend(fields);
    }
    m
}

/// A successful answer: the envelope plus `fields` (an object).
pub fn success(request_id: &str, fields: Value) -> Response {
    Json(Value::Object(body(request_id, true, fields))).into_response()
}

/// A failed operation: 200 with `Success:false` for the caller's mistakes, 500 otherwise.
pub fn failure(request_id: &str, err: CoreError) -> Response {
    match err {
        CoreError::Domain(e) => {
            let fields = json!({"Code": aliyun_code(&e), "ErrorMessage": message(&e)});
            Json(Value::Object(body(request_id, false, fields))).into_response()
        }
        other => {
            tracing::error!(error = %other, "aliyun request failed");
            rejection(
                request_id,
                StatusCode::INTERNAL_SERVER_ERROR,
                "iot.system.SystemException",
                "internal error; see the server log",
            )
        }
    }
}

/// A protocol failure (authentication, unknown action): a 4xx/5xx the SDKs raise, with
/// `Code` and `Message` where they look for them.
pub fn rejection(request_id: &str, status: StatusCode, code: &str, message: &str) -> Response {
    let fields = json!({"Code": code, "Message": message, "ErrorMessage": message});
    (status, Json(Value::Object(body(request_id, false, fields)))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_codes() {
        assert_eq!(utc(1_767_225_600_123), "2026-01-01T00:00:00.123Z");
        assert_eq!(gmt(1_767_225_600_123), "2026-01-01 00:00:00");
        let e = DomainError::not_found("TargetDeviceName.2", "x");
        assert_eq!(aliyun_code(&e), "iot.device.NotExistedDevice");
        assert_eq!(message(&e), "TargetDeviceName.2 x");
        assert_eq!(request_id().len(), 36);
        let m = paging(Page::new(20, 10), 21);
        assert_eq!(m["CurrentPage"], 3);
        assert_eq!(m["PageCount"], 3);
    }
}
