//! MQTT framing for protocol levels 4 (3.1.1) and 5, on top of the packet types `rumqttc`
//! exposes. Both levels are mapped to one small packet model so the session logic exists
//! once. The level is read from the CONNECT bytes before either codec is chosen.

use bytes::{Buf, Bytes, BytesMut};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rumqttc::mqttbytes::{self as m4, v4};
use rumqttc::v5::mqttbytes::{self as m5, v5};

/// MQTT protocol level of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V4,
    V5,
}

/// Delivery guarantee. QoS 2 from clients is accepted and handled as QoS 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    /// At most once.
    AtMostOnce,
    /// At least once: acknowledged with PUBACK.
    AtLeastOnce,
}

impl QoS {
    fn from_level(level: u8) -> QoS {
        if level == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        }
    }
}

/// A last-will message.
#[derive(Debug, Clone)]
pub(crate) struct Will {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
}

/// The parts of CONNECT the gateway uses.
#[derive(Debug)]
pub(crate) struct ConnectInfo {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub keep_alive: u16,
    pub clean_start: bool,
    /// Whether the session (its subscriptions) outlives the connection.
    pub persistent: bool,
    pub will: Option<Will>,
    /// The client's own maximum packet size (v5).
    pub max_packet_size: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct SubFilter {
    pub filter: String,
    pub qos: QoS,
    pub no_local: bool,
}

/// An inbound packet, protocol level erased.
#[derive(Debug)]
pub(crate) enum Inbound {
    Connect(Box<ConnectInfo>),
    Publish {
        topic: String,
        payload: Bytes,
        qos: u8,
        pkid: u16,
    },
    PubAck,
    PubRec,
    PubRel(u16),
    PubComp,
    Subscribe {
        pkid: u16,
        filters: Vec<SubFilter>,
    },
    Unsubscribe {
        pkid: u16,
        filters: Vec<String>,
    },
    PingReq,
    Disconnect,
    /// A packet only a server sends (CONNACK, SUBACK, …) or AUTH.
    Unexpected,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DecodeError {
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("unsupported protocol level {0}")]
    UnsupportedVersion(u8),
    #[error("packet larger than the maximum packet size")]
    TooLarge,
}

/// Reads the protocol level of the CONNECT at the head of `buf`; `Ok(None)` when more bytes
/// are needed.
pub(crate) fn detect_version(buf: &[u8]) -> Result<Option<Version>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first != 0x10 {
        return Err(DecodeError::Malformed("first packet is not CONNECT".into()));
    }
    // Skip the remaining-length varint (1..=4 bytes).
    let mut i = 1;
    loop {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        if i > 4 {
            return Err(DecodeError::Malformed("bad remaining length".into()));
        }
    }
    let Some(name_len) = buf.get(i..i + 2) else {
        return Ok(None);
    };
    let name_len = usize::from(u16::from_be_bytes([name_len[0], name_len[1]]));
    let Some(&level) = buf.get(i + 2 + name_len) else {
        return Ok(None);
    };
    match level {
        4 => Ok(Some(Version::V4)),
        5 => Ok(Some(Version::V5)),
        other => Err(DecodeError::UnsupportedVersion(other)),
    }
}

