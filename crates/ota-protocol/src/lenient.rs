//! Leniency where the official SDKs are sloppy: trailing commas, and scalars that arrive as
//! strings on one SDK and as numbers on another.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::borrow::Cow;

/// Removes every comma that is followed (after whitespace) by `}` or `]`, outside strings.
///
/// The Link SDK C 4.x formats its block request as `..."fileId":%s,}`; serde_json rejects
/// that, so we repair it first. Borrowed when there is nothing to remove.
pub(crate) fn strip_trailing_commas(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in input.iter().enumerate() {
        let mut keep = true;
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b',' {
            let next = input[i + 1..].iter().find(|c| !c.is_ascii_whitespace());
            keep = !matches!(next, Some(b'}' | b']'));
        }
        match (&mut out, keep) {
            (Some(out), true) => out.push(b),
            (None, false) => out = Some(input[..i].to_vec()),
            _ => {}
        }
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(input),
    }
}

/// Parses JSON after [`strip_trailing_commas`].
pub(crate) fn from_slice<T: DeserializeOwned>(input: &[u8]) -> serde_json::Result<T> {
    serde_json::from_slice(&strip_trailing_commas(input))
}

/// A scalar as text: strings as they are, numbers in their JSON spelling (`1.0` stays `1.0`).
fn scalar_text(value: Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(format!("expected a string or number, got {other}")),
    }
}

/// An integer given as a JSON number or as a decimal string (`"95"`, `95`, `95.0`).
fn scalar_int(value: Value) -> Result<Option<i128>, String> {
    let from_f64 = |f: f64| {
        if f.fract() == 0.0 && f.abs() < 9.0e15 {
            Ok(f as i128)
        } else {
            Err(format!("expected an integer, got {f}"))
        }
    };
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(Some(i128::from(i))),
            (_, Some(u), _) => Ok(Some(i128::from(u))),
            (_, _, Some(f)) => from_f64(f).map(Some),
            _ => Err(format!("expected an integer, got {n}")),
        },
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<i128>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => match s.parse::<f64>() {
                    Ok(f) => from_f64(f).map(Some),
                    Err(_) => Err(format!("expected an integer, got {s:?}")),
                },
            }
        }
        other => Err(format!("expected an integer, got {other}")),
    }
}

fn narrow<T: TryFrom<i128>>(v: Option<i128>) -> Result<Option<T>, String> {
    v.map(|i| T::try_from(i).map_err(|_| format!("integer {i} out of range")))
        .transpose()
}

/// `#[serde(deserialize_with)]`: optional text from a string or a number.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    scalar_text(Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with)]`: optional integer from a number or a numeric string.
pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    scalar_int(Value::deserialize(d)?)
        .and_then(narrow)
        .map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with)]`: optional non-negative integer from a number or a string.
pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    scalar_int(Value::deserialize(d)?)
        .and_then(narrow)
        .map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with)]`: small non-negative integers from an array (numbers or
/// numeric strings); anything else, or entries out of range, are dropped: an optional
/// capability never makes a report invalid.
pub(crate) fn small_ints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter_map(|v| scalar_int(v).ok().flatten())
        .filter_map(|i| u8::try_from(i).ok())
        .collect())
}

/// `#[serde(deserialize_with)]`: an optional non-negative integer (a number or a numeric
/// string); anything else, negative or out of range, reads as absent: an optional capability
/// never makes a report invalid.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(scalar_int(Value::deserialize(d)?)
        .ok()
        .flatten()
        .and_then(|i| u64::try_from(i).ok()))
}

/// `#[serde(deserialize_with)]`: a flag given as `1`/`0`, `"1"`, or `true`/`false`.
pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        other => scalar_int(other)
            .map(|i| i.unwrap_or(0) != 0)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_commas_are_removed_outside_strings_only() {
        let cases: [(&str, &str); 6] = [
            (r#"{"a":1,}"#, r#"{"a":1}"#),
            (r#"{"a":[1,2, ],}"#, r#"{"a":[1,2 ]}"#),
            ("{\"a\":1 ,\n }", "{\"a\":1 \n }"),
            (r#"{"a":",}"}"#, r#"{"a":",}"}"#),
            (r#"{"a":"\",}",}"#, r#"{"a":"\",}"}"#),
            (r#"{"a":1,"b":2}"#, r#"{"a":1,"b":2}"#),
        ];
        for (input, want) in cases {
            assert_eq!(
                strip_trailing_commas(input.as_bytes()).as_ref(),
                want.as_bytes()
            );
        }
        assert!(matches!(
            strip_trailing_commas(b"{\"a\":1}"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn scalars_accept_strings_and_numbers() {
        assert_eq!(scalar_text(serde_json::json!(1.0)), Ok(Some("1.0".into())));
        assert_eq!(scalar_text(serde_json::json!("x")), Ok(Some("x".into())));
        assert!(scalar_text(serde_json::json!([1])).is_err());
        assert_eq!(scalar_int(serde_json::json!("-3")), Ok(Some(-3)));
        assert_eq!(scalar_int(serde_json::json!(" 95 ")), Ok(Some(95)));
        assert_eq!(scalar_int(serde_json::json!(95.0)), Ok(Some(95)));
        assert_eq!(scalar_int(serde_json::json!("95.0")), Ok(Some(95)));
        assert_eq!(
            scalar_int(serde_json::json!(u64::MAX)),
            Ok(Some(i128::from(u64::MAX)))
        );
        assert!(scalar_int(serde_json::json!("9.5")).is_err());
        assert!(scalar_int(serde_json::json!("abc")).is_err());
        assert!(scalar_int(serde_json::json!(1e300)).is_err());
        assert_eq!(narrow::<u64>(Some(-1)).ok(), None);
        assert_eq!(narrow::<i64>(Some(i128::from(u64::MAX))).ok(), None);
    }
}
