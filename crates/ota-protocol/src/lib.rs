//! The device wire contract of the Alibaba Cloud IoT Platform OTA protocol: topic names,
//! the JSON payloads devices send and receive, the binary block-download reply, and the
//! MQTT CONNECT signature.
//!
//! Why a crate of its own: the server (device gateway), the device SDK and the fleet
//! simulator must agree byte for byte, and the official SDKs are quirky (ids as strings or
//! numbers, a trailing comma in the Link SDK's block request, upper-case hex passwords).
//! Writing those quirks down once, with tests, keeps every side compatible.
//!
//! This crate is pure: serde only, no tokio, no IO, no clock (times are arguments). Of the
//! platform it imports only `ota-domain` (pure too), for the values both sides share, such
//! as the meaning of a progress step; never a server crate (`ota-core`, the store, the
//! gateway), so the device SDK stays free of them. Every decoder of device input returns a value or an error and never
//! panics (property-tested).
//!
//! Sources for every shape are cited in `reference/aliyun-ota-spec.md` (§2).

pub mod auth;
pub mod block;
mod device;
mod error;
mod lenient;
pub mod manifest;
pub mod message;
pub mod push;
pub mod registration;
pub mod topic;

pub use auth::{ConnectAuth, HmacMethod, MqttCredentials, SignRequest};
pub use block::{BlockReply, BlockReplyData, BlockReplyHeader, crc16_arc};
pub use device::{DeviceKey, parse_device_key};
pub use error::ProtocolError;
pub use manifest::{Manifest, ManifestError, TrustedKey};
pub use message::{DeviceMessage, FileBlockRequest, ProgressStep};
pub use push::{ExtData, FileEntry, SignMethod, UpgradeData, UpgradePush, empty_firmware_reply};
pub use registration::{ConnectKind, Issued, RegistrationKind, RegistrationRequest};
pub use topic::{
    DeviceTopic, Direction, TopicKind, device_owns_topic, filter_may_match_foreign,
    filter_may_match_owned, topic_owner,
};
