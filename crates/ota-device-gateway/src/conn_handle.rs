//! The shared half of a live connection: its bounded outbound queue, its kick switch and
//! when its client was last heard from. Everything that reaches a client (routing,
//! `publish_to_device`, replies, kicks) goes through here; the connection's own task is the
//! only writer to the socket, and it waits on one notification for all of it.

use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, TryAcquireError};

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
    /// The outbound queue. Not a channel: an idle connection's queue is empty, and a
    /// `VecDeque` holds no memory until something is queued, where a bounded channel keeps
    /// a block of slots for every connection (about half a KiB each).
    queue: Mutex<VecDeque<Outbound>>,
    /// Room in the queue: one permit per free place; closed when the connection ends.
    room: Semaphore,
    /// Something was queued, or the connection was kicked: the one thing an idle
    /// connection's task waits on besides its socket.
    wake: Notify,
    kick_reason: AtomicU8,
    /// How long the client may stay silent, in ms (1.5 × its keep-alive; 0: for ever).
    silence_limit_ms: u32,
    /// When the client was last heard from, in ms of the gateway's clock
    /// ([`crate::keep_alive`] closes it once this is older than `silence_limit_ms`).
    heard_at_ms: AtomicU64,
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

/// How a connection is watched for silence: the client's keep-alive (seconds, 0 for none)
/// and the gateway's clock when the connection began, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepAlive {
    pub seconds: u16,
    pub now_ms: u64,
}

impl KeepAlive {
    /// A connection never closed for silence.
    #[cfg(test)]
    pub(crate) const NONE: KeepAlive = KeepAlive {
        seconds: 0,
        now_ms: 0,
    };
}

impl ConnHandle {
    /// A handle and the receiving end of its queue (for the connection's task).
    pub(crate) fn new(
        id: ConnectionId,
        capacity: usize,
        keep_alive: KeepAlive,
    ) -> (Arc<Self>, Receiver) {
        let handle = Arc::new(Self {
            id,
            queue: Mutex::new(VecDeque::new()),
            room: Semaphore::new(capacity.max(1)),
            wake: Notify::new(),
            kick_reason: AtomicU8::new(NOT_KICKED),
            // MQTT allows a client 1.5 times its keep-alive between packets.
            silence_limit_ms: u32::from(keep_alive.seconds) * 1500,
            heard_at_ms: AtomicU64::new(keep_alive.now_ms),
            pending_requests: AtomicU32::new(0),
        });
        (handle.clone(), Receiver(handle))
    }

    /// Notes that the client sent something at `now_ms`.
    pub(crate) fn heard_at(&self, now_ms: u64) {
        self.heard_at_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Whether the client has been silent longer than its keep-alive allows at `now_ms`.
    pub(crate) fn silent_too_long(&self, now_ms: u64) -> bool {
        self.silence_limit_ms > 0
            && now_ms.saturating_sub(self.heard_at_ms.load(Ordering::Relaxed))
                > u64::from(self.silence_limit_ms)
    }

    /// Queues a delivery without waiting. A full queue means the client is not keeping up:
    /// it is disconnected rather than buffered without bound.
    pub(crate) fn offer(&self, delivery: Delivery) -> bool {
        match self.room.try_acquire() {
            Ok(place) => {
                place.forget();
                self.push(delivery.into());
                true
            }
            Err(TryAcquireError::NoPermits) => {
                self.kick(DisconnectReason::SlowConsumer);
                false
            }
            Err(TryAcquireError::Closed) => false,
        }
    }

    /// Queues a delivery, waiting up to `wait` for room; kicks the client as slow if there
    /// is none.
    pub(crate) async fn send_within(&self, delivery: Delivery, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.room.acquire()).await {
            Ok(Ok(place)) => {
                place.forget();
                self.push(delivery.into());
                true
            }
            Ok(Err(_closed)) => false,
            Err(_elapsed) => {
                self.kick(DisconnectReason::SlowConsumer);
                false
            }
        }
    }

    /// Queues the acknowledgement of one of the client's own publishes, outside the room
    /// deliveries share: what is owed is bounded by what the client sent and the platform
    /// took in (a connection whose reports wait for the platform reads nothing more), and
    /// a client with many reports in flight, acknowledged together once stored, is not a
    /// slow consumer. Dropped when the connection has ended.
    pub(crate) fn owe(&self, ack: Outbound) {
        debug_assert!(
            !matches!(ack, Outbound::Publish(_)),
            "deliveries take a place"
        );
        if !self.room.is_closed() {
            self.push(ack);
        }
    }

