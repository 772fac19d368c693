//! Cloud→device package descriptions: the `upgrade` push and the `firmware/get_reply`
//! (spec §2.3). Both carry the same `data` object.
//!
//! We emit exactly `{"code":"1000","data":{...},"id":<ms>,"message":"success"}`: iotkit
//! requires `"message":"success"`, Python linkkit drops a push unless `url`, `version`,
//! `size`, `signMethod` and `sign` are all non-empty, and both linkkit and the Link SDK check
//! the digest only for the literals `Md5` and `SHA256`. Parsing (for the device SDK) accepts
//! what older servers sent: `code` as `200`, sizes as strings, any case of the sign method.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

use crate::ProtocolError;
use crate::lenient::{self, flag, opt_text, opt_u64};

/// The digest named by `signMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignMethod {
    /// Emitted as `Md5`; 32 hex digits.
    #[default]
    Md5,
    /// Emitted as `SHA256`; 64 hex digits.
    Sha256,
}

impl SignMethod {
    /// The literal every SDK accepts.
    pub fn as_wire(self) -> &'static str {
        match self {
            SignMethod::Md5 => "Md5",
            SignMethod::Sha256 => "SHA256",
        }
    }

    /// Accepts any case of `md5`, `sha256` (and `sha-256`).
    pub fn parse(s: &str) -> Option<SignMethod> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Some(SignMethod::Md5),
            "sha256" | "sha-256" => Some(SignMethod::Sha256),
            _ => None,
        }
    }
}

impl Serialize for SignMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_wire())
    }
}

impl<'de> Deserialize<'de> for SignMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SignMethod::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown signMethod {s:?}")))
    }
}

/// `data.extData`: the batch tags, plus the package's `Udi` text as `_package_udi`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExtData {
    /// Batch tags (`Tag.N.Key` → `Tag.N.Value`).
    #[serde(flatten)]
    pub tags: BTreeMap<String, String>,
    /// The package's `Udi`.
    #[serde(
        rename = "_package_udi",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub package_udi: Option<String>,
    /// The signed manifest text (`crate::manifest`), when the server signs packages.
    #[serde(rename = "_manifest", default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

/// One file of a multi-file package (`data.files[]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// File name, unique in the package.
    pub file_name: String,
    /// Size in bytes.
    #[serde(deserialize_with = "u64_required")]
    pub file_size: u64,
    /// Download URL.
    pub file_url: String,
    /// Digest in the package's `signMethod`.
    pub file_sign: String,
    /// Hex MD5 (from the docs; not confirmed in SDK code).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_text"
    )]
    pub file_md5: Option<String>,
}

fn u64_required<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    opt_u64(d)?.ok_or_else(|| serde::de::Error::custom("missing number"))
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn bit<S: Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(u8::from(*b))
}

/// The `data` object of a push or pull reply. Field order is the serialisation order.
///
/// * Single file over HTTPS: `size`, `version`, `url`, `md5`, `sign`, `signMethod`.
/// * Single file over MQTT: no `url`; `dProtocol: "mqtt"`, `streamId`, `streamFileId`.
/// * Multi-file: `files`, no top-level `url`/`size`/`sign`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeData {
    /// Package size in bytes (single-file).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u64"
    )]
    pub size: Option<u64>,
    /// The destination version.
    #[serde(deserialize_with = "text_required")]
    pub version: String,
    /// Download URL (single file over HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Hex MD5 of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Digest of the file in `signMethod`, lower-case hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
    /// The digest algorithm of `sign`.
    pub sign_method: SignMethod,
    /// The module; absent for the default module.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// Delta package; emitted only when true (`"isDiff":1`), since whether full packages
    /// carry `0` is unconfirmed (spec §2.3).
    #[serde(
        default,
        skip_serializing_if = "is_false",
        serialize_with = "bit",
        deserialize_with = "flag"
    )]
    pub is_diff: bool,
    /// Batch tags and the package Udi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_data: Option<ExtData>,
    /// Base64 signature: AliOS-Things secure boot; here the Ed25519 signature of
    /// `extData._manifest` when the server signs packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digestsign: Option<String>,
    /// Files of a multi-file package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileEntry>>,
    /// `"mqtt"` for block download.
    #[serde(rename = "dProtocol", default, skip_serializing_if = "Option::is_none")]
    pub d_protocol: Option<String>,
    /// Stream of the MQTT download.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u64"
    )]
    pub stream_id: Option<u64>,
    /// File within the stream.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_u64"
    )]
    pub stream_file_id: Option<u64>,
}

fn text_required<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    opt_text(d)?.ok_or_else(|| serde::de::Error::custom("missing text"))
}

impl UpgradeData {
    /// True when the device must fetch the file by MQTT block download.
    pub fn is_mqtt_download(&self) -> bool {
        self.d_protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("mqtt"))
    }
}

/// The whole push / pull-reply message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradePush {
    /// `"1000"` on success.
    #[serde(deserialize_with = "text_required")]
    pub code: String,
    /// The package.
    pub data: UpgradeData,
    /// Milliseconds since the epoch when the message was made.
    #[serde(deserialize_with = "u64_required")]
    pub id: u64,
    /// `"success"`.
    pub message: String,
}

impl UpgradePush {
    /// A successful push; `id_ms` is the current time in milliseconds.
    pub fn new(data: UpgradeData, id_ms: u64) -> Self {
        Self {
            code: "1000".into(),
            data,
            id: id_ms,
            message: "success".into(),
        }
    }

    /// The JSON payload.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a push or pull reply; `Ok(None)` for a reply that says there is no package
    /// (`data` empty or absent).
    pub fn parse(payload: &[u8]) -> Result<Option<UpgradePush>, ProtocolError> {
        #[derive(Deserialize)]
        struct Probe {
            #[serde(default)]
            data: Option<serde_json::Value>,
        }
        let probe: Probe =
            lenient::from_slice(payload).map_err(|e| ProtocolError::payload("upgrade", e))?;
        match probe.data {
            None | Some(serde_json::Value::Null) => return Ok(None),
            Some(serde_json::Value::Object(m)) if m.is_empty() => return Ok(None),
            Some(_) => {}
        }
        lenient::from_slice(payload)
            .map(Some)
            .map_err(|e| ProtocolError::payload("upgrade", e))
    }
}

/// The `get_reply` payload when the device has no pending package: `{"code":200,"data":{}}`.
///
/// Unconfirmed (spec §2.3 `[?]`): the exact empty-reply shape of the real platform is not
/// known; SDKs only look for a non-empty `data`, so this is harmless.
pub fn empty_firmware_reply() -> Vec<u8> {
    br#"{"code":200,"data":{}}"#.to_vec()
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
