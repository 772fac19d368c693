//! MQTT CONNECT authentication with a device certificate (`productKey`, `deviceName`,
//! `deviceSecret`), spec §2.6.
//!
//! * client id: `clientId|securemode=3,signmethod=hmacsha1,timestamp=789,...|`;
//! * username: `deviceName&productKey`;
//! * password: hex HMAC, keyed with the device secret, over the submitted parameters sorted
//!   by name and concatenated as name+value: `clientId…deviceName…productKey…timestamp…`.
//!   `clientId` is the part before the first `|` (Python linkkit signs `pk&dn`, C SDK v3
//!   `pk.dn`) and is signed only when non-empty; `timestamp` only when the extension list
//!   has one. `signmethod` defaults to `hmacmd5`.
//!
//! Verification decodes the password as hex of either case (the C SDK v3 sends upper case)
//! and compares MACs in constant time. The device SDK uses [`SignRequest::sign`].

use hmac::{Hmac, KeyInit, Mac};

use crate::{DeviceKey, ProtocolError, parse_device_key};

/// The HMAC named by `signmethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HmacMethod {
    /// `hmacmd5`, the default when `signmethod` is absent.
    #[default]
    HmacMd5,
    /// `hmacsha1`.
    HmacSha1,
    /// `hmacsha256` (the docs also spell it `sha256`).
    HmacSha256,
}

impl HmacMethod {
    /// Parses a `signmethod` value, ignoring case.
    pub fn parse(s: &str) -> Option<HmacMethod> {
        match s.to_ascii_lowercase().as_str() {
            "hmacmd5" => Some(HmacMethod::HmacMd5),
            "hmacsha1" => Some(HmacMethod::HmacSha1),
            "hmacsha256" | "sha256" => Some(HmacMethod::HmacSha256),
            _ => None,
        }
    }

    /// The `signmethod` literal.
    pub fn as_str(self) -> &'static str {
        match self {
            HmacMethod::HmacMd5 => "hmacmd5",
            HmacMethod::HmacSha1 => "hmacsha1",
            HmacMethod::HmacSha256 => "hmacsha256",
        }
    }

    /// The raw MAC of `msg` keyed with `key`.
    pub fn mac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Vec<u8> {
            // HMAC accepts keys of any length, so this never yields `None` in practice.
            <M as KeyInit>::new_from_slice(key)
                .map(|m| m.chain_update(msg).finalize().into_bytes().to_vec())
                .unwrap_or_default()
        }
        match self {
            HmacMethod::HmacMd5 => run::<Hmac<md5::Md5>>(key, msg),
            HmacMethod::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, msg),
            HmacMethod::HmacSha256 => run::<Hmac<sha2::Sha256>>(key, msg),
        }
    }

    /// Constant-time check of `tag` against the MAC of `msg`.
    pub fn verify(self, key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
        fn run<M: Mac + KeyInit>(key: &[u8], msg: &[u8], tag: &[u8]) -> bool {
            <M as KeyInit>::new_from_slice(key)
                .is_ok_and(|m| m.chain_update(msg).verify_slice(tag).is_ok())
        }
        match self {
            HmacMethod::HmacMd5 => run::<Hmac<md5::Md5>>(key, msg, tag),
            HmacMethod::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, msg, tag),
            HmacMethod::HmacSha256 => run::<Hmac<sha2::Sha256>>(key, msg, tag),
        }
    }
}

/// The text that is signed: present parameters sorted by name, as name+value.
pub fn sign_content(
    product_key: &str,
    device_name: &str,
    client_id: Option<&str>,
    timestamp: Option<&str>,
) -> String {
    let mut s = String::with_capacity(64);
    // Already in name order: clientId < deviceName < productKey < timestamp.
    if let Some(cid) = client_id.filter(|c| !c.is_empty()) {
        s.push_str("clientId");
        s.push_str(cid);
    }
    s.push_str("deviceName");
    s.push_str(device_name);
    s.push_str("productKey");
    s.push_str(product_key);
    if let Some(ts) = timestamp {
        s.push_str("timestamp");
        s.push_str(ts);
    }
    s
}

