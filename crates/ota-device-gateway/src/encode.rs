//! Outbound packets for both protocol levels.

use bytes::{BufMut, Bytes, BytesMut};

use rumqttc::mqttbytes::{QoS as Q4, v4};
use rumqttc::v5::mqttbytes::{QoS as Q5, v5};

use crate::codec::{QoS, Version};

/// CONNACK outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnAckCode {
    Accepted,
    UnsupportedVersion,
    BadClientId,
    /// Known device, wrong password (v4 code 4, v5 0x86).
    BadCredentials,
    /// Unknown device or client (v4 code 5, v5 0x87).
    NotAuthorized,
}

/// Why the server ends a connection (sent as DISCONNECT on v5; v4 has no such packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisconnectReason {
    SessionTakenOver,
    ServerShuttingDown,
    KeepAliveTimeout,
    /// The client fell too far behind its outbound queue.
    SlowConsumer,
    ProtocolError,
    PacketTooLarge,
    /// Closed by the operator (`Gateway::disconnect_device`).
    Administrative,
}

impl DisconnectReason {
    fn v5_code(self) -> u8 {
        match self {
            DisconnectReason::SessionTakenOver => 0x8E,
            DisconnectReason::ServerShuttingDown => 0x8B,
            DisconnectReason::KeepAliveTimeout => 0x8D,
            DisconnectReason::SlowConsumer => 0x97,
            DisconnectReason::ProtocolError => 0x82,
            DisconnectReason::PacketTooLarge => 0x95,
            DisconnectReason::Administrative => 0x98,
        }
    }
}

/// An outbound packet, protocol level erased.
#[derive(Debug)]
pub(crate) enum Outgoing<'a> {
    ConnAck {
        code: ConnAckCode,
        session_present: bool,
        max_packet_size: u32,
    },
    Publish {
        topic: &'a str,
        payload: &'a Bytes,
        qos: QoS,
        pkid: u16,
    },
    PubAck {
        pkid: u16,
        authorized: bool,
    },
    PubRec {
        pkid: u16,
    },
    PubComp {
        pkid: u16,
    },
    /// `None` = refused.
    SubAck {
        pkid: u16,
        granted: &'a [Option<QoS>],
    },
    UnsubAck {
        pkid: u16,
        count: usize,
    },
    PingResp,
    Disconnect(DisconnectReason),
}

fn q4(q: QoS) -> Q4 {
    match q {
        QoS::AtMostOnce => Q4::AtMostOnce,
        QoS::AtLeastOnce => Q4::AtLeastOnce,
    }
}

fn q5(q: QoS) -> Q5 {
    match q {
        QoS::AtMostOnce => Q5::AtMostOnce,
        QoS::AtLeastOnce => Q5::AtLeastOnce,
    }
}

/// Appends `packet` to `buf`.
pub(crate) fn encode(
    version: Version,
    packet: &Outgoing<'_>,
    buf: &mut BytesMut,
) -> Result<(), String> {
    match version {
        Version::V4 => encode_v4(packet, buf),
        Version::V5 => encode_v5(packet, buf),
    }
}

