//! Typed device→cloud messages: parse `(topic, payload)` once, then act on a value.
//!
//! Parsing is as lenient as the official SDKs require (spec §2.2–§2.5): `id` as a string or a
//! number, `step` as a string or a number, a trailing comma in the Link SDK's block request,
//! absent or empty `params` in a firmware pull. Anything else is an error, never a panic.

use serde::Deserialize;
use serde_json::json;

pub use ota_domain::task::ProgressStep;

use crate::lenient::{self, lenient_u64, opt_i64, opt_text, opt_u64, small_ints};
use crate::{DeviceTopic, Direction, ProtocolError, TopicKind};

/// A block download request (spec §2.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileBlockRequest {
    /// The request id, echoed in the reply header.
    pub id: Option<String>,
    /// `fileInfo.streamId`, from the push's `streamId`.
    pub stream_id: u64,
    /// `fileInfo.fileId`, from the push's `streamFileId`.
    pub file_id: u64,
    /// `fileBlock.offset`: first byte wanted.
    pub offset: u64,
    /// `fileBlock.size`: bytes wanted.
    pub size: u64,
    /// `fileToken`, echoed in the reply header when present.
    pub file_token: Option<String>,
}

/// A message a device publishes on an OTA topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceMessage {
    /// `inform`: the device runs `version` of `module` (the default module when `None`).
    Inform {
        /// Message id, as text.
        id: Option<String>,
        /// The running version.
        version: String,
        /// The module; `None` for the default module.
        module: Option<String>,
        /// `params.deltaFormats`: the `ota-delta` patch format versions the device can apply
        /// (an extension; Aliyun devices send none and never get server-generated deltas).
        delta_formats: Vec<u8>,
        /// `params.deltaMemory`: the most working memory, in bytes, the device can give to
        /// applying a patch (an extension, like `deltaFormats`); `None` when it set no limit.
        delta_memory: Option<u64>,
    },
    /// `progress`: how far the update of `module` got, or how it failed.
    Progress {
        /// Message id, as text.
        id: Option<String>,
        /// Percentage or failure code.
        step: ProgressStep,
        /// Free text; empty when absent.
        desc: String,
        /// The module; `None` for the default module.
        module: Option<String>,
    },
    /// `thing/ota/firmware/get`: the device asks for its pending package.
    FirmwareGet {
        /// Message id, as text.
        id: Option<String>,
        /// The module asked about; `None` for all/default.
        module: Option<String>,
    },
    /// Legacy `/ota/device/request`: the iotkit v2/v3 form of [`DeviceMessage::FirmwareGet`].
    Request {
        /// Message id, as text.
        id: Option<String>,
        /// The version the device runs, if it said.
        version: Option<String>,
        /// The module; `None` for the default module.
        module: Option<String>,
    },
    /// `thing/file/download`: a block of an MQTT-delivered file.
    FileDownload(FileBlockRequest),
    /// Not a device→cloud OTA topic; the payload was not looked at.
    Other,
}

#[derive(Deserialize)]
struct Envelope<P> {
    #[serde(default, deserialize_with = "opt_text")]
    id: Option<String>,
    #[serde(default = "Option::default")]
    params: Option<P>,
}

#[derive(Deserialize, Default)]
struct VersionParams {
    #[serde(default, deserialize_with = "opt_text")]
    version: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    module: Option<String>,
    #[serde(default, rename = "deltaFormats", deserialize_with = "small_ints")]
    delta_formats: Vec<u8>,
    #[serde(default, rename = "deltaMemory", deserialize_with = "lenient_u64")]
    delta_memory: Option<u64>,
}

