//! The embedded MQTT broker devices connect to: MQTT 3.1.1 and 5 over TCP, Aliyun device
//! authentication, per-device topic isolation, and in-process handling of OTA messages.
//!
//! Why our own broker rather than embedding rmqtt or rumqttd: isolation must hold on
//! *delivery*, not only on subscribe (the C Link SDK subscribes `/ota/device/upgrade/+/+`,
//! which a plain broker would answer with every device's pushes), and OTA messages should
//! reach the platform without a loopback client. Owning the session table makes both
//! simple: a device's subscriptions are consulted only for topics it owns
//! ([`ota_protocol::topic_owner`]), so isolation holds by construction, and routing one device
//! topic costs one hash lookup however large the fleet.
//!
//! What it does: CONNECT with device signature or admin credentials; QoS 0 and 1 (QoS 2
//! accepted as 1); `+`/`#` filters; keep-alive (closed after 1.5× without traffic); clean
//! and persistent sessions (subscriptions only — offline messages are not queued, the
//! platform re-pushes on `on_online`); session takeover; last will; max packet size; bounded
//! per-connection queues (slow consumers are disconnected). Not supported: retained
//! messages, shared subscriptions, topic aliases. TLS: a second listener
//! ([`Gateway::listen_tls`]) serves MQTT over TLS beside plain TCP, sharing the sessions;
//! there a device may log in with an X.509 certificate from a CA registered for its product
//! instead of a password.
//!
//! The same crate holds the other device link, [`ExternalBroker`]: the platform as a client
//! of an external broker cluster, sharing this broker's message reading ([`read_publish`])
//! and its authentication and ACL ([`authenticate`], [`device_may`]), which the external
//! broker calls over HTTP.
//!
//! Packet codecs come from `rumqttc`'s public `mqttbytes` modules. The platform is reached
//! only through [`GatewayHandler`]; this crate must not import `ota-core` or any store.

mod ack;
mod auth;
mod client_cert;
mod codec;
mod config;
mod conn_handle;
mod device_messages;
mod encode;
mod external;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod handshake;
mod inbound;
mod keep_alive;
mod registration;
mod registry;
mod server;
mod session;
mod tls;

pub use ack::PubAck;
pub use auth::{
    Action, AuthRefusal, Identity, authenticate, constant_time_eq, device_may, device_of_username,
};
pub use codec::QoS;
pub use config::{AdminCredential, GatewayConfig};
pub use device_messages::{OtaPublish, OtaRequest, inbound_topic, read_publish};
pub use external::{ExternalBroker, ExternalBrokerConfig};
pub use handler::{ConnectionId, FileBlock, GatewayHandler};
pub use server::Gateway;
pub use tls::{ClientStream, mqtt_tls_server_config, tls_server_config};
pub use tokio_rustls::rustls::ServerConfig as TlsServerConfig;

pub use ota_protocol::{DeviceKey, DeviceMessage, FileBlockRequest};
pub use tokio_util::sync::CancellationToken;
