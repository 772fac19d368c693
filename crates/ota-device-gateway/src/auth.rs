//! Who may connect and what a device may touch: one rule for every device link.
//!
//! The embedded broker checks CONNECT and every publish with these functions; with an
//! external broker the same functions answer the broker's HTTP auth and ACL calls, so a
//! device is admitted and confined identically whichever broker it reaches.

use ota_protocol::{
    ConnectAuth, ConnectKind, DeviceKey, ProtocolError, device_owns_topic,
    filter_may_match_foreign, filter_may_match_owned,
};

use crate::GatewayHandler;
use crate::config::AdminCredential;

/// An authenticated client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A device, by the Aliyun signature of its CONNECT.
    Device(DeviceKey),
    /// A configured admin/service credential (operator tools, platform nodes).
    Admin,
}

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// Unknown or disabled device, or a username that names no device.
    NotAuthorized,
    /// A known client with a wrong password or unparseable credentials.
    BadCredentials,
}

/// Checks CONNECT credentials: configured admins first, then the device signature against
/// the device's secret from the handler, or (`authType=connwl`) the connection token a
/// `regnwl` registration issued. A dynamic registration request is no login: refused here
/// (the embedded broker serves it before calling this).
pub async fn authenticate<H: GatewayHandler>(
    admins: &[AdminCredential],
    handler: &H,
    client_id: &str,
    username: &str,
    password: &str,
) -> Result<Identity, AuthRefusal> {
    if let Some(admin) = admins.iter().find(|a| a.username == username) {
        if !constant_time_eq(admin.password.as_bytes(), password.as_bytes()) {
            return Err(AuthRefusal::BadCredentials);
        }
        return Ok(Identity::Admin);
    }
    match ConnectKind::of_client_id(client_id) {
        ConnectKind::Signature => {}
        ConnectKind::Registration(_) => return Err(AuthRefusal::NotAuthorized),
        ConnectKind::Token => {
            let device = device_of_username(username).ok_or(AuthRefusal::NotAuthorized)?;
            let client = client_id.split_once('|').map_or(client_id, |(c, _)| c);
            return match handler
                .connection_token_valid(&device, client, password)
                .await
            {
                true => Ok(Identity::Device(device)),
                false => Err(AuthRefusal::BadCredentials),
            };
        }
    }
    let auth = ConnectAuth::parse(client_id, username).map_err(|e| match e {
        ProtocolError::InvalidUsername(_) => AuthRefusal::NotAuthorized,
        _ => AuthRefusal::BadCredentials,
    })?;
    let secret = handler
        .device_secret(&auth.device)
        .await
        .ok_or(AuthRefusal::NotAuthorized)?;
    if !auth.verify(&secret, password) {
        return Err(AuthRefusal::BadCredentials);
    }
    Ok(Identity::Device(auth.device))
}

/// The device a CONNECT username (`deviceName&productKey`) names, if it names one.
pub fn device_of_username(username: &str) -> Option<DeviceKey> {
    ConnectAuth::parse("", username).ok().map(|a| a.device)
}

/// What a client asks to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Publish on a concrete topic.
    Publish,
    /// Subscribe with a filter.
    Subscribe,
}

/// Whether `device` may publish on `topic` or subscribe with the filter `topic`.
///
/// Publish: only on topics the device owns. Subscribe: only filters that can match nothing
/// but the device's own topics. The embedded broker accepts wider filters because it
/// filters on delivery; a broker that checks only at subscribe time must refuse them, or
/// `/ota/device/upgrade/+/+` would deliver every device's pushes.
pub fn device_may(device: &DeviceKey, action: Action, topic: &str) -> bool {
    let (pk, dn) = (device.product_key.as_str(), device.device_name.as_str());
    match action {
        Action::Publish => device_owns_topic(pk, dn, topic),
        Action::Subscribe => {
            crate::filter::valid_filter(topic)
                && filter_may_match_owned(pk, dn, topic)
                && !filter_may_match_foreign(pk, dn, topic)
        }
    }
}

/// Compares without an early exit, so timing does not reveal the matching prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a
        .iter()
        .zip(b)
        .fold(a.len() ^ b.len(), |acc, (x, y)| acc | usize::from(x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        use super::constant_time_eq as eq;
        assert!(eq(b"secret", b"secret") && eq(b"", b""));
        assert!(!eq(b"secret", b"secreT") && !eq(b"secret", b"secret2") && !eq(b"s", b""));
    }

    #[test]
    fn a_device_touches_only_its_own_topics() {
        let d = DeviceKey::new("pk1", "dn1");
        let own = [
            "/ota/device/inform/pk1/dn1",
            "/sys/pk1/dn1/thing/ota/firmware/get",
            "/sys/pk1/dn1/thing/file/download",
        ];
        for topic in own {
            assert!(device_may(&d, Action::Publish, topic), "{topic}");
            assert!(device_may(&d, Action::Subscribe, topic), "{topic}");
        }
        assert!(device_may(&d, Action::Subscribe, "/sys/pk1/dn1/#"));
        for topic in [
            "/ota/device/inform/pk1/dn2",
            "/sys/pk2/dn1/thing/file/download",
        ] {
            assert!(!device_may(&d, Action::Publish, topic), "{topic}");
            assert!(!device_may(&d, Action::Subscribe, topic), "{topic}");
        }
        for filter in ["/ota/device/upgrade/+/+", "#", "/sys/+/dn1/#", "/ota/#"] {
            assert!(!device_may(&d, Action::Subscribe, filter), "{filter}");
        }
        assert!(!device_may(&d, Action::Publish, "/ota/device/inform/+/dn1"));
    }

    #[test]
    fn usernames_name_devices() {
        assert_eq!(
            device_of_username("dn1&pk1"),
            Some(DeviceKey::new("pk1", "dn1"))
        );
        assert_eq!(device_of_username("admin"), None);
    }
}
