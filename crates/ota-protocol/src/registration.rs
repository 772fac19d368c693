//! Dynamic registration ("one secret per product"): a device that knows its ProductKey,
//! ProductSecret and DeviceName asks for its own credentials.
//!
//! * MQTT, as the Python Link SDK sends it: client id
//!   `dn.pk|random=R,authType=register|regnwl,securemode=2,signmethod=hmacsha256|`, username
//!   `dn&pk`, password hex HMAC keyed with the ProductSecret over
//!   `deviceName{dn}productKey{pk}random{R}`. The platform accepts the CONNECT, publishes
//!   the credentials on `/ext/register` (`{productKey, deviceName, deviceSecret}`) or
//!   `/ext/regnwl` (`{productKey, deviceName, clientId, deviceToken}`) without a
//!   subscription, and the connection ends.
//! * A device registered with `regnwl` then connects with client id
//!   `clientId|authType=connwl,…|`, username `dn&pk` and the token as password.
//! * HTTPS `POST /auth/register/device` (form `productKey`, `deviceName`, `random`, `sign`,
//!   `signMethod`) signs the same text.

use crate::{DeviceKey, HmacMethod, ProtocolError, parse_device_key};
use serde::Serialize;

/// The topic a pre-registered device's secret is published on.
pub const REGISTER_TOPIC: &str = "/ext/register";
/// The topic a connection token is published on.
pub const REGNWL_TOPIC: &str = "/ext/regnwl";

/// What a device asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationKind {
    /// `authType=register` (and HTTPS): a pre-registered device asks for its DeviceSecret.
    Preregistered,
    /// `authType=regnwl`: the device is created if need be and gets a connection token.
    NoPreregistration,
}

/// How an MQTT CONNECT wants to authenticate, read from the client id's `authType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectKind {
    /// The device signature with its DeviceSecret (no `authType`).
    Signature,
    /// A registration request (`register` or `regnwl`).
    Registration(RegistrationKind),
    /// A connection token from `regnwl` (`authType=connwl`).
    Token,
}

impl ConnectKind {
    /// The kind of a CONNECT from its MQTT client id. An unknown `authType` reads as the
    /// plain signature, which then fails like any bad password.
    pub fn of_client_id(mqtt_client_id: &str) -> ConnectKind {
        let ext = mqtt_client_id.split_once('|').map_or("", |(_, ext)| ext);
        let auth_type = ext
            .trim_end_matches('|')
            .split(',')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("authType"))
            .map(|(_, v)| v.to_ascii_lowercase());
        match auth_type.as_deref() {
            Some("register") => ConnectKind::Registration(RegistrationKind::Preregistered),
            Some("regnwl") => ConnectKind::Registration(RegistrationKind::NoPreregistration),
            Some("connwl") => ConnectKind::Token,
            _ => ConnectKind::Signature,
        }
    }
}

/// A registration request, parsed; checked with [`RegistrationRequest::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub device: DeviceKey,
    pub kind: RegistrationKind,
    /// The device's random text, signed; each is accepted once.
    pub random: String,
    pub method: HmacMethod,
    /// The hex HMAC the device sent (MQTT password, HTTPS `sign`).
    pub sign: String,
}

/// The longest `random` accepted.
pub const MAX_RANDOM_LEN: usize = 64;

impl RegistrationRequest {
    /// Parses an MQTT registration CONNECT (client id, username, password).
    pub fn from_connect(
        mqtt_client_id: &str,
        username: &str,
        password: &str,
    ) -> Result<RegistrationRequest, ProtocolError> {
        let ConnectKind::Registration(kind) = ConnectKind::of_client_id(mqtt_client_id) else {
            return Err(ProtocolError::InvalidClientId(
                "authType must be register or regnwl".into(),
            ));
        };
        let (dn, pk) = username
            .rsplit_once('&')
            .ok_or_else(|| ProtocolError::InvalidUsername(username.to_owned()))?;
        let ext = mqtt_client_id.split_once('|').map_or("", |(_, ext)| ext);
        let get = |name: &str| {
            ext.trim_end_matches('|')
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_owned())
        };
        let random =
            get("random").ok_or_else(|| ProtocolError::InvalidClientId("no random".into()))?;
        let method = match get("signmethod") {
            Some(m) => HmacMethod::parse(&m).ok_or(ProtocolError::UnsupportedSignMethod(m))?,
            None => HmacMethod::HmacSha256,
        };
        Self::new(pk, dn, kind, &random, method, password)
    }

    /// Parses the HTTPS form's fields (`signMethod` defaults to `hmacsha256`).
    pub fn from_form(
        product_key: &str,
        device_name: &str,
        random: &str,
        sign: &str,
        sign_method: Option<&str>,
    ) -> Result<RegistrationRequest, ProtocolError> {
        let method = match sign_method {
            Some(m) => HmacMethod::parse(m)
                .ok_or_else(|| ProtocolError::UnsupportedSignMethod(m.to_owned()))?,
            None => HmacMethod::HmacSha256,
        };
        Self::new(
            product_key,
            device_name,
            RegistrationKind::Preregistered,
            random,
            method,
            sign,
        )
    }

    fn new(
        pk: &str,
        dn: &str,
        kind: RegistrationKind,
        random: &str,
        method: HmacMethod,
        sign: &str,
    ) -> Result<RegistrationRequest, ProtocolError> {
        let device = parse_device_key(pk, dn)?;
        if random.is_empty()
            || random.len() > MAX_RANDOM_LEN
            || !random.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ProtocolError::InvalidClientId(format!(
                "random must be 1-{MAX_RANDOM_LEN} letters and digits"
            )));
        }
        Ok(RegistrationRequest {
            device,
            kind,
            random: random.to_owned(),
            method,
            sign: sign.trim().to_owned(),
        })
    }

    /// The signed text: `deviceName{dn}productKey{pk}random{random}`.
    pub fn sign_content(&self) -> String {
        registration_sign_content(
            self.device.product_key.as_str(),
            self.device.device_name.as_str(),
            &self.random,
        )
    }

    /// Whether `sign` is the HMAC of the signed text keyed with `product_secret` (hex of
    /// either case, compared in constant time).
    pub fn verify(&self, product_secret: &str) -> bool {
        let Ok(tag) = hex::decode(&self.sign) else {
            return false;
        };
        self.method.verify(
            product_secret.as_bytes(),
            self.sign_content().as_bytes(),
            &tag,
        )
    }

    /// The topic the MQTT answer is published on.
    pub fn reply_topic(&self) -> &'static str {
        match self.kind {
            RegistrationKind::Preregistered => REGISTER_TOPIC,
            RegistrationKind::NoPreregistration => REGNWL_TOPIC,
        }
    }
}

/// The text a registration signs.
pub fn registration_sign_content(product_key: &str, device_name: &str, random: &str) -> String {
    format!("deviceName{device_name}productKey{product_key}random{random}")
}

/// The lower-case hex SHA-256 of a connection token: what the platform stores and compares
/// (the token itself is never stored).
pub fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// What a registered device is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Issued {
    /// `/ext/register` and HTTPS: `{productKey, deviceName, deviceSecret}`.
    #[serde(rename_all = "camelCase")]
    Secret {
        product_key: String,
        device_name: String,
        device_secret: String,
    },
    /// `/ext/regnwl`: `{productKey, deviceName, clientId, deviceToken}`.
    #[serde(rename_all = "camelCase")]
    Token {
        product_key: String,
        device_name: String,
        client_id: String,
        device_token: String,
    },
}

impl Issued {
    /// The JSON payload of the MQTT answer (and the HTTPS answer's `data`).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
