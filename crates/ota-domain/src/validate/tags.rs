//! Batch tags (`Tag.N.Key` / `Tag.N.Value`; UpdateOTAJob spells them `Tags.N.*`).
//!
//! Tags travel to the device in the push's `extData`, next to `_package_udi`; the key
//! alphabet `[A-Za-z0-9.]` has no `_`, so a tag can never shadow that entry.

use super::indexed_sub;
use crate::DomainError;
use std::collections::BTreeMap;

/// Most tags per batch.
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 30;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 1024;
/// Most characters of all keys and values together.
pub const MAX_TAG_TOTAL_CHARS: usize = 4096;

/// Parses tags given as (key, value) pairs in parameter order; `prefix` is `Tag` or `Tags`
/// and the pair at position i is reported as `{prefix}.{i+1}.Key` / `.Value`.
pub fn parse_tags(
    prefix: &str,
    pairs: Vec<(Option<String>, Option<String>)>,
) -> Result<BTreeMap<String, String>, DomainError> {
    if pairs.len() > MAX_TAGS {
        return Err(DomainError::invalid(
            prefix,
            format!("must have at most {MAX_TAGS} tags"),
        ));
    }
    let mut tags = BTreeMap::new();
    let mut first_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        let key_field = indexed_sub(prefix, i, "Key");
        let value_field = indexed_sub(prefix, i, "Value");
        let (key, value) = match (key, value) {
            (Some(k), Some(v)) => (k, v),
            (None, _) => {
                return Err(DomainError::invalid(
                    key_field,
                    format!("is required: {value_field} needs its key"),
                ));
            }
            (Some(_), None) => {
                return Err(DomainError::invalid(
                    value_field,
                    format!("is required: {key_field} needs its value"),
                ));
            }
        };
        let key_len = key.chars().count();
        if key_len == 0
            || key_len > MAX_TAG_KEY_CHARS
            || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            return Err(DomainError::invalid(
                key_field,
                "must be 1-30 characters of [A-Za-z0-9.]",
            ));
        }
        let value_len = value.chars().count();
        if value_len == 0 || value_len > MAX_TAG_VALUE_CHARS {
            return Err(DomainError::invalid(
                value_field,
                "must be 1-1024 characters",
            ));
        }
        if let Some(&j) = first_index.get(&key) {
            let first = indexed_sub(prefix, j, "Key");
            return Err(DomainError::invalid(
                key_field,
                format!("must be unique; duplicates {first}"),
            ));
        }
        total += key_len + value_len;
        first_index.insert(key.clone(), i);
        tags.insert(key, value);
    }
    if total > MAX_TAG_TOTAL_CHARS {
        return Err(DomainError::invalid(
            prefix,
            format!("keys and values must total at most {MAX_TAG_TOTAL_CHARS} characters"),
        ));
    }
    Ok(tags)
}
