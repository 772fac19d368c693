//! The device endpoint `serve` runs: the embedded broker (one node, devices connect to us),
//! or a client of an external broker cluster (many nodes behind Mosquitto, EMQX, VerneMQ).
//! Either way device traffic reaches the core through the same [`DeviceBridge`].

use crate::bridge::{self, BrokerLink, DeviceBridge};
use crate::config::ServeConfig;
use anyhow::Context;
use ota_core::DeviceLink;
use ota_device_gateway::{ExternalBroker, ExternalBrokerConfig, Gateway, GatewayConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long start-up waits for the external broker before going on without it (the client
/// keeps trying in the background).
const BROKER_WAIT: Duration = Duration::from_secs(10);

/// The running device endpoint.
#[derive(Clone)]
pub enum DeviceEndpoint {
    Embedded(Gateway),
    External(ExternalBroker),
}

impl DeviceEndpoint {
    /// Starts the endpoint the settings ask for. Returns it with the address devices use
    /// and, when the embedded broker also serves TLS (with `tls`, loaded by the caller when
    /// `mqtt_tls_addr` is set), the TLS address.
    pub async fn start(
        config: &ServeConfig,
        tls: Option<Arc<ota_device_gateway::TlsServerConfig>>,
        handler: Arc<DeviceBridge>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<(DeviceEndpoint, String, Option<SocketAddr>)> {
        let Some(broker) = config.mqtt_broker() else {
            let (addr, gateway) = Gateway::bind(
                config.mqtt_addr,
                GatewayConfig::default(),
                handler.clone(),
                shutdown.clone(),
            )
            .await
            .with_context(|| format!("binding the MQTT endpoint {}", config.mqtt_addr))?;
            let tls_addr = match config.mqtt_tls_addr.zip(tls) {
                Some((tls_at, tls)) => Some(
                    gateway
                        .listen_tls(tls_at, tls, handler)
                        .await
                        .with_context(|| format!("binding the MQTT TLS endpoint {tls_at}"))?,
                ),
                None => None,
            };
            return Ok((
                DeviceEndpoint::Embedded(gateway),
                addr.to_string(),
                tls_addr,
            ));
        };
        let (host, port) = broker?;
        let mut client = ExternalBrokerConfig::new(host, port, node_client_id());
        client.username = config.mqtt_broker_username.clone();
        client.password = config.mqtt_broker_password.clone().map(|s| s.0);
        client.share_group = config.mqtt_share_group.clone();
        client.presence_timeout = (config.mqtt_presence_timeout_secs > 0)
            .then(|| Duration::from_secs(config.mqtt_presence_timeout_secs));
        tracing::info!(broker = ?client, "joining the external MQTT broker");
        let addr = format!("{}:{}", client.host, client.port);
        let external = ExternalBroker::start(client, handler, shutdown.clone());
        if !external.wait_subscribed(BROKER_WAIT).await {
            tracing::warn!(%addr, "the MQTT broker is not reachable yet; retrying in the background");
        }
        Ok((DeviceEndpoint::External(external), addr, None))
    }

    /// The core's outbound port on this endpoint.
    pub fn link(&self) -> Arc<dyn DeviceLink> {
        match self {
            DeviceEndpoint::Embedded(gateway) => bridge::link(gateway),
            DeviceEndpoint::External(broker) => Arc::new(BrokerLink {
                broker: broker.clone(),
            }),
        }
    }

    /// Devices this node sees online.
    pub fn online_count(&self) -> usize {
        match self {
            DeviceEndpoint::Embedded(gateway) => gateway.online_count(),
            DeviceEndpoint::External(broker) => broker.online_count(),
        }
    }

    /// Resolves once the endpoint has stopped after shutdown.
    pub async fn closed(&self) {
        match self {
            DeviceEndpoint::Embedded(gateway) => gateway.closed().await,
            DeviceEndpoint::External(broker) => broker.closed().await,
        }
    }
}

/// A client id no other node uses: the broker would otherwise drop one of the two.
fn node_client_id() -> String {
    format!("ota-node-{:016x}", rand::random::<u64>())
}
