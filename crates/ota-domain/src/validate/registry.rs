//! Registry rules: product, device and group names, device tags, descriptions.
//!
//! They follow the Aliyun IoT Platform's registry: a DeviceName is 4–32 characters of
//! letters, digits and `-_@.:`; a product name 4–30 characters of letters, digits, CJK,
//! `_` and `-`; group names 1–30 characters likewise.

use super::text::{check_chars, optional_text};
use crate::DomainError;

/// Maximum characters of registry descriptions.
pub const MAX_REGISTRY_DESC_CHARS: usize = 100;

fn is_cjk_or_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-') || ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// `ProductName`: 4–30 characters of letters, digits, Chinese characters, `_` and `-`.
pub fn product_name(value: &str) -> Result<String, DomainError> {
    let len = value.chars().count();
    if len < 4 {
        return Err(DomainError::invalid(
            "ProductName",
            "must be 4-30 characters of letters, digits, Chinese characters, '_' and '-'",
        ));
    }
    check_chars(
        "ProductName",
        value,
        30,
        is_cjk_or_word,
        "must be 4-30 characters of letters, digits, Chinese characters, '_' and '-'",
    )?;
    Ok(value.to_owned())
}

/// `DeviceName`: 4–32 characters of letters, digits and `-_@.:`.
pub fn device_name(value: &str) -> Result<String, DomainError> {
    const RULE: &str = "must be 4-32 characters of letters, digits and '-', '_', '@', '.', ':'";
    if value.chars().count() < 4 {
        return Err(DomainError::invalid("DeviceName", RULE));
    }
    check_chars(
        "DeviceName",
        value,
        32,
        |c| c.is_ascii_alphanumeric() || "-_@.:".contains(c),
        RULE,
    )?;
    Ok(value.to_owned())
}

/// `GroupName`: 1–30 characters of letters, digits, Chinese characters and `_`/`-`.
pub fn group_name(value: &str) -> Result<String, DomainError> {
    check_chars(
        "GroupName",
        value,
        30,
        is_cjk_or_word,
        "must be 1-30 characters of letters, digits, Chinese characters, '_' and '-'",
    )?;
    Ok(value.to_owned())
}

/// A device tag: key 1–30 characters of `[A-Za-z0-9._-]`, value 1–128 characters.
pub fn device_tag(key: &str, value: &str) -> Result<(), DomainError> {
    check_chars(
        "TagKey",
        key,
        30,
        |c| c.is_ascii_alphanumeric() || "._-".contains(c),
        "must be 1-30 characters of [A-Za-z0-9._-]",
    )?;
    let len = value.chars().count();
    if len == 0 || len > 128 {
        return Err(DomainError::invalid("TagValue", "must be 1-128 characters"));
    }
    Ok(())
}

/// A registry description (`Description`, `GroupDesc`): at most 100 characters.
pub fn optional_description(
    field: &str,
    value: Option<String>,
) -> Result<Option<String>, DomainError> {
    optional_text(field, value, MAX_REGISTRY_DESC_CHARS)
}

/// The number of devices registration without pre-registration (`regnwl`) may create in a
/// product: 0 (none) to 1,000,000.
pub fn regnwl_quota(value: i64) -> Result<i64, DomainError> {
    if (0..=1_000_000).contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::invalid("regnwl_quota", "must be 0-1000000"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        for ok in ["dev1", "a-b_c@d.e:f", &"x".repeat(32)] {
            assert!(device_name(ok).is_ok(), "{ok}");
        }
        for bad in ["abc", "", &"x".repeat(33), "has space", "naïve1"] {
            let err = device_name(bad).unwrap_err();
            assert_eq!(err.field.as_deref(), Some("DeviceName"), "{bad}");
        }
    }

    #[test]
    fn product_names() {
        assert!(product_name("Lamp").is_ok());
        assert!(product_name("智能灯泡产品").is_ok());
        assert!(product_name("abc").is_err());
        assert!(product_name(&"a".repeat(31)).is_err());
        assert!(product_name("a b c d").is_err());
    }

    #[test]
    fn group_names_and_tags() {
        assert!(group_name("g").is_ok());
        assert!(group_name("").is_err());
        assert!(device_tag("site", "berlin").is_ok());
        assert_eq!(
            device_tag("bad key", "v").unwrap_err().field.as_deref(),
            Some("TagKey")
        );
        assert_eq!(
            device_tag("k", "").unwrap_err().field.as_deref(),
            Some("TagValue")
        );
        assert!(optional_description("Description", Some("x".repeat(101))).is_err());
    }
}
