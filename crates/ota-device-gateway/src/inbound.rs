//! Inbound packets of an established connection: publish (with the ACL), subscribe,
//! unsubscribe, acknowledgements, ping and disconnect.

use bytes::{Bytes, BytesMut};
use tracing::debug;

use ota_protocol::filter_may_match_foreign;

use crate::codec::{DecodeError, Inbound, QoS, SubFilter, decode};
use crate::encode::Outgoing;
use crate::filter::{valid_filter, valid_topic};
use crate::registry::Principal;
use crate::session::{Close, Session};
use crate::{GatewayHandler, PubAck};

impl<H: GatewayHandler> Session<H> {
    /// Handles every complete packet in `rbuf`; replies are appended to `out`. Waits while
    /// the platform has no room for a report: the connection reads nothing more meanwhile.
    pub(crate) async fn process_input(
        &mut self,
        rbuf: &mut BytesMut,
        out: &mut BytesMut,
    ) -> Result<(), Close> {
        let max = self.shared.config.max_packet_size;
        loop {
            let packet = match decode(self.version, rbuf, max) {
                Ok(Some(packet)) => packet,
                Ok(None) => return Ok(()),
                Err(DecodeError::TooLarge) => return Err(Close::TooLarge),
                Err(e) => {
                    debug!(conn = self.conn.id, error = %e, "malformed packet");
                    return Err(Close::Malformed);
                }
            };
            self.handle_packet(packet, out).await?;
        }
    }

    async fn handle_packet(&mut self, packet: Inbound, out: &mut BytesMut) -> Result<(), Close> {
        match packet {
            Inbound::Publish {
                topic,
                payload,
                qos,
                pkid,
            } => {
                self.handle_publish(&topic, payload, qos, pkid, out).await?;
            }
            Inbound::PubRel(pkid) => self.reply(out, &Outgoing::PubComp { pkid }),
            // Outbound QoS 1 is not retransmitted on the same connection, so acks need no
            // bookkeeping; the platform re-pushes after a reconnect.
            Inbound::PubAck | Inbound::PubRec | Inbound::PubComp => {}
            Inbound::Subscribe { pkid, filters } => self.handle_subscribe(pkid, &filters, out)?,
            Inbound::Unsubscribe { pkid, filters } => {
                for filter in &filters {
                    self.shared
                        .registry
                        .unsubscribe(&self.principal, self.conn.id, filter);
                }
                self.reply(
                    out,
                    &Outgoing::UnsubAck {
                        pkid,
                        count: filters.len(),
                    },
                );
            }
            Inbound::PingReq => self.reply(out, &Outgoing::PingResp),
            Inbound::Disconnect => return Err(Close::ClientDisconnect),
            Inbound::Connect(_) | Inbound::Unexpected => return Err(Close::Protocol),
        }
        Ok(())
    }

    /// A publish from this client. Devices may publish only to topics they own; anything
    /// else is dropped (v5: PUBACK "not authorized") and never forwarded. A device's OTA
    /// report or request is acknowledged by the platform once stored or answered
    /// ([`crate::PubAck`]); everything else at once.
    async fn handle_publish(
        &mut self,
        topic: &str,
        payload: Bytes,
        qos: u8,
        pkid: u16,
        out: &mut BytesMut,
    ) -> Result<(), Close> {
        if !valid_topic(topic) {
            return Err(Close::Protocol);
        }
        let authorized = self.may_publish(topic);
        let route_qos = if qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut acknowledged_later = false;
        if authorized {
            if matches!(self.principal, Principal::Device(_)) {
                let ack = PubAck::to_connection(&self.conn, qos, pkid);
                acknowledged_later = crate::device_messages::dispatch(
                    &self.handler,
                    &self.conn,
                    (topic, &payload, route_qos),
                    self.shared.config.max_pending_requests,
                    ack,
                )
                .await
                .is_none();
            }
            self.shared
                .registry
                .route(self.conn.id, topic, &payload, route_qos);
        } else {
            debug!(conn = self.conn.id, principal = ?self.principal, topic, "publish denied");
        }
        match qos {
            _ if acknowledged_later => {}
            0 => {}
            1 => self.reply(out, &Outgoing::PubAck { pkid, authorized }),
            // QoS 2 is delivered on PUBLISH (at least once) and its handshake completed.
            _ => self.reply(out, &Outgoing::PubRec { pkid }),
        }
        Ok(())
    }

    /// Every valid filter is accepted, wildcards included (the C Link SDK 4.x subscribes
    /// `/ota/device/upgrade/+/+`); a device is still delivered only its own topics.
    fn handle_subscribe(
        &mut self,
        pkid: u16,
        filters: &[SubFilter],
        out: &mut BytesMut,
    ) -> Result<(), Close> {
        if filters.is_empty() {
            return Err(Close::Protocol);
        }
        let max = match self.principal {
            Principal::Device(_) => self.shared.config.max_device_subscriptions,
            Principal::Admin(_) => self.shared.config.max_admin_subscriptions,
        };
        let granted: Vec<Option<QoS>> = filters
            .iter()
            .map(|f| {
                let ok = valid_filter(&f.filter)
                    && self
                        .shared
                        .registry
                        .subscribe(&self.principal, self.conn.id, f, max);
                if let (true, Principal::Device(d)) = (ok, &self.principal)
                    && filter_may_match_foreign(
                        d.product_key.as_str(),
                        d.device_name.as_str(),
                        &f.filter,
                    )
                {
                    debug!(device = %d, filter = f.filter, "wildcard filter: own topics only");
                }
                ok.then_some(f.qos)
            })
            .collect();
        self.reply(
            out,
            &Outgoing::SubAck {
                pkid,
                granted: &granted,
            },
        );
        Ok(())
    }
}
