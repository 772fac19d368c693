//! One connection after CONNECT: a single task that reads packets, writes its queue and
//! obeys kicks (a session taken over, a slow consumer, keep-alive, shutdown), then cleans up
//! in one place.
//!
//! Memory per idle connection stays small: the read buffer starts at 512 bytes, is shrunk
//! back after a large packet and, on plain TCP, given back while the connection waits; the
//! write buffer is dropped after large writes; the outbound queue is bounded and holds
//! nothing while empty; an idle connection waits on its socket and on one notification
//! (queued or kicked), with no timer of its own (silence and shutdown come as kicks from
//! [`crate::keep_alive`]); and the handshake, packet handling (with the handler's possibly
//! large futures) and the clean-up run boxed, so this task's future is sized for waiting,
//! not for its largest step.

use crate::ClientStream;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, warn};

use ota_protocol::device_owns_topic;

use crate::GatewayHandler;
use crate::auth::Action;
use crate::codec::{QoS, Version, Will};
use crate::conn_handle::{ConnHandle, Delivery, Outbound, Receiver};
use crate::encode::{DisconnectReason, Outgoing, encode};
use crate::handshake::{Established, handshake};
use crate::registry::Principal;
use crate::server::Shared;

const READ_BUF: usize = 512;
const SHRINK_ABOVE: usize = 16 * 1024;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    ClientDisconnect,
    Eof,
    Io,
    KeepAlive,
    Malformed,
    Protocol,
    TooLarge,
    WriteTimeout,
    Kicked(DisconnectReason),
    Shutdown,
}

impl Close {
    /// Why a kicked connection ends: the gateway kicks for silence and for shutdown too.
    fn kicked(reason: DisconnectReason) -> Close {
        match reason {
            DisconnectReason::KeepAliveTimeout => Close::KeepAlive,
            DisconnectReason::ServerShuttingDown => Close::Shutdown,
            reason => Close::Kicked(reason),
        }
    }

    /// The v5 DISCONNECT reason to send, if any.
    fn disconnect_reason(self) -> Option<DisconnectReason> {
        match self {
            Close::KeepAlive => Some(DisconnectReason::KeepAliveTimeout),
            Close::Malformed | Close::Protocol => Some(DisconnectReason::ProtocolError),
            Close::TooLarge => Some(DisconnectReason::PacketTooLarge),
            Close::Kicked(r) => Some(r),
            Close::Shutdown => Some(DisconnectReason::ServerShuttingDown),
            Close::ClientDisconnect | Close::Eof | Close::Io | Close::WriteTimeout => None,
        }
    }

    /// Whether the will message is published (an unexpected end of the connection).
    fn publishes_will(self) -> bool {
        !matches!(
            self,
            Close::ClientDisconnect
                | Close::Shutdown
                | Close::Kicked(DisconnectReason::SessionTakenOver)
        )
    }
}

/// The state of an established connection.
pub(crate) struct Session<H> {
    pub shared: Arc<Shared>,
    pub handler: Arc<H>,
    pub version: Version,
    pub principal: Principal,
    pub conn: Arc<ConnHandle>,
    client_max_packet: Option<u32>,
    next_pkid: u16,
}

/// Serves one accepted connection (plain TCP or TLS) to its end. CONNECT must have passed
/// by `connect_deadline` (accept time plus `connect_timeout`, TLS handshake included).
///
/// A function returning a block rather than an `async fn`: an `async fn`'s future keeps its
/// arguments twice (as passed, and as its body's variables), which made every connection
/// 80 bytes larger; [`Session::run`] likewise.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn's future holds its arguments twice"
)]
pub(crate) fn serve<H: GatewayHandler, S: ClientStream>(
    mut stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Arc<H>,
    connect_deadline: Instant,
) -> impl Future<Output = ()> + Send {
    async move {
        let hs = Box::pin(timeout_at(
            connect_deadline,
            handshake(&mut stream, &shared, &*handler),
        ));
        let est = tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            r = hs => match r {
                Ok(Ok(est)) => est,
                Ok(Err(e)) => return debug!(%peer, error = %e, "connection refused"),
                Err(_) => return debug!(%peer, "no CONNECT in time"),
            },
        };
        let Established {
            version,
            principal,
            conn,
            mut rx,
            will,
            client_max_packet,
            rbuf,
        } = est;
        debug!(%peer, ?principal, conn = conn.id, ?version, "connected");
        let mut session = Session {
            shared,
            handler,
            version,
            principal,
            conn,
            client_max_packet,
            next_pkid: 0,
        };
        let close = session.run(&mut stream, &mut rx, rbuf).await;
        drop(rx);
        // Boxed, like the handshake: its future would otherwise add to every idle connection.
        Box::pin(session.finish(&mut stream, close, will)).await;
        debug!(%peer, principal = ?session.principal, ?close, "disconnected");
    }
}

