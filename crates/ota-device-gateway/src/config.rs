//! Gateway settings. Defaults suit one node with ~100k devices; every field has a doc line.

use std::time::Duration;

/// A non-device client (an operator tool, a bridge, a monitoring service) that may publish
/// and subscribe on any topic.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredential {
    /// MQTT username.
    pub username: String,
    /// MQTT password, compared in constant time.
    pub password: String,
}

impl std::fmt::Debug for AdminCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredential")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How the gateway behaves; see [`GatewayConfig::default`].
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Largest packet accepted from or sent to a client, in bytes (remaining length).
    pub max_packet_size: usize,
    /// Outbound queue length per device connection; a device that falls this far behind is
    /// disconnected as a slow consumer rather than buffered without bound.
    pub device_queue: usize,
    /// Outbound queue length per admin connection (admins may subscribe to many devices).
    pub admin_queue: usize,
    /// Time a new connection has to send CONNECT and pass authentication.
    pub connect_timeout: Duration,
    /// Time a write to a client may take before the connection is dropped.
    pub write_timeout: Duration,
    /// Longest `publish_to_device` waits for room in a device's queue.
    pub publish_wait: Duration,
    /// Subscriptions one device may hold; more are refused in the SUBACK.
    pub max_device_subscriptions: usize,
    /// Subscriptions one admin client may hold.
    pub max_admin_subscriptions: usize,
    /// Firmware-get and block-download requests one connection may have in flight; further
    /// requests are dropped (the SDKs retry).
    pub max_pending_requests: u32,
    /// Admin/service credentials. Everyone else must authenticate as a device.
    pub admins: Vec<AdminCredential>,
    /// TCP accept backlog (capped by the kernel's `somaxconn`). The usual 128 drops SYNs
    /// when many devices reconnect at once, costing each of them a 1 s retransmit.
    pub listen_backlog: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_packet_size: 1024 * 1024,
            device_queue: 32,
            admin_queue: 4096,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            publish_wait: Duration::from_millis(500),
            max_device_subscriptions: 32,
            max_admin_subscriptions: 1024,
            max_pending_requests: 4,
            admins: Vec::new(),
            listen_backlog: 4096,
        }
    }
}
