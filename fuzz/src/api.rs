//! The HTTP faces (see [`crate::app`] for the input form): the native REST API's JSON
//! bodies, the Aliyun RPC face with its parameter parser and both signature verifiers, and
//! the OSS PostObject upload form. Every answer must be a deliberate one: no panic, and no
//! 500 (bad input gets a 4xx that says what is wrong).

use crate::app::{App, Raw, check_status, find, replace, with_app};
use base64::Engine;
use ota_api::aliyun::sign_v1;

fn send(app: &mut App, raw: Raw) {
    if let Some((status, body)) = app.send_raw(raw) {
        check_status(status, &body);
    }
}

/// Input: a request to the native API (the target is put under `/api/v1` when it is not).
/// Signed validly unless it says `x-fuzz-sign: none`.
pub fn native_api(data: &[u8]) {
    with_app(|app| {
        let Some(mut raw) = Raw::parse(&app.substitute(data)) else {
            return;
        };
        if !raw.target.starts_with(b"/api/v1/") {
            let rest = raw.target.strip_prefix(b"/").unwrap_or(&raw.target);
            raw.target = [&b"/api/v1/"[..], rest].concat();
        }
        if raw.header("x-fuzz-sign").is_none() {
            raw.headers.push((b"x-fuzz-sign".to_vec(), b"ota".to_vec()));
        }
        send(app, raw);
    });
}

/// Input: an Aliyun RPC request (only the target's query is used: the path is `/`). Signed
/// when it says `x-fuzz-sign: v1` or `acs3`, otherwise sent as written, so the verifiers see
/// both valid signatures and whatever the fuzzer makes of the headers and parameters.
pub fn aliyun_rpc(data: &[u8]) {
    with_app(|app| {
        let Some(mut raw) = Raw::parse(&app.substitute(data)) else {
            return;
        };
        let query = find(&raw.target, b"?").map_or(&b""[..], |p| &raw.target[p..]);
        raw.target = [&b"/"[..], query].concat();
        // Other methods are refused by the router (405) before the RPC face sees them.
        let rpc_method = matches!(&raw.method[..], b"GET" | b"POST");
        let Some((status, body)) = app.send_raw(raw) else {
            return;
        };
        check_status(status, &body);
        if !rpc_method {
            return;
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&body).expect("RPC answers are JSON");
        assert!(answer.get("RequestId").is_some(), "no RequestId: {answer}");
    });
}

/// Input: the multipart body of an OSS PostObject form (the request is `POST /oss` with the
/// `content-type` line the input starts with). Placeholders: `{{KEY}}` a granted upload key,
/// `{{KEYID}}` the access key id, `{{POLICY}}` a valid policy for that key, `{{SIGNATURE}}`
/// the valid signature of whatever the `policy` field holds.
pub fn oss_post_object(data: &[u8]) {
    with_app(|app| {
        let grant = app.upload_grant();
        let policy = serde_json::json!({
            "expiration": "2099-01-01T00:00:00Z",
            "conditions": [["content-length-range", 0, grant.max_size], ["eq", "$key", grant.key]],
        });
        let policy = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
        let data = replace(data, b"{{KEY}}", grant.key.as_bytes());
        let data = replace(&data, b"{{KEYID}}", app.key_id().as_bytes());
        let data = replace(&data, b"{{POLICY}}", policy.as_bytes());
        let signature = policy_field(&data)
            .map(|p| sign_v1::hmac_sha1_base64(app.secret(), &String::from_utf8_lossy(p)))
            .unwrap_or_default();
        let data = replace(&data, b"{{SIGNATURE}}", signature.as_bytes());
        let (content_type, body) = match find(&data, b"\n") {
            Some(p) => (&data[..p], &data[p + 1..]),
            None => (&data[..], &data[data.len()..]),
        };
        let content_type = content_type.strip_suffix(b"\r").unwrap_or(content_type);
        let raw = Raw {
            method: b"POST".to_vec(),
            target: b"/oss".to_vec(),
            headers: vec![(b"content-type".to_vec(), content_type.to_vec())],
            body: body.to_vec(),
        };
        let Some((status, body)) = app.send_raw(raw) else {
            return;
        };
        check_status(status, &body);
        assert!(
            body.is_empty() || body.starts_with(b"<?xml"),
            "OSS answers are XML: {}",
            String::from_utf8_lossy(&body)
        );
    });
}

/// The value of the form field `policy`, found the way a reader of the form would.
fn policy_field(form: &[u8]) -> Option<&[u8]> {
    let at = find(form, b"name=\"policy\"")?;
    let rest = &form[at..];
    let start = find(rest, b"\r\n\r\n")? + 4;
    let len = find(&rest[start..], b"\r\n")?;
    Some(&rest[start..start + len])
}
