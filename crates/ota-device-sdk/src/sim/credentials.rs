//! Device certificates for the simulator, from the CSV the platform's device registry
//! exports: `productKey,deviceName,deviceSecret`, one device per line.

use std::path::Path;

use crate::SdkError;

/// One device certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    /// Product key.
    pub product_key: String,
    /// Device name.
    pub device_name: String,
    /// Device secret.
    pub device_secret: String,
}

/// Parses `productKey,deviceName,deviceSecret` lines. Blank lines, `#` comments and a header
/// line starting with `productKey` are skipped; fields are trimmed.
pub fn parse_credentials_csv(text: &str) -> Result<Vec<DeviceCredentials>, SdkError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if i == 0
            && line
                .get(..10)
                .is_some_and(|h| h.eq_ignore_ascii_case("productkey"))
        {
            continue;
        }
        let bad = |reason: &str| SdkError::Credentials {
            line: i + 1,
            reason: reason.to_owned(),
        };
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [pk, dn, ds] = fields[..] else {
            return Err(bad("expected productKey,deviceName,deviceSecret"));
        };
        if pk.is_empty() || dn.is_empty() || ds.is_empty() {
            return Err(bad("empty field"));
        }
        out.push(DeviceCredentials {
            product_key: pk.to_owned(),
            device_name: dn.to_owned(),
            device_secret: ds.to_owned(),
        });
    }
    Ok(out)
}

/// Reads and parses a credentials file (see [`parse_credentials_csv`]).
pub fn load_credentials_csv(path: &Path) -> Result<Vec<DeviceCredentials>, SdkError> {
    parse_credentials_csv(&std::fs::read_to_string(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comments_and_errors() {
        let text =
            "productKey,deviceName,deviceSecret\n# fleet A\n\npk1, dev-1 ,s1\npk1,dev-2,s2\n";
        let creds = parse_credentials_csv(text).unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds[0].device_name, "dev-1");
        let err = parse_credentials_csv("pk,dn\n").unwrap_err();
        assert!(matches!(err, SdkError::Credentials { line: 1, .. }));
        let err = parse_credentials_csv("pk,dn,s\npk,,s\n").unwrap_err();
        assert!(matches!(err, SdkError::Credentials { line: 2, .. }));
    }
}