/// Decodes one packet from the head of `buf`; `Ok(None)` when it is incomplete.
pub(crate) fn decode(
    version: Version,
    buf: &mut BytesMut,
    max_size: usize,
) -> Result<Option<Inbound>, DecodeError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    // rumqttc's v5 reader rejects the two-byte DISCONNECT that v5 allows (and sends itself).
    if version == Version::V5 && buf[0] == 0xE0 && buf[1] == 0 {
        buf.advance(2);
        return Ok(Some(Inbound::Disconnect));
    }
    // rumqttc reports "insufficient bytes" both for a packet that is not all here yet and,
    // after taking a complete packet off the buffer, for a length field inside it that runs
    // past the packet's end (v5 property lengths). Only the first means "wait for more"; the
    // second is a malformed packet, which must end the connection, not vanish unanswered.
    let before = buf.len();
    let truncated = || DecodeError::Malformed("a field runs past the end of the packet".into());
    // The decoders are not ours; a panic on hostile input must only end this connection.
    let decoded = catch_unwind(AssertUnwindSafe(|| match version {
        Version::V4 => match v4::Packet::read(buf, max_size) {
            Ok(p) => Ok(Some(from_v4(p))),
            Err(m4::Error::InsufficientBytes(_)) if buf.len() != before => Err(truncated()),
            Err(m4::Error::InsufficientBytes(n)) => Ok(None).inspect(|_| buf.reserve(n)),
            Err(m4::Error::PayloadSizeLimitExceeded(_)) => Err(DecodeError::TooLarge),
            Err(e) => Err(DecodeError::Malformed(e.to_string())),
        },
        Version::V5 => match v5::Packet::read(buf, u32::try_from(max_size).ok()) {
            Ok(p) => from_v5(p).map(Some),
            Err(m5::Error::InsufficientBytes(_)) if buf.len() != before => Err(truncated()),
            Err(m5::Error::InsufficientBytes(n)) => Ok(None).inspect(|_| buf.reserve(n)),
            Err(m5::Error::PayloadSizeLimitExceeded { .. }) => Err(DecodeError::TooLarge),
            Err(e) => Err(DecodeError::Malformed(e.to_string())),
        },
    }));
    decoded.unwrap_or_else(|_| Err(DecodeError::Malformed("decoder panicked".into())))
}

fn from_v4(p: v4::Packet) -> Inbound {
    match p {
        v4::Packet::Connect(c) => Inbound::Connect(Box::new(ConnectInfo {
            client_id: c.client_id,
            username: c.login.as_ref().map(|l| l.username.clone()),
            password: c.login.map(|l| l.password),
            keep_alive: c.keep_alive,
            clean_start: c.clean_session,
            persistent: !c.clean_session,
            will: c.last_will.map(|w| Will {
                topic: w.topic,
                payload: w.message,
                qos: QoS::from_level(w.qos as u8),
            }),
            max_packet_size: None,
        })),
        v4::Packet::Publish(p) => Inbound::Publish {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos as u8,
            pkid: p.pkid,
        },
        v4::Packet::PubAck(_) => Inbound::PubAck,
        v4::Packet::PubRec(_) => Inbound::PubRec,
        v4::Packet::PubRel(p) => Inbound::PubRel(p.pkid),
        v4::Packet::PubComp(_) => Inbound::PubComp,
        v4::Packet::Subscribe(s) => Inbound::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| SubFilter {
                    filter: f.path,
                    qos: QoS::from_level(f.qos as u8),
                    no_local: false,
                })
                .collect(),
        },
        v4::Packet::Unsubscribe(u) => Inbound::Unsubscribe {
            pkid: u.pkid,
            filters: u.topics,
        },
        v4::Packet::PingReq => Inbound::PingReq,
        v4::Packet::Disconnect => Inbound::Disconnect,
        v4::Packet::ConnAck(_)
        | v4::Packet::SubAck(_)
        | v4::Packet::UnsubAck(_)
        | v4::Packet::PingResp => Inbound::Unexpected,
    }
}

fn utf8(b: Bytes) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError::Malformed("topic is not UTF-8".into()))
}

