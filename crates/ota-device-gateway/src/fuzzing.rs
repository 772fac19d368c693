//! Entry points for the fuzz targets in `fuzz/` — not an API. The packet decoder and the
//! connection state machine are crate-private; these two functions let a fuzzer drive them
//! exactly as the listener does, without widening what the crate exports otherwise.

use bytes::BytesMut;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::codec::{Version, decode, detect_version};
use crate::registry::Registry;
use crate::server::Shared;
use crate::{ClientStream, GatewayConfig, GatewayHandler, session};

/// What decoding a byte stream as one connection's packets gave.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Protocol level the CONNECT named (4 or 5), if it could be read.
    pub level: Option<u8>,
    /// Packets decoded before the end of the input or the first error.
    pub packets: usize,
    /// Bytes those packets took.
    pub consumed: usize,
    /// The error that ended decoding, if any.
    pub error: Option<String>,
}

/// Decodes `data` as a connection would: the protocol level from the CONNECT at its head
/// (or `level`, 4 or 5, when given), then packet after packet. Panics if a decoded packet
/// took no bytes (the connection loop would spin) or an incomplete one consumed some.
pub fn decode_stream(data: &[u8], level: Option<u8>, max_packet_size: usize) -> Decoded {
    let mut out = Decoded::default();
    let version = match level.map(|l| if l == 5 { Version::V5 } else { Version::V4 }) {
        Some(v) => v,
        None => match detect_version(data) {
            Ok(Some(v)) => v,
            Ok(None) => return out,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        },
    };
    out.level = Some(match version {
        Version::V4 => 4,
        Version::V5 => 5,
    });
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        match decode(version, &mut buf, max_packet_size) {
            Ok(Some(_)) => {
                assert!(buf.len() < before, "a decoded packet consumed no bytes");
                out.packets += 1;
                out.consumed += before - buf.len();
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "an incomplete packet consumed bytes");
                return out;
            }
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
    }
}

/// Serves every stream as an accepted connection of one fresh broker (they share its
/// sessions, so takeovers and routing between them happen), each to its end. Returns how many
/// devices the broker still counts online afterwards.
pub async fn serve_connections<H: GatewayHandler, S: ClientStream>(
    streams: Vec<S>,
    config: GatewayConfig,
    handler: Arc<H>,
) -> usize {
    let shared = Arc::new(Shared {
        registry: Registry::new(),
        config,
        shutdown: CancellationToken::new(),
    });
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut tasks = tokio::task::JoinSet::new();
    for stream in streams {
        let deadline = tokio::time::Instant::now() + shared.config.connect_timeout;
        tasks.spawn(session::serve(
            stream,
            peer,
            shared.clone(),
            handler.clone(),
            deadline,
        ));
    }
    while let Some(ended) = tasks.join_next().await {
        if let Err(e) = ended
            && e.is_panic()
        {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    shared.registry.online_count()
}

/// Whether the broker accepts `topic` in a PUBLISH.
pub fn valid_topic(topic: &str) -> bool {
    crate::filter::valid_topic(topic)
}

/// Whether the broker accepts `filter` in a SUBSCRIBE.
pub fn valid_filter(filter: &str) -> bool {
    crate::filter::valid_filter(filter)
}

/// Whether the broker delivers `topic` to a subscription with `filter`.
pub fn matches(topic: &str, filter: &str) -> bool {
    crate::filter::matches(topic, filter)
}
