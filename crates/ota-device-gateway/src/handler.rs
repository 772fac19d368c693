//! The port the gateway needs from the rest of the platform. The composition root implements
//! it on top of `ota-core`; tests implement it in memory. The gateway never imports the core.

use bytes::Bytes;
use std::future::Future;

use ota_protocol::{DeviceKey, DeviceMessage, FileBlockRequest, RegistrationRequest};

/// Identifies one connection of a device. Increases with every accepted connection, so a
/// consumer can tell a late `on_offline` of an old connection from a newer `on_online`.
pub type ConnectionId = u64;

/// A block of a file served by MQTT block download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileBlock {
    /// Total length of the file, in bytes.
    pub file_length: u64,
    /// The requested bytes (at most the requested size; fewer at the end of the file).
    pub data: Bytes,
}

/// What the gateway asks of the platform.
///
/// `on_online` and `on_offline` are plain functions: they run on the connection's task while
/// the gateway holds the device's registry lock, which is what keeps them in order per
/// device even when a reconnect races a disconnect. So they must not block and must not
/// call back into the [`crate::Gateway`] (that would deadlock on the same lock): record
/// and return. `on_device_message` runs on the device's connection task and may wait for
/// room in the platform's queue, which holds back only that device. The lookups are async
/// and run only on the asking device's connection (or on a task of their own), so a slow
/// lookup delays only that device.
pub trait GatewayHandler: Send + Sync + 'static {
    /// The device's secret for CONNECT authentication; `None` for an unknown or disabled
    /// device (the CONNECT is refused).
    fn device_secret(&self, device: &DeviceKey) -> impl Future<Output = Option<String>> + Send;

    /// Whether `token` is the connection token issued to the device, with `client_id`, by a
    /// `regnwl` registration (`authType=connwl` CONNECTs). Default: no device has one.
    fn connection_token_valid(
        &self,
        _device: &DeviceKey,
        _client_id: &str,
        _token: &str,
    ) -> impl Future<Output = bool> + Send {
        async { false }
    }

    /// The DER of the CA certificates registered for `device`'s product, for a device
    /// logging in with a client certificate on the TLS listener (its subject named
    /// `device`). Default: none, so certificate logins are refused.
    fn certificate_authorities(
        &self,
        _device: &DeviceKey,
    ) -> impl Future<Output = Vec<Vec<u8>>> + Send {
        async { Vec::new() }
    }

    /// Whether a device whose certificate chained to one of its product's CAs may connect:
    /// `serial` (lower-case hex, no leading zeros) is not revoked and the device is enabled,
    /// or does not exist and was created because its product allows it. `Err` says why
    /// not (for the log). Default: refused.
    fn admit_certificate(
        &self,
        _device: &DeviceKey,
        _serial: &str,
    ) -> impl Future<Output = Result<(), String>> + Send {
        async { Err("certificate logins are not offered".to_owned()) }
    }

    /// A dynamic registration request (`authType=register` or `regnwl`): the JSON payload
    /// to publish on the request's reply topic, or why it is refused (the CONNECT is then
    /// refused as "not authorized"). Default: dynamic registration is not offered.
    fn register_device(
        &self,
        _request: RegistrationRequest,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        async { Err("dynamic registration is not offered".to_owned()) }
    }

    /// The device completed CONNECT. Called again, without an `on_offline` in between, when a
    /// new connection of the same device takes over the old one.
    fn on_online(&self, device: &DeviceKey, connection: ConnectionId);

    /// The device's current connection ended (disconnect, keep-alive timeout, error, server
    /// shutdown). Not called for a connection that was taken over.
    fn on_offline(&self, device: &DeviceKey, connection: ConnectionId);

    /// An inform or progress report from the device (only [`DeviceMessage::Inform`] and
    /// [`DeviceMessage::Progress`] arrive here). Resolves once the platform has taken the
    /// report, waiting while it has no room; the device's later packets are read only then,
    /// so its reports stay in order. `ack` is the acknowledgement owed to the device: send
    /// it once the report is stored ([`crate::PubAck`]).
    fn on_device_message(
        &self,
        device: &DeviceKey,
        message: DeviceMessage,
        ack: crate::PubAck,
    ) -> impl Future<Output = ()> + Send;

    /// The link to the devices came back after it was lost (an external broker's
    /// connection was re-established and the subscriptions renewed): deliveries in flight
    /// when it broke, both ways, may be lost. Default: nothing.
    fn on_link_restored(&self) {}

    /// Another node sharing the external broker lost its session without a DISCONNECT (it
    /// died, or lost the broker): the device reports the broker had handed it and it had
    /// not acknowledged are gone, the broker gives them to nobody else. `peer` is its MQTT
    /// client id. Every node hears it. Default: nothing.
    fn on_peer_lost(&self, _peer: &str) {}

    /// The payload to publish on `…/thing/ota/firmware/get_reply` (and on the legacy request
    /// topic) when the device pulls; `None` when it has nothing pending (the gateway then
    /// replies with [`ota_protocol::push::empty_firmware_reply`]).
    fn firmware_get(
        &self,
        device: &DeviceKey,
        module: Option<String>,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// One block of an MQTT-delivered file. `Err` carries a message for the device; the
    /// gateway builds the binary reply on `…/thing/file/download_reply` either way.
    fn file_block(
        &self,
        device: &DeviceKey,
        request: &FileBlockRequest,
    ) -> impl Future<Output = Result<FileBlock, String>> + Send;
}
