//! Text rules shared by several operations: versions, package names, descriptions, and the
//! scalar parsing (booleans, integers) every query-string face needs.
//!
//! Lengths are counted in characters, not bytes: Aliyun counts a CJK character as one.

use crate::DomainError;
use serde::Serialize;
use std::fmt;

/// Maximum characters of `FirmwareDesc` and a module's `Desc`.
pub const MAX_DESC_CHARS: usize = 100;
/// Maximum characters of `Udi` / `FirmwareUdi`.
pub const MAX_UDI_CHARS: usize = 4096;

const VERSION_RULE: &str = "must be 1-64 characters of [A-Za-z0-9._-]";
const FIRMWARE_NAME_RULE: &str = "must be 1-40 characters of letters, digits, Chinese or Japanese \
     characters, '-', '_', '(' and ')', starting with a letter, digit or Chinese character";

/// `[A-Za-z0-9._-]`, the alphabet of versions, module names and alias names.
pub(super) fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Checks a length in characters and an alphabet.
pub(super) fn check_chars(
    field: &str,
    value: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<(), DomainError> {
    let len = value.chars().count();
    if len == 0 || len > max || !value.chars().all(allowed) {
        return Err(DomainError::invalid(field, rule));
    }
    Ok(())
}

/// Checks an optional free-text field's length in characters.
pub(super) fn optional_text(
    field: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, DomainError> {
    match value {
        Some(text) if text.chars().count() > max => Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        other => Ok(other),
    }
}

/// A package version (`DestVersion`, `SrcVersion`, `SrcVersion.N`): 1–64 characters of
/// `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Version(String);

impl Version {
    /// Parses `value` for the parameter `field`.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        check_chars(field, value, 64, is_identifier_char, VERSION_RULE)?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package name (`FirmwareName`): 1–40 characters of ASCII letters and digits, CJK
/// ideographs, Japanese kana, `-`, `_`, `(`, `)`; it starts with a letter, digit or CJK
/// ideograph (the spec names no kana as a first character, so none is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct FirmwareName(String);

impl FirmwareName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_chars("FirmwareName", value, 40, is_name_char, FIRMWARE_NAME_RULE)?;
        let first = value.chars().next().unwrap_or(' ');
        if !(first.is_ascii_alphanumeric() || is_cjk(first)) {
            return Err(DomainError::invalid("FirmwareName", FIRMWARE_NAME_RULE));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for FirmwareName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '(' | ')') || is_cjk(c) || is_kana(c)
}

/// CJK unified ideographs (with extension A, the compatibility block and the
/// supplementary-plane extensions).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4E00}'..='\u{9FFF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FA1F}')
}

/// Hiragana, katakana (with the prolonged sound mark), katakana extensions and half-width
/// katakana.
fn is_kana(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{309F}'
        | '\u{30A0}'..='\u{30FF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{FF66}'..='\u{FF9F}')
}

/// `FirmwareDesc`: at most 100 characters.
pub fn firmware_desc(value: Option<String>) -> Result<Option<String>, DomainError> {
    optional_text("FirmwareDesc", value, MAX_DESC_CHARS)
}

/// `Udi` (CreateOTAFirmware) / `FirmwareUdi` (ModifyOTAFirmware): at most 4,096
/// characters of free text.
pub fn udi(field: &str, value: Option<String>) -> Result<Option<String>, DomainError> {
    optional_text(field, value, MAX_UDI_CHARS)
}

/// A boolean query parameter. The official SDKs send `True`/`False`, so any case of
/// `true`/`false` is accepted.
pub fn parse_bool(field: &str, value: &str) -> Result<bool, DomainError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(DomainError::invalid(field, "must be true or false"))
    }
}

/// An integer query parameter (Integer or Long on the Aliyun API).
pub fn parse_int(field: &str, value: &str) -> Result<i64, DomainError> {
    value
        .trim()
        .parse()
        .map_err(|_| DomainError::invalid(field, "must be an integer"))
}
