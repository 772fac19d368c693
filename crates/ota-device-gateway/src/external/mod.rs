//! The device link through an external MQTT broker (Mosquitto, EMQX, VerneMQ): the platform
//! is one more client of the broker, so any number of nodes can share one broker cluster.
//!
//! Each node connects with its own client id and subscribes to every device→cloud OTA topic
//! with a shared subscription (`$share/<group>/…`), so the broker hands each device message
//! to exactly one node. Messages are parsed and answered by the same code as the embedded
//! broker's ([`crate::ota`]) and reach the same [`GatewayHandler`]; answers and pushes are
//! published with QoS 1. Device authentication and topic isolation are the broker's job,
//! answered over HTTP with [`crate::authenticate`] and [`crate::device_may`].
//!
//! Each node also leaves a last will on its own session topic
//! (`ota-nodes/<group>/<client id>/gone`) and subscribes, unshared, to the others': when a
//! node dies or loses the broker without a DISCONNECT, the broker publishes its will at once
//! and every other node hears that the reports the broker had handed it, unacknowledged, are
//! gone ([`GatewayHandler::on_peer_lost`]), seconds rather than a node lease after the fact.
//!
//! Nothing here waits on the broker: pushes and answers go into a bounded queue and are
//! dropped (logged and counted in `ota_broker_dropped_total`) when it is full or the broker
//! is away; the connection is re-established with backoff and the subscriptions renewed.

mod client;
mod presence;

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, LastWill, MqttOptions, QoS};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

use ota_protocol::{DeviceKey, device_owns_topic};

use crate::GatewayHandler;
use presence::Presence;

/// The first level of the nodes' session topics.
const SESSIONS: &str = "ota-nodes";

/// How to reach the broker and how the client behaves.
#[derive(Clone)]
pub struct ExternalBrokerConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// MQTT client id; must differ between nodes (the broker drops the older of two).
    pub client_id: String,
    /// Credentials for the broker, if it asks for them.
    pub username: Option<String>,
    /// Never logged.
    pub password: Option<String>,
    /// Shared-subscription group the nodes share.
    pub share_group: String,
    /// A device silent this long is reported offline; `None`: never.
    pub presence_timeout: Option<Duration>,
    /// Publishes (pushes and answers) queued towards the broker before new ones are dropped.
    pub outbound_queue: usize,
    /// Device reports waiting for the platform; when it is full a QoS 1 report waits for
    /// room (the broker holds further deliveries back) and a QoS 0 report is dropped.
    pub report_queue: usize,
    /// Firmware pulls and block downloads answered at once; more are dropped (SDKs retry).
    pub max_pending_requests: usize,
    /// MQTT keep-alive towards the broker.
    pub keep_alive: Duration,
    /// Largest packet sent or received, in bytes.
    pub max_packet_size: usize,
    /// First pause between reconnection attempts.
    pub min_backoff: Duration,
    /// Longest pause between reconnection attempts.
    pub max_backoff: Duration,
}

impl ExternalBrokerConfig {
    /// Defaults for `host:port` with the given client id.
    pub fn new(host: impl Into<String>, port: u16, client_id: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port,
            client_id: client_id.into(),
            username: None,
            password: None,
            share_group: "ota".to_owned(),
            presence_timeout: None,
            outbound_queue: 4096,
            report_queue: 4096,
            max_pending_requests: 256,
            keep_alive: Duration::from_secs(30),
            max_packet_size: 1024 * 1024,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        }
    }

    /// The filters subscribed to: every OTA topic a device publishes, for any device.
    pub fn filters(&self) -> Vec<String> {
        ota_protocol::TopicKind::ALL
            .iter()
            .filter(|k| k.direction() == ota_protocol::Direction::DeviceToCloud)
            .map(|k| format!("$share/{}/{}", self.share_group, k.topic("+", "+")))
            .collect()
    }

    /// The topic the broker publishes `client_id`'s last will on when its session ends
    /// without a DISCONNECT. Devices may not publish there (they touch only their own
    /// topics), so only the broker speaks for a node.
    pub fn session_topic(&self, client_id: &str) -> String {
        format!("{SESSIONS}/{}/{client_id}/gone", self.share_group)
    }

    /// The unshared filter over every node's session topic of this group: each node hears
    /// every other node's will.
    pub fn sessions_filter(&self) -> String {
        self.session_topic("+")
    }

    /// The node whose will `topic` carries, if it is a session topic of this group.
    pub fn peer_of<'t>(&self, topic: &'t str) -> Option<&'t str> {
        let rest = topic.strip_prefix(SESSIONS)?.strip_prefix('/')?;
        let rest = rest
            .strip_prefix(self.share_group.as_str())?
            .strip_prefix('/')?;
        let peer = rest.strip_suffix("/gone")?;
        (!peer.is_empty() && !peer.contains('/')).then_some(peer)
    }
}

