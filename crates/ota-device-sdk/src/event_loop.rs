//! The task that owns a device's `rumqttc` event loop: it reconnects with jittered
//! exponential backoff, re-subscribes after every CONNACK (sessions are clean, so the broker
//! forgets subscriptions), reports the device's versions again after every reconnect, and
//! routes incoming messages to whoever waits for them.
//!
//! Why report again: a clean session drops whatever was unacknowledged when the connection
//! broke — a version report the platform had not stored yet among it (the platform
//! acknowledges a report only once stored). The version is the report the platform decides
//! success by, and restating it is harmless (a task never moves backwards), so the device
//! states it again, as devices do after a reboot.
//!
//! Routing is by exact topic: pushes go to a small queue read by [`crate::Device::next_push`];
//! `get_reply` goes to the one pending pull, or to the push queue when nobody pulled; block
//! replies go to the running block download, if any, and are dropped otherwise.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ota_protocol::{ProtocolError, UpgradePush};
use rumqttc::{
    ConnectionError, Event, EventLoop, Outgoing, Packet, Publish, QoS, Request, Subscribe,
    SubscribeFilter, SubscribeReasonCode,
};
use tokio::sync::{mpsc, oneshot, watch};

use crate::SdkError;

/// A waiting pull's reply slot.
pub(crate) type PullReply = Result<Option<UpgradePush>, ProtocolError>;

/// The cloud→device topics of one device.
#[derive(Debug, Clone)]
pub(crate) struct Inbound {
    pub upgrade: String,
    pub get_reply: String,
    pub download_reply: String,
}

/// State shared between the event loop task and the [`crate::Device`] handle.
pub(crate) struct Shared {
    /// The pull waiting for `get_reply`.
    pub pull: Mutex<Option<oneshot::Sender<PullReply>>>,
    /// The block download waiting for `download_reply` payloads.
    pub blocks: Mutex<Option<mpsc::Sender<Bytes>>>,
    /// True between a SUBACK and the next connection error.
    pub connected: watch::Sender<bool>,
    /// The last version report of each module (`None`: the default module), sent again
    /// after every reconnect.
    pub informs: Mutex<BTreeMap<Option<String>, Publish>>,
}

/// Reconnect timing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// `min * 2^attempt`, capped at `max`, then scaled by a random factor in [0.5, 1) so a
    /// fleet that lost its broker does not come back in lockstep.
    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .min
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let r = RandomState::new().hash_one(attempt) % 1000;
        base.mul_f64(0.5 + r as f64 / 2000.0)
    }
}

/// Drives `el` until the device is closed (DISCONNECT sent, or every client handle dropped).
/// Pushes (and unsolicited pull replies) go to `pushes`; dropping it when the task ends is
/// what makes [`crate::Device::next_push`] return `None`.
///
/// `ready` is answered once: `Ok` after the first SUBACK, or an error if the broker refuses
/// the first CONNECT or a subscription. Connection errors before that are retried; the caller
/// bounds the wait.
pub(crate) async fn drive(
    mut el: EventLoop,
    shared: Arc<Shared>,
    inbound: Inbound,
    pushes: mpsc::Sender<UpgradePush>,
    backoff: Backoff,
    ready: oneshot::Sender<Result<(), SdkError>>,
) {
    let mut ready = Some(ready);
    let mut attempt = 0u32;
    let mut closing = false;
    let mut reconnect = false;
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                attempt = 0;
                let filters = [
                    &inbound.upgrade,
                    &inbound.get_reply,
                    &inbound.download_reply,
                ]
                .map(|t| SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
                // Ahead of anything the application queued while we were offline.
                el.pending
                    .push_front(Request::Subscribe(Subscribe::new_many(filters)));
                if reconnect {
                    restate_versions(&shared, &mut el);
                }
                reconnect = true;
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, SubscribeReasonCode::Failure));
                let result = if refused {
                    tracing::warn!(topic = %inbound.upgrade, "broker refused an OTA subscription");
                    Err(SdkError::SubscribeRefused(inbound.upgrade.clone()))
                } else {
                    shared.connected.send_replace(true);
                    Ok(())
                };
                if let Some(ready) = ready.take() {
                    let fatal = result.is_err();
                    let _ = ready.send(result);
                    if fatal {
                        return;
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => route(&shared, &inbound, &pushes, p),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                shared.connected.send_replace(false);
                // Read on until the broker closes the connection: a socket dropped with
                // acknowledgements still unread is reset (RST), and the broker then loses
                // what it had not read yet — the reports sent just before closing.
                closing = true;
            }
            Ok(_) => {}
            Err(ConnectionError::RequestsDone) => return,
            Err(_) if closing => return,
            Err(e) => {
                shared.connected.send_replace(false);
                if let ConnectionError::ConnectionRefused(code) = &e
                    && let Some(ready) = ready.take()
                {
                    let _ = ready.send(Err(SdkError::Refused(format!("{code:?}"))));
                    return;
                }
                let delay = backoff.delay(attempt);
                tracing::debug!(error = %e, ?delay, attempt, "MQTT connection lost; reconnecting");
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Queues the last version report of every module, right after the subscriptions.
fn restate_versions(shared: &Shared, el: &mut EventLoop) {
    let informs = shared.informs.lock().unwrap_or_else(|e| e.into_inner());
    for (position, inform) in informs.values().enumerate() {
        let mut inform = inform.clone();
        inform.pkid = 0;
        el.pending.insert(1 + position, Request::Publish(inform));
    }
}

fn route(shared: &Shared, inbound: &Inbound, pushes: &mpsc::Sender<UpgradePush>, p: Publish) {
    if p.topic == inbound.download_reply {
        let waiting = shared
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match waiting {
            Some(tx) => {
                if tx.try_send(p.payload).is_err() {
                    tracing::debug!("block reply dropped: downloader busy or gone");
                }
            }
            None => tracing::debug!("block reply with no download running"),
        }
    } else if p.topic == inbound.get_reply {
        let parsed = UpgradePush::parse(&p.payload);
        let waiting = shared.pull.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (waiting, parsed) {
            (Some(tx), parsed) => {
                let _ = tx.send(parsed);
            }
            (None, Ok(Some(push))) => queue_push(pushes, push),
            (None, Ok(None)) => {}
            (None, Err(e)) => tracing::warn!(error = %e, "unparsable get_reply"),
        }
    } else if p.topic == inbound.upgrade {
        match UpgradePush::parse(&p.payload) {
            Ok(Some(push)) => queue_push(pushes, push),
            Ok(None) => tracing::debug!("empty upgrade push ignored"),
            Err(e) => tracing::warn!(error = %e, "unparsable upgrade push"),
        }
    } else {
        tracing::debug!(topic = %p.topic, "message on an unexpected topic");
    }
}

fn queue_push(pushes: &mpsc::Sender<UpgradePush>, push: UpgradePush) {
    // Bounded: a device that does not read its pushes keeps the first few and drops the rest
    // rather than growing without limit; the platform re-pushes on reconnect.
    if pushes.try_send(push).is_err() {
        tracing::warn!("push queue full or closed; push dropped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let b = Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for attempt in 0..40 {
            let d = b.delay(attempt);
            let base = (100u64 << attempt.min(16)).min(1000);
            assert!(d >= Duration::from_millis(base / 2), "{attempt}: {d:?}");
            assert!(d < Duration::from_millis(base), "{attempt}: {d:?}");
        }
    }
}
