//! The identity of a device on the wire: its product key and device name.

use crate::ProtocolError;

/// A device as the protocol names it, `(ProductKey, DeviceName)`: the domain's
/// [`DeviceKey`], one type from the topic to the store.
pub use ota_domain::DeviceKey;

/// A device key whose parts can each stand as one topic level: not empty and without `/`,
/// `+`, `#` or NUL ([`DeviceKey::new`] trusts its caller).
pub fn parse_device_key(product_key: &str, device_name: &str) -> Result<DeviceKey, ProtocolError> {
    if !is_topic_segment(product_key) {
        return Err(ProtocolError::InvalidDeviceId(product_key.to_owned()));
    }
    if !is_topic_segment(device_name) {
        return Err(ProtocolError::InvalidDeviceId(device_name.to_owned()));
    }
    Ok(DeviceKey::new(product_key, device_name))
}

/// True when `s` can be used as exactly one literal topic level.
pub(crate) fn is_topic_segment(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| matches!(b, b'/' | b'+' | b'#' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_levels_that_would_break_topics() {
        assert!(parse_device_key("pk", "dn").is_ok());
        assert!(parse_device_key("pk", "dev-1@a.b:c").is_ok());
        for bad in ["", "a/b", "+", "a#", "a\0"] {
            assert!(parse_device_key(bad, "dn").is_err(), "{bad:?}");
            assert!(parse_device_key("pk", bad).is_err(), "{bad:?}");
        }
        assert_eq!(DeviceKey::new("pk", "dn").to_string(), "pk/dn");
    }
}
