//! Object keys: relative names made of safe characters, the same rule on every backend, so a
//! key accepted by one can be moved to the other and can never escape a directory root.

use crate::BlobError;

/// Longest accepted key, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Checks that `key` is a relative name of non-empty `[A-Za-z0-9._-]` segments joined by `/`,
/// with no `.` or `..` segment.
pub fn check_key(key: &str) -> Result<(), BlobError> {
    let safe = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        });
    if safe {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_names() {
        for key in ["a", "pkg/abc.bin", "deltas/1-2/v1.0_b.patch"] {
            assert!(check_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn rejects_escaping_or_odd_keys() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for key in [
            "../x",
            "/etc/passwd",
            "a//b",
            "a/./b",
            "",
            "a b",
            "a/",
            "ü",
            &long,
        ] {
            assert!(
                matches!(check_key(key), Err(BlobError::InvalidKey(_))),
                "{key}"
            );
        }
    }
}