fn from_v5(p: v5::Packet) -> Result<Inbound, DecodeError> {
    Ok(match p {
        v5::Packet::Connect(c, will, login) => {
            let props = c.properties.as_ref();
            let expiry = props.and_then(|p| p.session_expiry_interval).unwrap_or(0);
            Inbound::Connect(Box::new(ConnectInfo {
                client_id: c.client_id,
                username: login.as_ref().map(|l| l.username.clone()),
                password: login.map(|l| l.password),
                keep_alive: c.keep_alive,
                clean_start: c.clean_start,
                persistent: expiry > 0,
                will: match will {
                    Some(w) => Some(Will {
                        topic: utf8(w.topic)?,
                        payload: w.message,
                        qos: QoS::from_level(w.qos as u8),
                    }),
                    None => None,
                },
                max_packet_size: props.and_then(|p| p.max_packet_size),
            }))
        }
        v5::Packet::Publish(p) => Inbound::Publish {
            topic: utf8(p.topic)?,
            payload: p.payload,
            qos: p.qos as u8,
            pkid: p.pkid,
        },
        v5::Packet::PubAck(_) => Inbound::PubAck,
        v5::Packet::PubRec(_) => Inbound::PubRec,
        v5::Packet::PubRel(p) => Inbound::PubRel(p.pkid),
        v5::Packet::PubComp(_) => Inbound::PubComp,
        v5::Packet::Subscribe(s) => Inbound::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| SubFilter {
                    filter: f.path,
                    qos: QoS::from_level(f.qos as u8),
                    no_local: f.nolocal,
                })
                .collect(),
        },
        v5::Packet::Unsubscribe(u) => Inbound::Unsubscribe {
            pkid: u.pkid,
            filters: u.filters,
        },
        v5::Packet::PingReq(_) => Inbound::PingReq,
        v5::Packet::Disconnect(_) => Inbound::Disconnect,
        v5::Packet::Auth(_)
        | v5::Packet::ConnAck(_)
        | v5::Packet::SubAck(_)
        | v5::Packet::UnsubAck(_)
        | v5::Packet::PingResp(_) => Inbound::Unexpected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_level_from_connect_bytes() {
        let mut v4b = BytesMut::new();
        v4::Packet::Connect(v4::Connect::new("c"))
            .write(&mut v4b, 1 << 20)
            .unwrap();
        assert_eq!(detect_version(&v4b).unwrap(), Some(Version::V4));
        assert_eq!(detect_version(&v4b[..5]).unwrap(), None);
        let c5 = v5::Connect {
            keep_alive: 30,
            client_id: "c".into(),
            clean_start: true,
            properties: None,
        };
        let mut v5b = BytesMut::new();
        v5::Packet::Connect(c5, None, None)
            .write(&mut v5b, None)
            .unwrap();
        assert_eq!(detect_version(&v5b).unwrap(), Some(Version::V5));
        assert!(detect_version(&[0x30, 0]).is_err());
        let mut v3 = v4b.to_vec();
        v3[8] = 3;
        assert!(matches!(
            detect_version(&v3),
            Err(DecodeError::UnsupportedVersion(3))
        ));
    }

    /// Found by the `mqtt_codec` fuzz target: complete v5 packets whose property length is
    /// cut off were taken off the buffer and reported as incomplete, so the connection
    /// silently dropped them and waited for more.
    #[test]
    fn a_field_past_the_packet_end_is_malformed_not_incomplete() {
        let cases: [(&str, &[u8]); 3] = [
            ("UNSUBSCRIBE", &[0xA2, 0x02, 0x00, 0x01]),
            ("SUBSCRIBE", &[0x82, 0x02, 0x00, 0x01]),
            ("PUBLISH", &[0x30, 0x03, 0x00, 0x01, b'a']),
        ];
        for (name, packet) in cases {
            let mut buf = BytesMut::from(packet);
            buf.extend_from_slice(&[0xC0, 0x00]); // PINGREQ
            match decode(Version::V5, &mut buf, 1024) {
                Err(DecodeError::Malformed(m)) => {
                    assert!(m.contains("past the end"), "{name}: {m}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        // A packet that is really incomplete still waits, consuming nothing.
        let mut buf = BytesMut::from(&[0xA2u8, 0x05, 0x00, 0x01][..]);
        assert!(matches!(decode(Version::V5, &mut buf, 1024), Ok(None)));
        assert_eq!(buf.len(), 4);
    }

    #[test]
    fn v5_short_disconnect_and_partial_packets() {
        let mut buf = BytesMut::from(&[0xE0u8, 0x00][..]);
        assert!(matches!(
            decode(Version::V5, &mut buf, 1024),
            Ok(Some(Inbound::Disconnect))
        ));
        let mut buf = BytesMut::from(&[0x30u8, 0x10, 0x00][..]);
        assert!(matches!(decode(Version::V4, &mut buf, 1024), Ok(None)));
        let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0xFF, 0x7F][..]);
        assert!(matches!(
            decode(Version::V4, &mut buf, 1024),
            Err(DecodeError::TooLarge)
        ));
        let mut buf = BytesMut::from(&[0xF0u8, 0x00][..]);
        assert!(
            decode(Version::V4, &mut buf, 1024).is_err(),
            "reserved type"
        );
    }
}
