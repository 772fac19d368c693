//! The shared half of a live connection: its bounded outbound queue and its kick switch.
//! Everything that reaches a client (routing, `publish_to_device`, replies) goes through
//! here; the connection's own task is the only writer to the socket.

use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

use crate::codec::QoS;
use crate::encode::DisconnectReason;
use crate::handler::ConnectionId;

/// A message on its way to one or more clients; shared between recipients.
#[derive(Debug)]
pub(crate) struct Message {
    pub topic: Box<str>,
    pub payload: Bytes,
}

impl Message {
    pub(crate) fn new(topic: &str, payload: Bytes) -> Self {
        Self {
            topic: topic.into(),
            payload,
        }
    }
}

/// One queued delivery.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub message: Arc<Message>,
    pub qos: QoS,
}

/// What a connection's queue carries: deliveries, and the acknowledgements of the client's
/// own publishes that the platform sends once it has stored them ([`crate::PubAck`]).
#[derive(Debug)]
pub(crate) enum Outbound {
    Publish(Delivery),
    PubAck(u16),
    PubRec(u16),
}

impl Outbound {
    /// The delivery, for a publish.
    #[cfg(test)]
    pub(crate) fn into_delivery(self) -> Option<Delivery> {
        match self {
            Outbound::Publish(delivery) => Some(delivery),
            _ => None,
        }
    }
}

impl From<Delivery> for Outbound {
    fn from(delivery: Delivery) -> Self {
        Outbound::Publish(delivery)
    }
}

const NOT_KICKED: u8 = u8::MAX;

/// How others reach a connection.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    pub id: ConnectionId,
    tx: mpsc::Sender<Outbound>,
    kick: Notify,
    kick_reason: AtomicU8,
    /// Firmware-get / block requests of this connection still being answered.
    pub pending_requests: AtomicU32,
}

fn reason_code(r: DisconnectReason) -> u8 {
    r as u8
}

fn reason_from(code: u8) -> Option<DisconnectReason> {
    use DisconnectReason as R;
    [
        R::SessionTakenOver,
        R::ServerShuttingDown,
        R::KeepAliveTimeout,
        R::SlowConsumer,
        R::ProtocolError,
        R::PacketTooLarge,
        R::Administrative,
    ]
    .into_iter()
    .find(|r| *r as u8 == code)
}

impl ConnHandle {
    /// A handle and the receiving end of its queue (for the connection's task).
    pub(crate) fn new(id: ConnectionId, capacity: usize) -> (Arc<Self>, mpsc::Receiver<Outbound>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let handle = Self {
            id,
            tx,
            kick: Notify::new(),
            kick_reason: AtomicU8::new(NOT_KICKED),
            pending_requests: AtomicU32::new(0),
        };
        (Arc::new(handle), rx)
    }

    /// Queues without waiting. A full queue means the client is not keeping up: it is
    /// disconnected rather than buffered without bound.
    pub(crate) fn offer(&self, item: impl Into<Outbound>) -> bool {
        match self.tx.try_send(item.into()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kick(DisconnectReason::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Queues, waiting up to `wait` for room; kicks the client as slow if there is none.
    pub(crate) async fn send_within(&self, item: impl Into<Outbound>, wait: Duration) -> bool {
        match self.tx.send_timeout(item.into(), wait).await {
            Ok(()) => true,
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                self.kick(DisconnectReason::SlowConsumer);
                false
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
        }
    }

    /// Asks the connection to close; the first reason wins.
    pub(crate) fn kick(&self, reason: DisconnectReason) {
        let _ = self.kick_reason.compare_exchange(
            NOT_KICKED,
            reason_code(reason),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.kick.notify_one();
    }

    /// The kick reason, if the connection was asked to close.
    pub(crate) fn kicked_reason(&self) -> Option<DisconnectReason> {
        reason_from(self.kick_reason.load(Ordering::Acquire))
    }

    /// Resolves when the connection is asked to close.
    pub(crate) async fn kicked(&self) -> DisconnectReason {
        loop {
            if let Some(reason) = self.kicked_reason() {
                return reason;
            }
            self.kick.notified().await;
        }
    }
}

/// Counts a pending request for as long as it lives.
pub(crate) struct PendingRequest(Arc<ConnHandle>);

impl PendingRequest {
    /// Reserves a slot, or `None` when `max` requests are already pending.
    pub(crate) fn acquire(conn: &Arc<ConnHandle>, max: u32) -> Option<Self> {
        let prev = conn.pending_requests.fetch_add(1, Ordering::AcqRel);
        if prev >= max {
            conn.pending_requests.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(conn.clone()))
    }

    pub(crate) fn conn(&self) -> &Arc<ConnHandle> {
        &self.0
    }
}

impl Drop for PendingRequest {
    fn drop(&mut self) {
        self.0.pending_requests.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_kicks_as_slow_consumer() {
        let (conn, mut rx) = ConnHandle::new(1, 2);
        let msg = Arc::new(Message::new("/t", Bytes::from_static(b"x")));
        let d = || Delivery {
            message: msg.clone(),
            qos: QoS::AtMostOnce,
        };
        assert!(conn.offer(d()) && conn.offer(d()));
        assert_eq!(conn.kicked_reason(), None);
        assert!(!conn.offer(d()));
        assert_eq!(conn.kicked().await, DisconnectReason::SlowConsumer);
        conn.kick(DisconnectReason::SessionTakenOver);
        assert_eq!(
            conn.kicked_reason(),
            Some(DisconnectReason::SlowConsumer),
            "first wins"
        );
        assert!(rx.recv().await.is_some());
        drop(rx);
        assert!(!conn.offer(d()));
    }

    #[test]
    fn pending_requests_are_bounded() {
        let (conn, _rx) = ConnHandle::new(1, 1);
        let a = PendingRequest::acquire(&conn, 2).unwrap();
        let _b = PendingRequest::acquire(&conn, 2).unwrap();
        assert!(PendingRequest::acquire(&conn, 2).is_none());
        drop(a);
        assert!(PendingRequest::acquire(&conn, 2).is_some());
    }
}
