//! Which device an X.509 client certificate names, and whether it may be used now.
//!
//! A device on the MQTT TLS listener may prove who it is with a certificate issued by a CA
//! an operator registered for its product instead of a password. The certificate's subject
//! names the device: the Organizational Unit (OU) is the ProductKey and the Common Name (CN)
//! the DeviceName, exactly one of each, so a certificate can never name two devices. These
//! rules are pure: the gateway extracts the attributes and times, the rules decide.

use crate::validate::registry as rules;
use crate::{DeviceKey, DomainError, Millis};

/// Why a client certificate does not log a device in. Every refusal is "not authorized" at
/// CONNECT; the variant is for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateRefusal {
    /// The subject has no Common Name, or more than one.
    CommonName,
    /// The subject has no Organizational Unit, or more than one.
    OrganizationalUnit,
    /// The Common Name is not a valid DeviceName or the OU not a valid ProductKey.
    InvalidName,
    /// Not valid yet.
    NotYetValid,
    /// Expired.
    Expired,
}

impl CertificateRefusal {
    /// A stable string for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateRefusal::CommonName => "subject_common_name",
            CertificateRefusal::OrganizationalUnit => "subject_organizational_unit",
            CertificateRefusal::InvalidName => "subject_invalid_name",
            CertificateRefusal::NotYetValid => "not_yet_valid",
            CertificateRefusal::Expired => "expired",
        }
    }
}

/// The device a certificate subject names: its only OU is the ProductKey, its only CN the
/// DeviceName.
pub fn device_of_subject(
    common_names: &[&str],
    organizational_units: &[&str],
) -> Result<DeviceKey, CertificateRefusal> {
    let [device_name] = common_names else {
        return Err(CertificateRefusal::CommonName);
    };
    let [product_key] = organizational_units else {
        return Err(CertificateRefusal::OrganizationalUnit);
    };
    if rules::device_name(device_name).is_err() || !is_product_key(product_key) {
        return Err(CertificateRefusal::InvalidName);
    }
    Ok(DeviceKey::new(*product_key, *device_name))
}

/// A ProductKey as the platform and Alibaba Cloud issue them: 1-64 letters and digits.
fn is_product_key(value: &str) -> bool {
    (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether a certificate valid from `not_before` to `not_after` (inclusive, epoch ms) may be
/// used at `now`.
pub fn check_validity(
    not_before: Millis,
    not_after: Millis,
    now: Millis,
) -> Result<(), CertificateRefusal> {
    if now < not_before {
        return Err(CertificateRefusal::NotYetValid);
    }
    if now > not_after {
        return Err(CertificateRefusal::Expired);
    }
    Ok(())
}

/// A certificate serial number as operators type it (hex, optionally with `:` between
/// bytes, any case, leading zeros or not) in the one form stored and compared: lower-case
/// hex without leading zeros (`0` for zero).
pub fn serial(value: &str) -> Result<String, DomainError> {
    const RULE: &str = "must be 1-40 bytes of hexadecimal digits, optionally separated by ':'";
    let digits: String = value.chars().filter(|c| *c != ':').collect();
    if digits.is_empty()
        || digits.len() > 80
        || !digits.chars().all(|c| c.is_ascii_hexdigit())
        || value.starts_with(':')
        || value.ends_with(':')
        || value.contains("::")
    {
        return Err(DomainError::invalid("serial", RULE));
    }
    let trimmed = digits.trim_start_matches('0').to_ascii_lowercase();
    Ok(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed
    })
}

/// The serial in stored form from its big-endian bytes (as X.509 encodes it).
pub fn serial_of_bytes(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
