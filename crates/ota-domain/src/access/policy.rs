//! The policy document: RAM's JSON, parsed into [`Policy`] or refused with the JSON path of
//! the first fault.
//!
//! The document is read into a small order-keeping tree rather than typed structs so that a
//! refusal can name the exact element (`Statement[1].Action[2]`) and so that a key given twice
//! is refused: which of two `Effect`s counts is not something a policy may leave open.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest policy document RAM accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 6_144;
/// Most statements one document may hold.
pub const MAX_STATEMENTS: usize = 100;

/// The services whose actions a policy may name.
const SERVICES: [&str; 3] = ["iot", "ram", "actiontrail"];
/// RAM statement keys we refuse rather than ignore: each narrows or widens what a statement
/// grants, so dropping it silently would change the policy's meaning.
const UNSUPPORTED: [&str; 4] = ["Condition", "NotAction", "NotResource", "Principal"];

const ACTION_RULE: &str = "must be \"*\" or \"<service>:<name>\" with service iot, ram or \
                           actiontrail and a name of ASCII letters, digits, \"*\" and \"?\"";
const RESOURCE_RULE: &str = "must be \"*\" or an ARN starting with \"acs:\"";
const LIST_RULE: &str = "must be a string or a non-empty array of strings";

/// Whether a statement grants or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement: `effect` applies to requests whose action matches one of `actions` and
/// whose resource matches one of `resources` (both wildcard patterns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A validated policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

/// A refused document: `field` is a JSON path like `Statement[1].Effect`, `rule` says what is
/// required.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct PolicyError {
    pub field: String,
    pub rule: String,
}

fn refuse<T>(field: impl Into<String>, rule: impl Into<String>) -> Result<T, PolicyError> {
    Err(PolicyError {
        field: field.into(),
        rule: rule.into(),
    })
}

impl Policy {
    /// Parses and validates a policy document exactly as Aliyun RAM writes it.
    pub fn parse(document: &str) -> Result<Policy, PolicyError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return refuse(
                "document",
                format!("must be at most {MAX_DOCUMENT_BYTES} bytes"),
            );
        }
        let root: Json = match serde_json::from_str(document) {
            Ok(root) => root,
            Err(e) => return refuse("document", format!("is not valid JSON: {e}")),
        };
        let Json::Object(entries) = root else {
            return refuse("document", "must be a JSON object");
        };
        check_keys("", &entries, &["Version", "Statement"], &[])?;
        match get(&entries, "Version") {
            Some(Json::String(v)) if v == "1" => {}
            Some(_) => return refuse("Version", "must be the string \"1\""),
            None => return refuse("Version", "is required"),
        }
        let items = match get(&entries, "Statement") {
            Some(Json::Array(items)) if !items.is_empty() => items,
            Some(_) => return refuse("Statement", "must be a non-empty array of objects"),
            None => return refuse("Statement", "is required"),
        };
        if items.len() > MAX_STATEMENTS {
            return refuse(
                "Statement",
                format!("must hold at most {MAX_STATEMENTS} statements"),
            );
        }
        let statements = items
            .iter()
            .enumerate()
            .map(|(i, item)| statement(&format!("Statement[{i}]"), item))
            .collect::<Result<_, _>>()?;
        Ok(Policy { statements })
    }
}

fn statement(path: &str, item: &Json) -> Result<Statement, PolicyError> {
    let Json::Object(entries) = item else {
        return refuse(path, "must be an object");
    };
    check_keys(
        path,
        entries,
        &["Effect", "Action", "Resource"],
        &UNSUPPORTED,
    )?;
    let effect = match get(entries, "Effect") {
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(_) => return refuse(format!("{path}.Effect"), "must be \"Allow\" or \"Deny\""),
        None => return refuse(format!("{path}.Effect"), "is required"),
    };
    let actions = strings(&format!("{path}.Action"), get(entries, "Action"), |a| {
        valid_action(a).then_some(()).ok_or(ACTION_RULE)
    })?;
    let resources = strings(&format!("{path}.Resource"), get(entries, "Resource"), |r| {
        (r == "*" || r.starts_with("acs:"))
            .then_some(())
            .ok_or(RESOURCE_RULE)
    })?;
    Ok(Statement {
        effect,
        actions,
        resources,
    })
}

/// Refuses, in document order, a key given twice, an unsupported key or an unknown one.
fn check_keys(
    path: &str,
    entries: &[(String, Json)],
    known: &[&str],
    unsupported: &[&str],
) -> Result<(), PolicyError> {
    for (i, (key, _)) in entries.iter().enumerate() {
        let field = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if entries[..i].iter().any(|(k, _)| k == key) {
            return refuse(field, "appears more than once");
        }
        if unsupported.contains(&key.as_str()) {
            return refuse(field, "is not supported");
        }
        if !known.contains(&key.as_str()) {
            return refuse(
                field,
                format!("is not a known key (expected {})", known.join(", ")),
            );
        }
    }
    Ok(())
}

/// `Action` or `Resource`: one string or a non-empty array of them, each passing `check`.
/// A fault in an array element names it (`Action[2]`); a fault in a lone string names the key.
fn strings(
    path: &str,
    value: Option<&Json>,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Result<Vec<String>, PolicyError> {
    let one = |field: String, v: &Json| match v {
        Json::String(s) => match check(s) {
            Ok(()) => Ok(s.clone()),
            Err(rule) => refuse(field, rule),
        },
        _ => refuse(field, "must be a string"),
    };
    match value {
        Some(v @ Json::String(_)) => Ok(vec![one(path.to_owned(), v)?]),
        Some(Json::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(j, v)| one(format!("{path}[{j}]"), v))
            .collect(),
        Some(_) => refuse(path, LIST_RULE),
        None => refuse(path, "is required"),
    }
}

/// `*`, or `<service>:<name>` with a known service and a name of letters, digits and wildcards.
fn valid_action(action: &str) -> bool {
    if action == "*" {
        return true;
    }
    let Some((service, name)) = action.split_once(':') else {
        return false;
    };
    SERVICES.contains(&service)
        && !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
}

fn get<'a>(entries: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// A JSON value keeping object keys in document order, duplicates included.
#[derive(Debug)]
enum Json {
    Null,
    Bool,
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Bool)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }
}
