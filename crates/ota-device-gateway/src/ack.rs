//! Acknowledging a device's publish once the platform has stored what it said.
//!
//! An inform or progress report is the device's word that something happened; a PUBACK
//! tells the device it may forget it. So the PUBACK of a QoS 1 report is not written when
//! the packet is read but handed to the platform with the report ([`PubAck`]), which sends
//! it once the report is committed. A connection that dies first never acknowledged the
//! report, and the device sends it again after reconnecting. Behind an external broker the
//! same holds for the node's shared-subscription delivery: the node's acknowledgement to
//! the broker waits for the commit.

use std::sync::Arc;

use crate::conn_handle::{ConnHandle, Outbound};

/// The acknowledgement owed for one device publish. [`PubAck::send`] sends it; dropping it
/// sends nothing.
pub struct PubAck(Option<Target>);

enum Target {
    /// A device connected to the embedded broker: PUBACK (QoS 1) or PUBREC (QoS 2, which
    /// the broker handles as at least once) through the connection's outbound queue.
    Connection {
        conn: Arc<ConnHandle>,
        packet: Outbound,
    },
    /// A message an external broker delivered to this node with QoS 1.
    Broker {
        client: rumqttc::AsyncClient,
        pkid: u16,
    },
}

impl PubAck {
    /// Nothing to acknowledge (QoS 0).
    pub fn none() -> PubAck {
        PubAck(None)
    }

    /// The acknowledgement of a publish with `qos` and `pkid` read on `conn`.
    pub(crate) fn to_connection(conn: &Arc<ConnHandle>, qos: u8, pkid: u16) -> PubAck {
        let packet = match qos {
            0 => return PubAck::none(),
            1 => Outbound::PubAck(pkid),
            _ => Outbound::PubRec(pkid),
        };
        PubAck(Some(Target::Connection {
            conn: conn.clone(),
            packet,
        }))
    }

    /// The acknowledgement of a message the external broker delivered (manual acks).
    pub(crate) fn to_broker(client: &rumqttc::AsyncClient, publish: &rumqttc::Publish) -> PubAck {
        if publish.qos == rumqttc::QoS::AtMostOnce {
            return PubAck::none();
        }
        PubAck(Some(Target::Broker {
            client: client.clone(),
            pkid: publish.pkid,
        }))
    }

    /// Whether there is anything to send.
    pub fn is_owed(&self) -> bool {
        self.0.is_some()
    }

    /// Sends the acknowledgement. Never waits: it is queued beside the connection's
    /// deliveries but never counted against their room ([`ConnHandle::owe`]); a broker
    /// connection that is away drops it (the broker delivers again).
    pub fn send(self) {
        match self.0 {
            None => {}
            Some(Target::Connection { conn, packet }) => {
                conn.owe(packet);
            }
            Some(Target::Broker { client, pkid }) => {
                let mut publish =
                    rumqttc::Publish::new("", rumqttc::QoS::AtLeastOnce, Vec::<u8>::new());
                publish.pkid = pkid;
                if client.try_ack(&publish).is_err() {
                    metrics::counter!("ota_broker_dropped_total", "what" => "ack").increment(1);
                    tracing::warn!(pkid, "acknowledgement to the broker not queued");
                }
            }
        }
    }
}

impl std::fmt::Debug for PubAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("PubAck(none)"),
            Some(Target::Connection { conn, packet }) => {
                write!(f, "PubAck(conn {}, {packet:?})", conn.id)
            }
            Some(Target::Broker { pkid, .. }) => write!(f, "PubAck(broker, {pkid})"),
        }
    }
}
