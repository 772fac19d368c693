//! A device report on its way into the engine: the protocol's typed message as the device
//! link parsed it, the device it came from, and the acknowledgement owed to the device.
//!
//! The acknowledgement is what makes reports at-least-once end to end: a device link hands
//! one in with every QoS 1 report (the embedded broker's PUBACK, the external broker's
//! manual ack), and the engine sends it only once the report's group has committed — or
//! the store has refused that report for good, so the device is never stuck retransmitting.
//! A report lost with the process was never acknowledged, so the device sends it again.

use ota_domain::DeviceKey;
use ota_protocol::DeviceMessage;

/// The acknowledgement of one device report, sent once the report is stored.
///
/// Dropping it without [`Ack::send`] sends nothing: the device keeps the report as
/// unacknowledged and sends it again after it reconnects.
pub struct Ack(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Ack {
    /// Runs `send` once the report is stored (or refused for good).
    pub fn new(send: impl FnOnce() + Send + Sync + 'static) -> Ack {
        Ack(Some(Box::new(send)))
    }

    /// Nothing to acknowledge (a QoS 0 report).
    pub fn none() -> Ack {
        Ack(None)
    }

    /// Sends the acknowledgement.
    pub(crate) fn send(mut self) {
        if let Some(send) = self.0.take() {
            send();
        }
    }
}

impl std::fmt::Debug for Ack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Ack" } else { "Ack(none)" })
    }
}

/// One queued report.
#[derive(Debug)]
pub(crate) struct Report {
    pub device: DeviceKey,
    pub message: DeviceMessage,
    pub ack: Ack,
}

/// Whether the engine takes `message` as a report (inform and progress); everything else a
/// device says is a request answered elsewhere.
pub(crate) fn is_report(message: &DeviceMessage) -> bool {
    matches!(
        message,
        DeviceMessage::Inform { .. } | DeviceMessage::Progress { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn an_ack_is_sent_once_and_only_when_asked() {
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let ack = Ack::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        ack.send();
        assert_eq!(sent.load(Ordering::SeqCst), 1);

        let counter = sent.clone();
        drop(Ack::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(sent.load(Ordering::SeqCst), 1, "dropped, not sent");
        Ack::none().send();
    }
}
