//! The listener and the cloneable [`Gateway`] handle the platform uses to reach devices.

use bytes::Bytes;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpSocket, ToSocketAddrs};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use ota_protocol::{DeviceKey, device_owns_topic};

use crate::codec::QoS;
use crate::config::GatewayConfig;
use crate::conn_handle::{Delivery, Message};
use crate::encode::DisconnectReason;
use crate::registry::Registry;
use crate::{GatewayHandler, session};

/// State shared by the listener, every connection and every handle.
pub(crate) struct Shared {
    pub registry: Registry,
    pub config: GatewayConfig,
    pub shutdown: CancellationToken,
}

/// A handle on a running gateway. Cheap to clone; all methods are safe to call from any
/// task and none waits on a device except [`Gateway::publish_to_device`] (bounded by
/// [`GatewayConfig::publish_wait`]).
#[derive(Clone)]
pub struct Gateway {
    shared: Arc<Shared>,
    tracker: TaskTracker,
    local_addr: SocketAddr,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Binds `addr` and serves MQTT there until `shutdown` is cancelled. Returns the bound
    /// address (useful with port 0) and the handle.
    pub async fn bind<H: GatewayHandler>(
        addr: impl ToSocketAddrs,
        config: GatewayConfig,
        handler: Arc<H>,
        shutdown: CancellationToken,
    ) -> io::Result<(SocketAddr, Gateway)> {
        let listener = listen(addr, config.listen_backlog).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            registry: Registry::new(),
            config,
            shutdown,
        });
        let tracker = TaskTracker::new();
        tracker.spawn(crate::keep_alive::sweep(shared.clone()));
        let for_sessions = shared.clone();
        tracker.spawn(accept_loop(
            listener,
            shared.clone(),
            tracker.clone(),
            move |stream, peer| {
                let deadline = tokio::time::Instant::now() + for_sessions.config.connect_timeout;
                session::serve(
                    stream,
                    peer,
                    for_sessions.clone(),
                    handler.clone(),
                    deadline,
                )
            },
        ));
        tracker.close();
        info!(%local_addr, "device gateway listening");
        Ok((
            local_addr,
            Gateway {
                shared,
                tracker,
                local_addr,
            },
        ))
    }

    /// Also serves MQTT over TLS on `addr` with `tls` (see [`crate::tls_server_config`]),
    /// sharing this gateway's sessions, until the same shutdown. Returns the bound address.
    pub async fn listen_tls<H: GatewayHandler>(
        &self,
        addr: impl ToSocketAddrs,
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
        handler: Arc<H>,
    ) -> io::Result<SocketAddr> {
        let listener = listen(addr, self.shared.config.listen_backlog).await?;
        let local_addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let shared = self.shared.clone();
        self.tracker.spawn(accept_loop(
            listener,
            self.shared.clone(),
            self.tracker.clone(),
            move |tcp, peer| {
                crate::tls::handshake_then_serve(
                    acceptor.clone(),
                    tcp,
                    peer,
                    shared.clone(),
                    handler.clone(),
                )
            },
        ));
        info!(%local_addr, "device gateway listening for TLS");
        Ok(local_addr)
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends `payload` on `topic` to the device's live connection, waiting at most
    /// [`GatewayConfig::publish_wait`] for room in its queue. True when queued; false when
    /// the device is offline, the topic is not the device's own, or the device is too slow
    /// (it is then disconnected).
    ///
    /// Delivered whether or not the device has subscribed yet: this closes the race between
    /// `on_online` and the device's SUBSCRIBE, and every Aliyun SDK dispatches by topic.
    pub async fn publish_to_device(
        &self,
        device: &DeviceKey,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> bool {
        let Some((conn, delivery)) = self.prepare(device, topic, payload.into(), qos) else {
            return false;
        };
        conn.send_within(delivery, self.shared.config.publish_wait)
            .await
    }

    /// Like [`Gateway::publish_to_device`] but never waits: a full queue disconnects the
    /// device as a slow consumer and returns false.
    pub fn try_publish_to_device(
        &self,
        device: &DeviceKey,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
    ) -> bool {
        match self.prepare(device, topic, payload.into(), qos) {
            Some((conn, delivery)) => conn.offer(delivery),
            None => false,
        }
    }

    fn prepare(
        &self,
        device: &DeviceKey,
        topic: &str,
        payload: Bytes,
        qos: QoS,
    ) -> Option<(Arc<crate::conn_handle::ConnHandle>, Delivery)> {
        if !device_owns_topic(
            device.product_key.as_str(),
            device.device_name.as_str(),
            topic,
        ) {
            warn!(%device, topic, "publish_to_device on a topic the device does not own");
            return None;
        }
        let conn = self.shared.registry.device_conn(device)?;
        Some((
            conn,
            Delivery {
                message: Arc::new(Message::new(topic, payload)),
                qos,
            },
        ))
    }

    /// Publishes as the server to every matching subscriber (devices only on their own
    /// topics). Returns how many connections it was queued for.
    pub fn publish(&self, topic: &str, payload: impl Into<Bytes>, qos: QoS) -> usize {
        if !crate::filter::valid_topic(topic) {
            return 0;
        }
        self.shared.registry.route(0, topic, &payload.into(), qos)
    }

    /// Whether the device has a live connection.
    pub fn is_online(&self, device: &DeviceKey) -> bool {
        self.shared.registry.device_conn(device).is_some()
    }

    /// Number of devices with a live connection.
    pub fn online_count(&self) -> usize {
        self.shared.registry.online_count()
    }

    /// Closes the device's connection (v5: DISCONNECT "administrative action"). True if it
    /// was online.
    pub fn disconnect_device(&self, device: &DeviceKey) -> bool {
        match self.shared.registry.device_conn(device) {
            Some(conn) => {
                conn.kick(DisconnectReason::Administrative);
                true
            }
            None => false,
        }
    }

    /// Resolves once the gateway has stopped: after the shutdown token is cancelled, the
    /// listener is closed and every connection has ended (and reported `on_offline`).
    pub async fn closed(&self) {
        self.tracker.wait().await;
    }
}

/// Binds the first address `addr` resolves to that accepts a bind, with our backlog.
async fn listen(addr: impl ToSocketAddrs, backlog: u32) -> io::Result<TcpListener> {
    let mut last_err = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("address resolved to nothing")))
}

/// Accepts connections on `listener` until shutdown and hands each to `serve` in a task of
/// its own (plain MQTT sessions, or TLS handshakes followed by sessions).
pub(crate) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    shared: Arc<Shared>,
    tracker: TaskTracker,
    serve: F,
) where
    F: Fn(tokio::net::TcpStream, SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            _ = shared.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tracker.spawn(serve(stream, peer));
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    info!("device gateway stopped accepting");
}
