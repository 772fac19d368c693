//! The device side of the Alibaba Cloud IoT Platform OTA protocol, as a Rust library: connect
//! with a device certificate, report versions and progress, receive or pull update pushes,
//! download packages (HTTP with `Range` resume, or MQTT blocks with CRC), verify digests while
//! streaming, and hand the files to an installer — plus a fleet simulator built from the same
//! parts.
//!
//! Why it exists: the platform needs a device it can drive in tests and load runs without
//! flashing hardware, and embedders need a client that behaves like the official SDKs (same
//! topics, same payloads, same failure steps) so the server sees nothing unusual.
//!
//! Boundaries (STYLE #12): this crate knows only `ota-protocol` for the wire contract and never
//! imports a server crate. Everything that touches the device itself (where files go, how they
//! are installed, what version runs afterwards) is injected through [`UpdateHandler`], which is
//! how the simulator ([`sim`]) plugs in devices that only hash what they download.
//!
//! Transports: MQTT over plain TCP, or over TLS when [`DeviceConfig::tls_ca_pem`] names the
//! authorities to trust (rustls); downloads over `http://` or `https://` (the system's
//! authorities and those same ones).
//!
//! Layout: [`DeviceConfig`] → [`Device::connect`] (event loop task, reconnect, re-subscribe);
//! `Device::report_*` / [`Device::request_firmware`] / [`Device::next_push`];
//! [`Device::download`] for one file; [`Device::run_update`] for the whole update with the
//! progress and failure reports the platform expects.

mod config;
pub mod delta;
mod device;
mod digest;
mod download;
mod error;
mod event_loop;
pub mod sim;
mod update;
mod verify;

pub use config::{ClientCertificate, DeviceConfig};
pub use device::Device;
pub use digest::Hasher;
pub use download::{
    Abort, DiscardSink, DownloadOptions, DownloadTarget, DownloadedFile, FileSource, FileSpec,
    NoProgress, Progress, StoredFile,
};
pub use error::SdkError;
pub use update::{InstallError, UpdateError, UpdateHandler, UpdateOutcome};

pub use ota_protocol::{HmacMethod, MqttCredentials, SignMethod, UpgradeData, UpgradePush};
