//! The identity of a device on the wire: its product key and device name.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ProtocolError;

/// A device as the protocol names it: `(ProductKey, DeviceName)`.
///
/// Both parts appear as single topic levels, so they may not be empty and may not contain
/// `/`, `+`, `#` or NUL ([`DeviceId::parse`] checks this; [`DeviceId::new`] trusts the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceId {
    /// The product key (`ProductKey`, `pk`).
    pub product_key: String,
    /// The device name within the product (`DeviceName`, `dn`).
    pub device_name: String,
}

impl DeviceId {
    /// Builds an id without validating it.
    pub fn new(product_key: impl Into<String>, device_name: impl Into<String>) -> Self {
        Self {
            product_key: product_key.into(),
            device_name: device_name.into(),
        }
    }

    /// Builds an id, rejecting parts that could not stand as one topic level.
    pub fn parse(product_key: &str, device_name: &str) -> Result<Self, ProtocolError> {
        if !is_topic_segment(product_key) {
            return Err(ProtocolError::InvalidDeviceId(product_key.to_owned()));
        }
        if !is_topic_segment(device_name) {
            return Err(ProtocolError::InvalidDeviceId(device_name.to_owned()));
        }
        Ok(Self::new(product_key, device_name))
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.product_key, self.device_name)
    }
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
        assert!(DeviceId::parse("pk", "dn").is_ok());
        assert!(DeviceId::parse("pk", "dev-1@a.b:c").is_ok());
        for bad in ["", "a/b", "+", "a#", "a\0"] {
            assert!(DeviceId::parse(bad, "dn").is_err(), "{bad:?}");
            assert!(DeviceId::parse("pk", bad).is_err(), "{bad:?}");
        }
        assert_eq!(DeviceId::new("pk", "dn").to_string(), "pk/dn");
    }
}