fn encode_v4(packet: &Outgoing<'_>, buf: &mut BytesMut) -> Result<(), String> {
    use v4::ConnectReturnCode as C;
    let p = match *packet {
        Outgoing::ConnAck {
            code,
            session_present,
            ..
        } => {
            let code = match code {
                ConnAckCode::Accepted => C::Success,
                ConnAckCode::UnsupportedVersion => C::RefusedProtocolVersion,
                ConnAckCode::BadClientId => C::BadClientId,
                ConnAckCode::BadCredentials => C::BadUserNamePassword,
                ConnAckCode::NotAuthorized => C::NotAuthorized,
            };
            v4::Packet::ConnAck(v4::ConnAck::new(code, session_present))
        }
        Outgoing::Publish {
            topic,
            payload,
            qos,
            pkid,
        } => {
            let mut p = v4::Publish::from_bytes(topic, q4(qos), payload.clone());
            p.pkid = pkid;
            v4::Packet::Publish(p)
        }
        // v3.1.1 has no negative PUBACK: a refused publish is acknowledged and dropped, so the
        // client does not retry it forever.
        Outgoing::PubAck { pkid, .. } => v4::Packet::PubAck(v4::PubAck::new(pkid)),
        Outgoing::PubRec { pkid } => v4::Packet::PubRec(v4::PubRec::new(pkid)),
        Outgoing::PubComp { pkid } => v4::Packet::PubComp(v4::PubComp::new(pkid)),
        Outgoing::SubAck { pkid, granted } => {
            let codes = granted
                .iter()
                .map(|g| match g {
                    Some(q) => v4::SubscribeReasonCode::Success(q4(*q)),
                    None => v4::SubscribeReasonCode::Failure,
                })
                .collect();
            v4::Packet::SubAck(v4::SubAck::new(pkid, codes))
        }
        Outgoing::UnsubAck { pkid, .. } => v4::Packet::UnsubAck(v4::UnsubAck::new(pkid)),
        Outgoing::PingResp => v4::Packet::PingResp,
        Outgoing::Disconnect(_) => return Ok(()),
    };
    p.write(buf, usize::MAX)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn encode_v5(packet: &Outgoing<'_>, buf: &mut BytesMut) -> Result<(), String> {
    use v5::ConnectReturnCode as C;
    let p = match *packet {
        Outgoing::ConnAck {
            code,
            session_present,
            max_packet_size,
        } => {
            let accepted = code == ConnAckCode::Accepted;
            let code = match code {
                ConnAckCode::Accepted => C::Success,
                ConnAckCode::UnsupportedVersion => C::UnsupportedProtocolVersion,
                ConnAckCode::BadClientId => C::ClientIdentifierNotValid,
                ConnAckCode::BadCredentials => C::BadUserNamePassword,
                ConnAckCode::NotAuthorized => C::NotAuthorized,
            };
            let properties = accepted.then(|| v5::ConnAckProperties {
                session_expiry_interval: None,
                receive_max: None,
                max_qos: Some(1),
                retain_available: Some(0),
                max_packet_size: Some(max_packet_size),
                assigned_client_identifier: None,
                topic_alias_max: None,
                reason_string: None,
                user_properties: Vec::new(),
                wildcard_subscription_available: Some(1),
                subscription_identifiers_available: Some(0),
                shared_subscription_available: Some(0),
                server_keep_alive: None,
                response_information: None,
                server_reference: None,
                authentication_method: None,
                authentication_data: None,
            });
            v5::Packet::ConnAck(v5::ConnAck {
                session_present,
                code,
                properties,
            })
        }
        Outgoing::Publish {
            topic,
            payload,
            qos,
            pkid,
        } => {
            let mut p = v5::Publish::new(topic, q5(qos), payload.clone(), None);
            p.pkid = pkid;
            v5::Packet::Publish(p)
        }
        Outgoing::PubAck { pkid, authorized } => {
            let mut ack = v5::PubAck::new(pkid, None);
            if !authorized {
                ack.reason = v5::PubAckReason::NotAuthorized;
            }
            v5::Packet::PubAck(ack)
        }
        Outgoing::PubRec { pkid } => v5::Packet::PubRec(v5::PubRec::new(pkid, None)),
        Outgoing::PubComp { pkid } => v5::Packet::PubComp(v5::PubComp::new(pkid, None)),
        Outgoing::SubAck { pkid, granted } => {
            let return_codes = granted
                .iter()
                .map(|g| match g {
                    Some(q) => v5::SubscribeReasonCode::Success(q5(*q)),
                    None => v5::SubscribeReasonCode::NotAuthorized,
                })
                .collect();
            v5::Packet::SubAck(v5::SubAck {
                pkid,
                return_codes,
                properties: None,
            })
        }
        Outgoing::UnsubAck { pkid, count } => v5::Packet::UnsubAck(v5::UnsubAck {
            pkid,
            reasons: vec![v5::UnsubAckReason::Success; count],
            properties: None,
        }),
        Outgoing::PingResp => v5::Packet::PingResp(v5::PingResp),
        Outgoing::Disconnect(reason) => {
            // Written by hand: rumqttc miscounts the length of a DISCONNECT that has a reason
            // code but no properties, and its reader requires the property length byte.
            buf.put_slice(&[0xE0, 0x02, reason.v5_code(), 0x00]);
            return Ok(());
        }
    };
    p.write(buf, None).map(drop).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_disconnect_and_refusals() {
        let mut buf = BytesMut::new();
        encode(
            Version::V5,
            &Outgoing::Disconnect(DisconnectReason::SessionTakenOver),
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..], &[0xE0, 0x02, 0x8E, 0x00]);
        buf.clear();
        encode(
            Version::V4,
            &Outgoing::Disconnect(DisconnectReason::SessionTakenOver),
            &mut buf,
        )
        .unwrap();
        assert!(buf.is_empty());
        let refused = Outgoing::ConnAck {
            code: ConnAckCode::BadCredentials,
            session_present: false,
            max_packet_size: 1024,
        };
        encode(Version::V4, &refused, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0x20, 0x02, 0x00, 0x04]);
        buf.clear();
        encode(Version::V5, &refused, &mut buf).unwrap();
        assert_eq!(&buf[..], &[0x20, 0x03, 0x00, 0x86, 0x00]);
        buf.clear();
        encode(
            Version::V5,
            &Outgoing::PubAck {
                pkid: 7,
                authorized: false,
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(&buf[..], &[0x40, 0x04, 0x00, 0x07, 0x87, 0x00]);
    }
}
