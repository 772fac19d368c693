//! The adapters between the device links and the core: device traffic in
//! ([`DeviceBridge`] implements the gateway's port on top of the core, for either link) and
//! pushes out (the core's outbound port on top of the embedded broker, [`GatewayLink`], or
//! of the external-broker client, [`BrokerLink`]).

use ota_core::{Ack, Core, DeviceLink, RegistrationChannel};
use ota_device_gateway::{
    ConnectionId, DeviceKey, DeviceMessage, ExternalBroker, FileBlock, FileBlockRequest, Gateway,
    GatewayHandler, PubAck, QoS,
};
use ota_protocol::RegistrationRequest;
use std::sync::Arc;

/// Device traffic from the broker into the core.
pub struct DeviceBridge {
    pub core: Core,
    /// Whether "online" means the device just connected (the embedded broker sees every
    /// CONNECT), so its NOTIFIED pushes are sent again. Behind an external broker a node
    /// only learns that a device is there from its messages, which is no reconnect: a
    /// re-push then would only repeat a push the device has.
    pub connects_known: bool,
}

/// How long after a device's CONNECT reached `/mqtt/auth` it counts as reconnected: the
/// broker answers the CONNECT and the device subscribes only after the auth call, and a
/// push sent before its subscription is in place would be lost.
const BROKER_SUBSCRIBE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl DeviceBridge {
    /// A device is connecting through the external broker (its CONNECT passed
    /// `/mqtt/auth`): the broker's only word that a device (re)connected. Once it has had
    /// time to subscribe, its unfinished pushes are sent again, as the embedded broker does
    /// on every CONNECT.
    pub fn broker_connect(&self, device: &DeviceKey) {
        let (core, device) = (self.core.clone(), device.clone());
        tokio::spawn(async move {
            tokio::time::sleep(BROKER_SUBSCRIBE_GRACE).await;
            core.device_connected(device, true);
        });
    }
}

impl GatewayHandler for DeviceBridge {
    async fn device_secret(&self, device: &DeviceKey) -> Option<String> {
        match self.core.registry().device_secret(device).await {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(%err, "device secret lookup failed");
                None
            }
        }
    }

    async fn connection_token_valid(
        &self,
        device: &DeviceKey,
        client_id: &str,
        token: &str,
    ) -> bool {
        let registry = self.core.registry();
        match registry
            .check_connection_token(device, client_id, token)
            .await
        {
            Ok(valid) => valid,
            Err(err) => {
                tracing::error!(%err, "connection token lookup failed");
                false
            }
        }
    }

    async fn certificate_authorities(&self, device: &DeviceKey) -> Vec<Vec<u8>> {
        let registry = self.core.registry();
        match registry.certificate_authorities(&device.product_key).await {
            Ok(cas) => cas,
            Err(err) => {
                tracing::error!(%err, "device CA lookup failed");
                Vec::new()
            }
        }
    }

    async fn admit_certificate(&self, device: &DeviceKey, serial: &str) -> Result<(), String> {
        match self.core.registry().admit_certificate(device, serial).await {
            Ok(admission) if admission.admits() => Ok(()),
            Ok(refused) => Err(format!("{refused:?}")),
            Err(err) => {
                tracing::error!(%err, "device certificate admission failed");
                Err(err.to_string())
            }
        }
    }

    async fn register_device(&self, request: RegistrationRequest) -> Result<Vec<u8>, String> {
        let registry = self.core.registry();
        match registry
            .register_dynamically(&request, RegistrationChannel::Mqtt)
            .await
        {
            Ok(issued) => Ok(issued.to_json()),
            Err(err) => {
                tracing::info!(device = %request.device, %err, "dynamic registration refused");
                Err(err.to_string())
            }
        }
    }

    fn on_online(&self, device: &DeviceKey, _connection: ConnectionId) {
        self.core
            .device_connected(device.clone(), self.connects_known);
    }

    fn on_offline(&self, device: &DeviceKey, _connection: ConnectionId) {
        self.core.device_disconnected(device.clone());
    }

    async fn on_device_message(&self, device: &DeviceKey, message: DeviceMessage, ack: PubAck) {
        let ack = if ack.is_owed() {
            Ack::new(move || ack.send())
        } else {
            Ack::none()
        };
        self.core.report(device.clone(), message, ack).await;
    }

    fn on_link_restored(&self) {
        let core = self.core.clone();
        tokio::spawn(async move { core.recover_link_loss().await });
    }

    fn on_peer_lost(&self, peer: &str) {
        let (core, peer) = (self.core.clone(), peer.to_owned());
        tokio::spawn(async move { core.recover_peer_loss(&peer).await });
    }

    async fn firmware_get(&self, device: &DeviceKey, module: Option<String>) -> Option<Vec<u8>> {
        match self
            .core
            .delivery()
            .firmware_get(device, module.as_deref())
            .await
        {
            Ok(push) => push.map(|p| p.to_vec()),
            Err(err) => {
                tracing::warn!(%err, device = %device.clone(), "firmware pull failed");
                None
            }
        }
    }

    async fn file_block(
        &self,
        device: &DeviceKey,
        request: &FileBlockRequest,
    ) -> Result<FileBlock, String> {
        self.core
            .delivery()
            .file_block(
                device,
                request.stream_id,
                request.file_id,
                request.offset,
                request.size,
            )
            .await
            .map(|(file_length, data)| FileBlock { file_length, data })
            .map_err(|e| e.to_string())
    }
}

/// Pushes from the core out through the broker.
pub struct GatewayLink {
    pub gateway: Gateway,
}

impl DeviceLink for GatewayLink {
    fn send(&self, device: &DeviceKey, topic: &str, payload: Vec<u8>) -> bool {
        self.gateway
            .try_publish_to_device(device, topic, payload, QoS::AtLeastOnce)
    }

    fn is_online(&self, device: &DeviceKey) -> bool {
        self.gateway.is_online(device)
    }

    fn disconnect(&self, device: &DeviceKey) -> bool {
        self.gateway.disconnect_device(device)
    }
}

/// Pushes from the core out through an external broker.
pub struct BrokerLink {
    pub broker: ExternalBroker,
}

impl DeviceLink for BrokerLink {
    fn send(&self, device: &DeviceKey, topic: &str, payload: Vec<u8>) -> bool {
        self.broker.publish_to_device(device, topic, payload)
    }

    fn is_online(&self, device: &DeviceKey) -> bool {
        self.broker.is_online(device)
    }

    fn disconnect(&self, _device: &DeviceKey) -> bool {
        // The broker's connections are its own; the device is refused at its next
        // `/mqtt/auth`.
        false
    }
}

/// The outbound adapter for one gateway.
pub fn link(gateway: &Gateway) -> Arc<dyn DeviceLink> {
    Arc::new(GatewayLink {
        gateway: gateway.clone(),
    })
}
