//! The outbound device port: how the core reaches a connected device. The embedded broker
//! implements it in-process; an external-broker adapter implements it as an MQTT client.

use ota_domain::DeviceKey;

/// Delivers messages to devices.
pub trait DeviceLink: Send + Sync + 'static {
    /// Queues `payload` on `topic` for the device. Returns false when the device is not
    /// connected (nothing was sent). Never blocks on the device.
    fn send(&self, device: &DeviceKey, topic: &str, payload: Vec<u8>) -> bool;
    /// Whether the device is connected now.
    fn is_online(&self, device: &DeviceKey) -> bool;
    /// Closes the device's connection if this node holds it (a disabled device). Returns
    /// whether there was one. A link that cannot close connections (an external broker,
    /// which closes them only through its own admin API) returns false; the device is then
    /// refused at its next CONNECT.
    fn disconnect(&self, device: &DeviceKey) -> bool;
}

/// A link that reaches nobody: for tools that run the core without a device endpoint.
#[derive(Debug, Default)]
pub struct NoDevices;

impl DeviceLink for NoDevices {
    fn send(&self, _: &DeviceKey, _: &str, _: Vec<u8>) -> bool {
        false
    }
    fn is_online(&self, _: &DeviceKey) -> bool {
        false
    }
    fn disconnect(&self, _: &DeviceKey) -> bool {
        false
    }
}