impl std::fmt::Debug for ExternalBrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalBrokerConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("share_group", &self.share_group)
            .field("presence_timeout", &self.presence_timeout)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    client: AsyncClient,
    /// True from the SUBACK of our subscriptions to the next connection error.
    subscribed: watch::Sender<bool>,
    presence: Presence,
}

/// A handle on the connection to the external broker. Cheap to clone; no method waits on
/// the broker.
#[derive(Clone)]
pub struct ExternalBroker {
    inner: Arc<Inner>,
    tracker: TaskTracker,
}

impl std::fmt::Debug for ExternalBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalBroker").finish_non_exhaustive()
    }
}

impl ExternalBroker {
    /// Starts the client; it connects, subscribes and serves devices until `shutdown`.
    pub fn start<H: GatewayHandler>(
        config: ExternalBrokerConfig,
        handler: Arc<H>,
        shutdown: CancellationToken,
    ) -> ExternalBroker {
        let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
        options
            .set_keep_alive(config.keep_alive)
            .set_clean_session(true)
            // Deliveries are acknowledged once the platform has stored or answered them.
            .set_manual_acks(true)
            .set_max_packet_size(config.max_packet_size, config.max_packet_size)
            .set_inflight(1024)
            .set_last_will(LastWill::new(
                config.session_topic(&config.client_id),
                config.client_id.clone(),
                QoS::AtLeastOnce,
                false,
            ));
        if let Some(username) = &config.username {
            options.set_credentials(username, config.password.clone().unwrap_or_default());
        }
        let (client, eventloop) = AsyncClient::new(options, config.outbound_queue.max(1));
        let inner = Arc::new(Inner {
            client,
            subscribed: watch::Sender::new(false),
            presence: Presence::default(),
        });
        let tracker = TaskTracker::new();
        tracker.spawn(client::run(
            eventloop,
            inner.clone(),
            handler.clone(),
            config.clone(),
            tracker.clone(),
            shutdown.clone(),
        ));
        if let Some(timeout) = config.presence_timeout {
            tracker.spawn(client::expire_presence(
                inner.clone(),
                handler,
                timeout,
                shutdown,
            ));
        }
        tracker.close();
        ExternalBroker { inner, tracker }
    }

    /// Waits at most `within` until the subscriptions are in place; false on timeout.
    pub async fn wait_subscribed(&self, within: Duration) -> bool {
        let mut rx = self.inner.subscribed.subscribe();
        tokio::time::timeout(within, rx.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Queues `payload` on `topic` (one of the device's own) with QoS 1. False, and nothing
    /// sent, when the broker is away or the queue is full.
    pub fn publish_to_device(&self, device: &DeviceKey, topic: &str, payload: Vec<u8>) -> bool {
        if !device_owns_topic(
            device.product_key.as_str(),
            device.device_name.as_str(),
            topic,
        ) {
            warn!(%device, topic, "publish_to_device on a topic the device does not own");
            return false;
        }
        if !*self.inner.subscribed.borrow() {
            metrics::counter!("ota_broker_dropped_total", "what" => "push").increment(1);
            return false;
        }
        client::publish(&self.inner.client, "push", topic.to_owned(), payload)
    }

    /// Whether this node has heard from the device within the presence window.
    pub fn is_online(&self, device: &DeviceKey) -> bool {
        self.inner.presence.is_online(device)
    }

    /// Devices this node considers online.
    pub fn online_count(&self) -> usize {
        self.inner.presence.count()
    }

    /// Resolves once the client has disconnected after shutdown and answers in flight ended.
    pub async fn closed(&self) {
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_topic_names_its_node_and_only_in_its_group() {
        let config = ExternalBrokerConfig::new("broker", 1883, "ota-node-1");
        assert_eq!(
            config.session_topic("ota-node-1"),
            "ota-nodes/ota/ota-node-1/gone"
        );
        assert_eq!(config.sessions_filter(), "ota-nodes/ota/+/gone");
        let cases = [
            ("ota-nodes/ota/ota-node-2/gone", Some("ota-node-2")),
            ("ota-nodes/ota/ota-node-1/gone", Some("ota-node-1")),
            ("ota-nodes/other/ota-node-2/gone", None),
            ("ota-nodes/ota//gone", None),
            ("ota-nodes/ota/a/b/gone", None),
            ("ota-nodes/ota/ota-node-2", None),
            ("ota-nodes/otax/n/gone", None),
            ("/ota/device/inform/pk/dn", None),
        ];
        for (topic, peer) in cases {
            assert_eq!(config.peer_of(topic), peer, "{topic}");
        }
    }
}