#[derive(Deserialize)]
struct ProgressParams {
    #[serde(default, deserialize_with = "opt_i64")]
    step: Option<i64>,
    #[serde(default, deserialize_with = "opt_text")]
    desc: Option<String>,
    #[serde(default, deserialize_with = "opt_text")]
    module: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownloadParams {
    #[serde(default, deserialize_with = "opt_text")]
    file_token: Option<String>,
    file_info: FileInfo,
    file_block: FileBlock,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileInfo {
    #[serde(default, deserialize_with = "opt_u64")]
    stream_id: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    file_id: Option<u64>,
}

#[derive(Deserialize)]
struct FileBlock {
    #[serde(default, deserialize_with = "opt_u64")]
    size: Option<u64>,
    #[serde(default, deserialize_with = "opt_u64")]
    offset: Option<u64>,
}

/// An empty module means the default module.
fn module(m: Option<String>) -> Option<String> {
    m.filter(|m| !m.is_empty())
}

fn envelope<P: serde::de::DeserializeOwned>(
    kind: &'static str,
    payload: &[u8],
) -> Result<Envelope<P>, ProtocolError> {
    lenient::from_slice(payload).map_err(|e| ProtocolError::payload(kind, e))
}

fn required<T>(kind: &'static str, field: &str, v: Option<T>) -> Result<T, ProtocolError> {
    v.ok_or_else(|| ProtocolError::payload(kind, format!("missing {field}")))
}

impl DeviceMessage {
    /// Parses what a device published. Topics that are not device→cloud OTA topics give
    /// [`DeviceMessage::Other`]; an OTA topic with an unusable payload gives an error.
    pub fn parse(topic: &str, payload: &[u8]) -> Result<DeviceMessage, ProtocolError> {
        match DeviceTopic::parse(topic) {
            Some(t) if t.kind.direction() == Direction::DeviceToCloud => {
                Self::parse_kind(t.kind, payload)
            }
            _ => Ok(DeviceMessage::Other),
        }
    }

    /// Parses a payload known to be of `kind`. Cloud→device kinds give
    /// [`DeviceMessage::Other`].
    pub fn parse_kind(kind: TopicKind, payload: &[u8]) -> Result<DeviceMessage, ProtocolError> {
        match kind {
            TopicKind::Inform => {
                let env: Envelope<VersionParams> = envelope("inform", payload)?;
                let p = required("inform", "params", env.params)?;
                let version = required("inform", "params.version", p.version)?;
                if version.is_empty() {
                    return Err(ProtocolError::payload("inform", "empty params.version"));
                }
                Ok(DeviceMessage::Inform {
                    id: env.id,
                    version,
                    module: module(p.module),
                    delta_formats: p.delta_formats,
                    delta_memory: p.delta_memory,
                })
            }
            TopicKind::Progress => {
                let env: Envelope<ProgressParams> = envelope("progress", payload)?;
                let p = required("progress", "params", env.params)?;
                let step = required("progress", "params.step", p.step)?;
                Ok(DeviceMessage::Progress {
                    id: env.id,
                    step: ProgressStep::from_code(step),
                    desc: p.desc.unwrap_or_default(),
                    module: module(p.module),
                })
            }
            TopicKind::FirmwareGet | TopicKind::Request => {
                // Some clients send an empty body; that is a pull for the default module.
                let env: Envelope<VersionParams> = if payload.iter().all(u8::is_ascii_whitespace) {
                    Envelope {
                        id: None,
                        params: None,
                    }
                } else {
                    envelope("firmware get", payload)?
                };
                let p = env.params.unwrap_or_default();
                Ok(if kind == TopicKind::Request {
                    DeviceMessage::Request {
                        id: env.id,
                        version: p.version,
                        module: module(p.module),
                    }
                } else {
                    DeviceMessage::FirmwareGet {
                        id: env.id,
                        module: module(p.module),
                    }
                })
            }
            TopicKind::FileDownload => {
                const KIND: &str = "file download";
                let env: Envelope<DownloadParams> = envelope(KIND, payload)?;
                let p = required(KIND, "params", env.params)?;
                Ok(DeviceMessage::FileDownload(FileBlockRequest {
                    id: env.id,
                    stream_id: required(KIND, "fileInfo.streamId", p.file_info.stream_id)?,
                    file_id: required(KIND, "fileInfo.fileId", p.file_info.file_id)?,
                    offset: p.file_block.offset.unwrap_or(0),
                    size: required(KIND, "fileBlock.size", p.file_block.size)?,
                    file_token: p.file_token,
                }))
            }
            TopicKind::Upgrade | TopicKind::FirmwareGetReply | TopicKind::FileDownloadReply => {
                Ok(DeviceMessage::Other)
            }
        }
    }

    /// The topic kind this message is published on; `None` for [`DeviceMessage::Other`].
    pub fn topic_kind(&self) -> Option<TopicKind> {
        Some(match self {
            DeviceMessage::Inform { .. } => TopicKind::Inform,
            DeviceMessage::Progress { .. } => TopicKind::Progress,
            DeviceMessage::FirmwareGet { .. } => TopicKind::FirmwareGet,
            DeviceMessage::Request { .. } => TopicKind::Request,
            DeviceMessage::FileDownload(_) => TopicKind::FileDownload,
            DeviceMessage::Other => return None,
        })
    }

    /// The payload a device sends for this message, in the form the SDKs use (id and step as
    /// strings). Used by the device SDK and the simulator; [`DeviceMessage::Other`] encodes
    /// as an empty payload.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut params = serde_json::Map::new();
        let mut put = |k: &str, v: Option<&String>| {
            if let Some(v) = v {
                params.insert(k.to_owned(), json!(v));
            }
        };
        let id = match self {
            DeviceMessage::Inform {
                id,
                version,
                module,
                delta_formats,
                delta_memory,
            } => {
                put("version", Some(version));
                put("module", module.as_ref());
                if !delta_formats.is_empty() {
                    params.insert("deltaFormats".to_owned(), json!(delta_formats));
                }
                if let Some(limit) = delta_memory {
                    params.insert("deltaMemory".to_owned(), json!(limit));
                }
                id
            }
            DeviceMessage::Progress {
                id,
                step,
                desc,
                module,
            } => {
                put("step", Some(&step.code().to_string()));
                put("desc", Some(desc));
                put("module", module.as_ref());
                id
            }
            DeviceMessage::FirmwareGet { id, module } => {
                put("module", module.as_ref());
                id
            }
            DeviceMessage::Request {
                id,
                version,
                module,
            } => {
                put("version", version.as_ref());
                put("module", module.as_ref());
                id
            }
            DeviceMessage::FileDownload(r) => {
                put("fileToken", r.file_token.as_ref());
                params.insert(
                    "fileInfo".into(),
                    json!({"streamId": r.stream_id, "fileId": r.file_id}),
                );
                params.insert(
                    "fileBlock".into(),
                    json!({"size": r.size, "offset": r.offset}),
                );
                &r.id
            }
            DeviceMessage::Other => return Vec::new(),
        };
        let mut body = serde_json::Map::new();
        if let Some(id) = id {
            body.insert("id".into(), json!(id));
        }
        body.insert("version".into(), json!("1.0"));
        body.insert("params".into(), serde_json::Value::Object(params));
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;
