//! Writing a call to the audit log: its parameters with secrets and file contents removed,
//! its result, and the ids it touched (those it named and those it created).
//!
//! An event is written after the call's own change committed and before the caller gets
//! the answer. A log that cannot be written is reported in the server log and the
//! `ota_audit_failures_total` counter; the caller's answer stands, since the change is
//! already made.

use super::Caller;
use ota_core::{AuditRecord, Core};
use serde_json::{Map, Value};

/// Parameter names whose values never enter the log (matched without case, anywhere in
/// the name).
const SECRET_WORDS: &[&str] = &["secret", "password", "token", "privatekey", "private_key"];
/// Parameters holding file contents: recorded as their size only.
const FILE_WORDS: &[&str] = &["file", "content", "certificate_pem", "certificatepem"];
/// Longest string value kept; longer ones are cut with their size noted.
const MAX_VALUE_CHARS: usize = 512;
/// Keys of created or touched ids looked for in an answer.
const ID_KEYS: &[&str] = &[
    "product_key",
    "firmware_id",
    "job_id",
    "group_id",
    "iot_id",
    "user_name",
    "access_key_id",
    "policy_name",
    "token_id",
    "ProductKey",
    "FirmwareId",
    "JobId",
    "GroupId",
    "IotId",
];

/// The request's parameters as the log keeps them.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let lower = key.to_ascii_lowercase();
                let kept = if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                    Value::String("***".to_owned())
                } else if FILE_WORDS.iter().any(|w| lower == *w || lower.ends_with(w)) {
                    Value::String(format!("({} bytes)", size_of(v)))
                } else {
                    redact(v)
                };
                out.insert(key.clone(), kept);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => Value::String(format!(
            "{}… ({} bytes)",
            s.chars().take(MAX_VALUE_CHARS).collect::<String>(),
            s.len()
        )),
        other => other.clone(),
    }
}

fn size_of(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

/// The ids an answer names at its top level or one level down (`{"job": {"job_id": …}}`,
/// Aliyun's `{"Data": {"FirmwareId": …}}`).
pub(crate) fn ids_in_answer(answer: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut take = |map: &Map<String, Value>| {
        for key in ID_KEYS {
            if let Some(Value::String(id)) = map.get(*key) {
                ids.push(id.clone());
            }
        }
    };
    if let Value::Object(map) = answer {
        take(map);
        for nested in map.values() {
            if let Value::Object(inner) = nested {
                take(inner);
            }
        }
    }
    ids
}

/// What happened, for [`record`].
pub(crate) struct Outcome<'a> {
    pub face: &'static str,
    /// The action without its service prefix (`CreateOTAFirmware`).
    pub event_name: &'a str,
    pub parameters: Value,
    /// `Success` or the error code given.
    pub result: String,
    pub error_message: Option<String>,
    pub resources: Vec<String>,
}

/// Appends one event. A failure is logged and counted, never returned.
pub(crate) async fn record(core: &Core, caller: Option<&Caller>, outcome: Outcome<'_>) {
    let mut resources = outcome.resources;
    resources.sort();
    resources.dedup();
    let record = AuditRecord {
        event_name: outcome.event_name.to_owned(),
        face: outcome.face,
        user_name: caller.map(|c| c.principal.user_name.clone()),
        access_key_id: caller.and_then(|c| c.principal.access_key_id.clone()),
        session_id: caller.and_then(|c| c.session_id.clone()),
        source_ip: caller.and_then(|c| c.source_ip.clone()),
        user_agent: caller.and_then(|c| c.user_agent.clone()),
        request_parameters: redact(&outcome.parameters).to_string(),
        result: outcome.result,
        error_message: outcome.error_message,
        resources,
    };
    if let Err(err) = core.audit().record(record).await {
        metrics::counter!("ota_audit_failures_total").increment(1);
        tracing::error!(error = %err, event = outcome.event_name, "audit event not written");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_file_contents_never_reach_the_log() {
        let cases = [
            (
                json!({"DeviceSecret": "abc", "product_key": "P1"}),
                json!({"DeviceSecret": "***", "product_key": "P1"}),
            ),
            (
                json!({"password": "hunter22", "nested": {"access_key_secret": "s"}}),
                json!({"password": "***", "nested": {"access_key_secret": "***"}}),
            ),
            (
                json!({"File": "0123456789", "certificate_pem": "-----BEGIN"}),
                json!({"File": "(10 bytes)", "certificate_pem": "(10 bytes)"}),
            ),
            (
                json!({"items": [{"Token": "t"}, {"name": "n"}]}),
                json!({"items": [{"Token": "***"}, {"name": "n"}]}),
            ),
        ];
        for (given, want) in cases {
            assert_eq!(redact(&given), want, "{given}");
        }
    }

    #[test]
    fn long_values_are_cut_with_their_size() {
        let long = "x".repeat(2000);
        let Value::Object(out) = redact(&json!({"description": long})) else {
            panic!("object expected");
        };
        let kept = out["description"].as_str().unwrap();
        assert!(kept.ends_with("… (2000 bytes)"), "{kept}");
        assert!(kept.len() < 600);
    }

    #[test]
    fn ids_are_found_at_the_top_and_one_level_down() {
        let answer = json!({
            "job": {"job_id": "J1", "firmware_id": "F1"},
            "Data": {"FirmwareId": "F2"},
            "product_key": "P1",
            "deep": {"x": {"job_id": "ignored"}},
        });
        let mut ids = ids_in_answer(&answer);
        ids.sort();
        assert_eq!(ids, ["F1", "F2", "J1", "P1"]);
    }
}
