//! The adapters between the device links and the core: device traffic in
//! ([`DeviceBridge`] implements the gateway's port on top of the core, for either link) and
//! pushes out (the core's outbound port on top of the embedded broker, [`GatewayLink`], or
//! of the external-broker client, [`BrokerLink`]).

use ota_core::{Core, DeviceInput, DeviceLink};
use ota_device_gateway::{
    ConnectionId, DeviceId, DeviceMessage, ExternalBroker, FileBlock, FileBlockRequest, Gateway,
    GatewayHandler, QoS,
};
use ota_domain::DeviceKey;
use std::sync::Arc;

fn id(device: &DeviceKey) -> DeviceId {
    DeviceId::new(device.product_key.as_str(), device.device_name.as_str())
}

fn key(device: &DeviceId) -> DeviceKey {
    DeviceKey::new(device.product_key.as_str(), device.device_name.as_str())
}

/// Device traffic from the broker into the core.
pub struct DeviceBridge {
    pub core: Core,
    /// Whether "online" means the device just connected (the embedded broker sees every
    /// CONNECT), so its NOTIFIED pushes are sent again. Behind an external broker a node
    /// only learns that a device is there from its messages, which is no reconnect: a
    /// re-push then would only repeat a push the device has.
    pub connects_known: bool,
}

impl GatewayHandler for DeviceBridge {
    async fn device_secret(&self, device: &DeviceId) -> Option<String> {
        match self.core.device_secret(&key(device)).await {
            Ok(secret) => secret,
            Err(err) => {
                tracing::error!(%err, "device secret lookup failed");
                None
            }
        }
    }

    fn on_online(&self, device: &DeviceId, _connection: ConnectionId) {
        let device = key(device);
        self.core.submit_nowait(if self.connects_known {
            DeviceInput::Online(device)
        } else {
            DeviceInput::Seen(device)
        });
    }

    fn on_offline(&self, device: &DeviceId, _connection: ConnectionId) {
        self.core.submit_nowait(DeviceInput::Offline(key(device)));
    }

    fn on_device_message(&self, device: &DeviceId, message: DeviceMessage) {
        let input = match message {
            DeviceMessage::Inform {
                version,
                module,
                delta_formats,
                delta_memory,
                ..
            } => DeviceInput::Inform {
                device: key(device),
                module,
                version,
                delta_formats,
                delta_memory,
            },
            DeviceMessage::Progress {
                step, desc, module, ..
            } => DeviceInput::Progress {
                device: key(device),
                module,
                step: step.code().clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
                desc: (!desc.is_empty()).then_some(desc),
            },
            _ => return,
        };
        self.core.submit_nowait(input);
    }

    async fn firmware_get(&self, device: &DeviceId, module: Option<String>) -> Option<Vec<u8>> {
        match self
            .core
            .firmware_get(&key(device), module.as_deref())
            .await
        {
            Ok(push) => push.map(|p| p.to_vec()),
            Err(err) => {
                tracing::warn!(%err, device = %key(device), "firmware pull failed");
                None
            }
        }
    }

    async fn file_block(
        &self,
        device: &DeviceId,
        request: &FileBlockRequest,
    ) -> Result<FileBlock, String> {
        self.core
            .file_block(
                &key(device),
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
            .try_publish_to_device(&id(device), topic, payload, QoS::AtLeastOnce)
    }

    fn is_online(&self, device: &DeviceKey) -> bool {
        self.gateway.is_online(&id(device))
    }
}

/// Pushes from the core out through an external broker.
pub struct BrokerLink {
    pub broker: ExternalBroker,
}

impl DeviceLink for BrokerLink {
    fn send(&self, device: &DeviceKey, topic: &str, payload: Vec<u8>) -> bool {
        self.broker.publish_to_device(&id(device), topic, payload)
    }

    fn is_online(&self, device: &DeviceKey) -> bool {
        self.broker.is_online(&id(device))
    }
}

/// The outbound adapter for one gateway.
pub fn link(gateway: &Gateway) -> Arc<dyn DeviceLink> {
    Arc::new(GatewayLink {
        gateway: gateway.clone(),
    })
}
