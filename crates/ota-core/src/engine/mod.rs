//! The engine: what moves tasks. Three loops, all driven by the store:
//! - [`ingest`] commits device reports in groups and applies them to tasks;
//! - [`dispatch`] releases pushes at each batch's rate to online devices;
//! - [`timers`] fires due retries, timeouts and batch schedules.
//!
//! Every deadline is a column in the store, so after a restart the loops pick up exactly
//! where they stopped.

pub(crate) mod apply;
pub mod dispatch;
pub mod ingest;
pub mod timers;

use ota_domain::DeviceKey;

/// Something a device did, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceInput {
    /// The device connected.
    Online(DeviceKey),
    /// The device is known to be connected, but not that it just connected (behind an
    /// external broker, its first message to this node): online, without re-pushes.
    Seen(DeviceKey),
    /// The device disconnected or timed out.
    Offline(DeviceKey),
    /// The device reported the version of a module (`/ota/device/inform`).
    Inform {
        device: DeviceKey,
        module: Option<String>,
        version: String,
        /// The delta patch formats the device applies (`deltaFormats`).
        delta_formats: Vec<u8>,
        /// The most memory, in bytes, the device can give to applying a patch
        /// (`deltaMemory`; `None`: no limit).
        delta_memory: Option<u64>,
    },
    /// The device reported progress (`/ota/device/progress`).
    Progress {
        device: DeviceKey,
        module: Option<String>,
        step: i32,
        desc: Option<String>,
    },
}

impl DeviceInput {
    /// The device the input is from.
    pub fn device(&self) -> &DeviceKey {
        match self {
            DeviceInput::Online(device)
            | DeviceInput::Seen(device)
            | DeviceInput::Offline(device) => device,
            DeviceInput::Inform { device, .. } | DeviceInput::Progress { device, .. } => device,
        }
    }
}