/// A device's CONNECT credentials, parsed; the input to [`ConnectAuth::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAuth {
    /// The device named by the username.
    pub device: DeviceKey,
    /// The client id proper: the MQTT client id up to the first `|`.
    pub client_id: String,
    /// The extension list `k=v,...` in the order given.
    pub params: Vec<(String, String)>,
    /// `signmethod`, defaulting to `hmacmd5`.
    pub method: HmacMethod,
    /// `securemode` (2 TLS, 3 TCP, …), not enforced here.
    pub secure_mode: Option<String>,
    /// `timestamp`, signed when present.
    pub timestamp: Option<String>,
}

impl ConnectAuth {
    /// Parses the MQTT client id and username of a CONNECT.
    pub fn parse(mqtt_client_id: &str, username: &str) -> Result<ConnectAuth, ProtocolError> {
        let (dn, pk) = username
            .rsplit_once('&')
            .ok_or_else(|| ProtocolError::InvalidUsername(username.to_owned()))?;
        let device = parse_device_key(pk, dn)
            .map_err(|_| ProtocolError::InvalidUsername(username.to_owned()))?;

        let (client_id, ext) = mqtt_client_id
            .split_once('|')
            .unwrap_or((mqtt_client_id, ""));
        let ext = ext.strip_suffix('|').unwrap_or(ext);
        if ext.contains('|') {
            return Err(ProtocolError::InvalidClientId(
                "more than one extension list".into(),
            ));
        }
        let mut params = Vec::new();
        for item in ext.split(',').filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| ProtocolError::InvalidClientId(format!("{item:?} is not k=v")))?;
            params.push((k.to_owned(), v.to_owned()));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let method = match get("signmethod") {
            None => HmacMethod::HmacMd5,
            Some(m) => {
                HmacMethod::parse(&m).ok_or(ProtocolError::UnsupportedSignMethod(m.clone()))?
            }
        };
        Ok(ConnectAuth {
            device,
            client_id: client_id.to_owned(),
            secure_mode: get("securemode"),
            timestamp: get("timestamp"),
            method,
            params,
        })
    }

    /// The signed text for these credentials.
    pub fn sign_content(&self) -> String {
        sign_content(
            self.device.product_key.as_str(),
            self.device.device_name.as_str(),
            Some(&self.client_id),
            self.timestamp.as_deref(),
        )
    }

    /// The lower-case hex password a device with `device_secret` would send.
    pub fn expected_password(&self, device_secret: &str) -> String {
        hex::encode(
            self.method
                .mac(device_secret.as_bytes(), self.sign_content().as_bytes()),
        )
    }

    /// Checks `password` (hex, either case) in constant time.
    pub fn verify(&self, device_secret: &str, password: &str) -> bool {
        let Ok(tag) = hex::decode(password.trim()) else {
            return false;
        };
        self.method.verify(
            device_secret.as_bytes(),
            self.sign_content().as_bytes(),
            &tag,
        )
    }
}

/// What a device needs to sign its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignRequest<'a> {
    /// Product key.
    pub product_key: &'a str,
    /// Device name.
    pub device_name: &'a str,
    /// Device secret (the HMAC key).
    pub device_secret: &'a str,
    /// Client id proper, e.g. `pk&dn` or `pk.dn`; signed when non-empty.
    pub client_id: &'a str,
    /// Timestamp text (the SDKs use milliseconds); signed when present.
    pub timestamp: Option<&'a str>,
    /// HMAC to use.
    pub method: HmacMethod,
    /// `securemode` to announce: 2 with TLS, 3 on plain TCP.
    pub secure_mode: u8,
}

/// The three CONNECT fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttCredentials {
    /// `clientId|securemode=..,signmethod=..[,timestamp=..]|`.
    pub client_id: String,
    /// `deviceName&productKey`.
    pub username: String,
    /// Lower-case hex HMAC.
    pub password: String,
}

impl SignRequest<'_> {
    /// Computes the CONNECT credentials.
    pub fn sign(&self) -> MqttCredentials {
        let mut client_id = format!(
            "{}|securemode={},signmethod={}",
            self.client_id,
            self.secure_mode,
            self.method.as_str()
        );
        if let Some(ts) = self.timestamp {
            client_id.push_str(",timestamp=");
            client_id.push_str(ts);
        }
        client_id.push('|');
        let content = sign_content(
            self.product_key,
            self.device_name,
            Some(self.client_id),
            self.timestamp,
        );
        MqttCredentials {
            client_id,
            username: format!("{}&{}", self.device_name, self.product_key),
            password: hex::encode(
                self.method
                    .mac(self.device_secret.as_bytes(), content.as_bytes()),
            ),
        }
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