/// Reads what the client has sent into `rbuf`. An empty buffer with no room (an idle
/// connection's, on a stream that can wait without one) is given room once data is there.
async fn read_some<S: ClientStream>(stream: &mut S, rbuf: &mut BytesMut) -> std::io::Result<usize> {
    if rbuf.capacity() == 0 {
        std::future::poll_fn(|cx| stream.poll_read_ready(cx)).await?;
        rbuf.reserve(READ_BUF);
    }
    stream.read_buf(rbuf).await
}

async fn flush(
    stream: &mut impl ClientStream,
    out: &mut BytesMut,
    limit: Duration,
) -> Result<(), Close> {
    if out.is_empty() {
        return Ok(());
    }
    match timeout(limit, stream.write_all(out)).await {
        Ok(Ok(())) => {
            out.clear();
            if out.capacity() > SHRINK_ABOVE {
                *out = BytesMut::new();
            }
            Ok(())
        }
        Ok(Err(_)) => Err(Close::Io),
        Err(_) => Err(Close::WriteTimeout),
    }
}

impl<H: GatewayHandler> Session<H> {
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn's future holds its arguments twice"
    )]
    fn run<'a, S: ClientStream>(
        &'a mut self,
        stream: &'a mut S,
        rx: &'a mut Receiver,
        mut rbuf: BytesMut,
    ) -> impl Future<Output = Close> + Send + 'a {
        // A block rather than an `async fn`, whose future would hold its arguments twice.
        async move {
            let mut out = BytesMut::new();
            let write_timeout = self.shared.config.write_timeout;
            // The CONNECT may have arrived together with further packets.
            if let Err(close) = Box::pin(self.process_input_or_stop(&mut rbuf, &mut out)).await {
                return close;
            }
            loop {
                if let Err(close) = flush(stream, &mut out, write_timeout).await {
                    return close;
                }
                if let Some(reason) = self.conn.kicked_reason() {
                    return Close::kicked(reason);
                }
                // A connection that attached after the shutdown's kicks went round is not kicked:
                // its attach came after the cancellation, so this sees it.
                if self.shared.shutdown.is_cancelled() {
                    return Close::Shutdown;
                }
                if rbuf.is_empty() && S::READY_WITHOUT_BUFFER {
                    // Waiting needs no buffer on this stream; the next read takes one.
                    rbuf = BytesMut::new();
                } else if rbuf.capacity() > SHRINK_ABOVE && rbuf.len() < READ_BUF {
                    let mut small = BytesMut::with_capacity(READ_BUF);
                    small.extend_from_slice(&rbuf);
                    rbuf = small;
                }
                tokio::select! {
                    read = read_some(stream, &mut rbuf) => match read {
                        Ok(0) => return Close::Eof,
                        Ok(_) => {
                            self.conn.heard_at(self.shared.registry.clock_ms());
                            // Boxed: packet handling (the handler's futures included) is far
                            // larger than the wait, and would otherwise be allocated for the
                            // whole life of every connection.
                            let input = Box::pin(self.process_input_or_stop(&mut rbuf, &mut out));
                            if let Err(close) = input.await {
                                return close;
                            }
                        }
                        Err(_) => return Close::Io,
                    },
                    item = rx.recv() => {
                        let item = match item {
                            Ok(item) => item,
                            Err(reason) => return Close::kicked(reason),
                        };
                        self.write_outbound(item, &mut out);
                        // Batch whatever else is queued into the same write.
                        while out.len() < 64 * 1024 {
                            match rx.try_recv() {
                                Ok(item) => self.write_outbound(item, &mut out),
                                Err(_) => break,
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`Session::process_input`], given up when the connection is kicked (the server
    /// stopping included) while it waits for room for a report.
    async fn process_input_or_stop(
        &mut self,
        rbuf: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<(), Close> {
        let conn = self.conn.clone();
        tokio::select! {
            result = self.process_input(rbuf, out) => result,
            reason = conn.kicked() => Err(Close::kicked(reason)),
        }
    }

    /// Encodes one queued item: a delivery, or an acknowledgement the platform sent.
    fn write_outbound(&mut self, item: Outbound, out: &mut BytesMut) {
        match item {
            Outbound::Publish(delivery) => self.write_delivery(delivery, out),
            Outbound::PubAck(pkid) => self.reply(
                out,
                &Outgoing::PubAck {
                    pkid,
                    authorized: true,
                },
            ),
            Outbound::PubRec(pkid) => self.reply(out, &Outgoing::PubRec { pkid }),
        }
    }

    /// Encodes one delivery, enforcing device isolation a second time: a device is never
    /// sent a message on a topic it does not own, whatever put it in the queue.
    fn write_delivery(&mut self, delivery: Delivery, out: &mut BytesMut) {
        let topic = &*delivery.message.topic;
        let payload = &delivery.message.payload;
        if let Principal::Device(d) = &self.principal
            && !device_owns_topic(d.product_key.as_str(), d.device_name.as_str(), topic)
        {
            warn!(device = %d, topic, "dropped delivery on a foreign topic");
            return;
        }
        if let Some(max) = self.client_max_packet
            && topic.len() + payload.len() + 16 > max as usize
        {
            debug!(
                topic,
                "dropped delivery larger than the client's maximum packet size"
            );
            return;
        }
        let pkid = match delivery.qos {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => {
                self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
                self.next_pkid
            }
        };
        let packet = Outgoing::Publish {
            topic,
            payload,
            qos: delivery.qos,
            pkid,
        };
        if let Err(e) = encode(self.version, &packet, out) {
            warn!(topic, error = %e, "cannot encode delivery");
        }
    }

    /// Appends a control packet to the outbound buffer.
    pub(crate) fn reply(&self, out: &mut BytesMut, packet: &Outgoing<'_>) {
        if let Err(e) = encode(self.version, packet, out) {
            warn!(error = %e, "cannot encode reply");
        }
    }

    /// Whether this client may publish to `topic`.
    pub(crate) fn may_publish(&self, topic: &str) -> bool {
        match &self.principal {
            Principal::Device(d) => crate::auth::device_may(d, Action::Publish, topic),
            Principal::Admin(_) => true,
        }
    }

    async fn finish(&self, stream: &mut impl ClientStream, close: Close, will: Option<Box<Will>>) {
        if self.version == Version::V5
            && let Some(reason) = close.disconnect_reason()
        {
            let mut out = BytesMut::new();
            self.reply(&mut out, &Outgoing::Disconnect(reason));
            let _ = timeout(Duration::from_secs(1), stream.write_all(&out)).await;
        }
        let _ = timeout(Duration::from_secs(1), stream.shutdown()).await;
        let (registry, id) = (&self.shared.registry, self.conn.id);
        registry.detach(&self.principal, id, || {
            if let Principal::Device(d) = &self.principal {
                self.handler.on_offline(d, id);
            }
        });
        if close.publishes_will()
            && let Some(will) = will
            && self.may_publish(&will.topic)
            && crate::filter::valid_topic(&will.topic)
        {
            registry.route(id, &will.topic, &will.payload, will.qos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{ConnectionId, FileBlock};
    use crate::registry::Registry;
    use crate::{DeviceKey, DeviceMessage, FileBlockRequest, GatewayConfig, PubAck};
    use tokio_util::sync::CancellationToken;

    /// A handler with nothing behind it: the size measured is the session's own.
    struct Nothing;

    impl GatewayHandler for Nothing {
        async fn device_secret(&self, _: &DeviceKey) -> Option<String> {
            None
        }
        fn on_online(&self, _: &DeviceKey, _: ConnectionId) {}
        fn on_offline(&self, _: &DeviceKey, _: ConnectionId) {}
        async fn on_device_message(&self, _: &DeviceKey, _: DeviceMessage, _: PubAck) {}
        async fn firmware_get(&self, _: &DeviceKey, _: Option<String>) -> Option<Vec<u8>> {
            None
        }
        async fn file_block(
            &self,
            _: &DeviceKey,
            _: &FileBlockRequest,
        ) -> Result<FileBlock, String> {
            Err(String::new())
        }
    }

    /// Every connected device holds its task's future for as long as it is connected, so
    /// the future must be sized for waiting: the steps that hold more (handshake, packet
    /// handling, clean-up) run boxed. This fails when an await of a large future creeps
    /// back into the wait loop.
    #[tokio::test]
    async fn a_connection_task_is_sized_for_waiting() {
        let (stream, _client) = tokio::io::duplex(64);
        let shared = Arc::new(Shared {
            registry: Registry::new(),
            config: GatewayConfig::default(),
            shutdown: CancellationToken::new(),
        });
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        let task = serve(stream, peer, shared, Arc::new(Nothing), Instant::now());
        let size = std::mem::size_of_val(&task);
        // About 580 bytes: the session, the stream and the two waits (for data, and for the
        // queue or a kick). With tokio's task header and trailer (about 120 bytes, the
        // whole a multiple of 128) up to 648 bytes make a 768-byte task; one byte more
        // makes 896. Unboxing packet handling adds about 800 even with this handler, a
        // timer of the connection's own about 150, an `async fn` taking the arguments
        // about 80.
        assert!(size <= 640, "the connection task's future is {size} bytes");
    }
}