    /// Appends to the queue (a delivery into a place already taken from `room`).
    fn push(&self, item: Outbound) {
        self.lock_queue().push_back(item);
        self.wake.notify_one();
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Outbound>> {
        // The queue is consistent after every operation; a panic elsewhere does not spoil it.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next queued item, freeing its place; an emptied queue gives its memory back.
    fn pop(&self) -> Option<Outbound> {
        let mut queue = self.lock_queue();
        let item = queue.pop_front()?;
        if queue.is_empty() && queue.capacity() > SMALL_QUEUE {
            *queue = VecDeque::new();
        }
        drop(queue);
        if matches!(item, Outbound::Publish(_)) {
            self.room.add_permits(1);
        }
        Some(item)
    }

    /// Asks the connection to close; the first reason wins.
    pub(crate) fn kick(&self, reason: DisconnectReason) {
        let _ = self.kick_reason.compare_exchange(
            NOT_KICKED,
            reason_code(reason),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.wake.notify_one();
    }

    /// The kick reason, if the connection was asked to close.
    pub(crate) fn kicked_reason(&self) -> Option<DisconnectReason> {
        reason_from(self.kick_reason.load(Ordering::Acquire))
    }

    /// Resolves when the connection is asked to close. Whatever is queued meanwhile stays
    /// queued for [`Receiver::recv`], which looks at the queue before it waits.
    pub(crate) async fn kicked(&self) -> DisconnectReason {
        loop {
            if let Some(reason) = self.kicked_reason() {
                return reason;
            }
            self.wake.notified().await;
        }
    }
}

/// Queue places kept after the queue empties; a queue that grew past them is given back.
const SMALL_QUEUE: usize = 4;

/// The connection's end of its queue. Dropping it closes the queue: whatever is still
/// queued is dropped and later offers fail, as for a client that has gone.
#[derive(Debug)]
pub(crate) struct Receiver(Arc<ConnHandle>);

/// [`Receiver::try_recv`] found the queue empty.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Empty;

impl Receiver {
    /// Waits for the next queued item, or for a kick (which wins over what is queued).
    pub(crate) async fn recv(&mut self) -> Result<Outbound, DisconnectReason> {
        loop {
            if let Some(reason) = self.0.kicked_reason() {
                return Err(reason);
            }
            // A notification that comes between these checks and the wait is kept as a
            // permit by `notify_one`, so nothing queued or kicked meanwhile is missed.
            if let Some(item) = self.0.pop() {
                return Ok(item);
            }
            self.0.wake.notified().await;
        }
    }

    /// The next queued item, if any, without waiting.
    pub(crate) fn try_recv(&mut self) -> Result<Outbound, Empty> {
        self.0.pop().ok_or(Empty)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.0.room.close();
        self.0.lock_queue().clear();
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
        let (conn, mut rx) = ConnHandle::new(1, 2, KeepAlive::NONE);
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
        assert!(matches!(
            rx.recv().await,
            Err(DisconnectReason::SlowConsumer)
        ));
        assert!(rx.try_recv().unwrap().into_delivery().is_some());
        drop(rx);
        assert!(!conn.offer(d()));
    }

    #[tokio::test]
    async fn the_queue_is_first_in_first_out_bounded_and_closed_with_its_receiver() {
        let (conn, mut rx) = ConnHandle::new(1, 2, KeepAlive::NONE);
        let msg = |t: &str| Arc::new(Message::new(t, Bytes::new()));
        let d = |m: &Arc<Message>| Delivery {
            message: m.clone(),
            qos: QoS::AtMostOnce,
        };
        let topic = |item: Outbound| item.into_delivery().unwrap().message.topic.to_string();
        let (m1, m2, m3) = (msg("/1"), msg("/2"), msg("/3"));
        assert_eq!(rx.try_recv().unwrap_err(), Empty);
        assert!(conn.offer(d(&m1)) && conn.offer(d(&m2)));
        // Full: a sender waits for room, and gets it when the connection takes an item.
        let waiting = tokio::spawn({
            let (conn, m3) = (conn.clone(), m3.clone());
            async move {
                let d = Delivery {
                    message: m3,
                    qos: QoS::AtMostOnce,
                };
                conn.send_within(d, Duration::from_secs(30)).await
            }
        });
        assert_eq!(topic(rx.recv().await.unwrap()), "/1");
        assert!(waiting.await.unwrap(), "queued once there was room");
        assert_eq!(topic(rx.try_recv().unwrap()), "/2");
        assert_eq!(topic(rx.recv().await.unwrap()), "/3");
        assert_eq!(conn.kicked_reason(), None);
        // A sender that finds no room in time kicks the client as slow.
        assert!(conn.offer(d(&m1)) && conn.offer(d(&m2)));
        assert!(!conn.send_within(d(&m3), Duration::from_millis(10)).await);
        assert_eq!(conn.kicked_reason(), Some(DisconnectReason::SlowConsumer));
        // A connection that has ended takes nothing more.
        drop(rx);
        assert!(!conn.offer(d(&m1)));
        assert!(!conn.send_within(d(&m1), Duration::from_secs(30)).await);
        conn.owe(Outbound::PubAck(1));
        assert!(conn.lock_queue().is_empty(), "what was queued is dropped");
    }

    #[tokio::test]
    async fn acknowledgements_owed_never_take_the_room_of_deliveries() {
        let (conn, mut rx) = ConnHandle::new(1, 2, KeepAlive::NONE);
        // More acknowledgements than the queue has room for: a client with many reports
        // in flight, acknowledged together once stored.
        for pkid in 1..=10 {
            conn.owe(Outbound::PubAck(pkid));
        }
        assert_eq!(conn.kicked_reason(), None);
        let d = || Delivery {
            message: Arc::new(Message::new("/t", Bytes::new())),
            qos: QoS::AtMostOnce,
        };
        assert!(conn.offer(d()) && conn.offer(d()), "the room is untouched");
        assert!(!conn.offer(d()), "and still bounded");
        let mut acks = Vec::new();
        while let Ok(item) = rx.try_recv() {
            if let Outbound::PubAck(pkid) = item {
                acks.push(pkid);
            }
        }
        assert_eq!(acks, (1..=10).collect::<Vec<_>>(), "in order");
        // Taking the acknowledgements back gave no room beyond the queue's own two places.
        let (conn, mut rx) = ConnHandle::new(2, 2, KeepAlive::NONE);
        conn.owe(Outbound::PubAck(1));
        assert!(matches!(rx.try_recv(), Ok(Outbound::PubAck(1))));
        assert!(conn.offer(d()) && conn.offer(d()));
        assert!(!conn.offer(d()));
    }

    #[tokio::test]
    async fn a_queue_that_grew_gives_its_memory_back_when_emptied() {
        let (conn, mut rx) = ConnHandle::new(1, 64, KeepAlive::NONE);
        for pkid in 0..32 {
            conn.owe(Outbound::PubAck(pkid));
        }
        while rx.try_recv().is_ok() {}
        assert_eq!(conn.lock_queue().capacity(), 0);
    }

    #[test]
    fn pending_requests_are_bounded() {
        let (conn, _rx) = ConnHandle::new(1, 1, KeepAlive::NONE);
        let a = PendingRequest::acquire(&conn, 2).unwrap();
        let _b = PendingRequest::acquire(&conn, 2).unwrap();
        assert!(PendingRequest::acquire(&conn, 2).is_none());
        drop(a);
        assert!(PendingRequest::acquire(&conn, 2).is_some());
    }

    #[test]
    fn a_client_is_silent_too_long_past_one_and_a_half_keep_alives() {
        // (keep-alive s, connected at, last heard at, now, silent too long)
        let rows: &[(u16, u64, Option<u64>, u64, bool)] = &[
            (10, 1_000, None, 15_999, false),
            (10, 1_000, None, 16_000, false),
            (10, 1_000, None, 16_001, true),
            (10, 1_000, Some(9_000), 16_001, false),
            (10, 1_000, Some(9_000), 24_001, true),
            (1, 0, None, 1_500, false),
            (1, 0, None, 1_501, true),
            (0, 0, None, u64::MAX, false),
            // A clock reading older than the last packet (another thread's) is not silence.
            (10, 5_000, Some(9_000), 8_000, false),
            (u16::MAX, 0, None, 98_302_500, false),
            (u16::MAX, 0, None, 98_302_501, true),
        ];
        for &(seconds, now_ms, heard, at, expected) in rows {
            let (conn, _rx) = ConnHandle::new(1, 1, KeepAlive { seconds, now_ms });
            if let Some(heard) = heard {
                conn.heard_at(heard);
            }
            assert_eq!(
                conn.silent_too_long(at),
                expected,
                "keep-alive {seconds} s, connected {now_ms}, heard {heard:?}, now {at}"
            );
        }
    }

    #[tokio::test]
    async fn a_kick_wakes_a_waiting_receiver_and_wins_over_the_queue() {
        let (conn, mut rx) = ConnHandle::new(1, 4, KeepAlive::NONE);
        let waiting = tokio::spawn(async move {
            let first = rx.recv().await;
            (first, rx)
        });
        tokio::task::yield_now().await;
        conn.kick(DisconnectReason::KeepAliveTimeout);
        let (first, mut rx) = waiting.await.unwrap();
        assert!(matches!(first, Err(DisconnectReason::KeepAliveTimeout)));
        conn.owe(Outbound::PubAck(1));
        assert!(matches!(
            rx.recv().await,
            Err(DisconnectReason::KeepAliveTimeout)
        ));
        // What was queued is still there for the connection's clean-up to drop.
        assert!(matches!(rx.try_recv(), Ok(Outbound::PubAck(1))));
    }
}
