//! A dynamic registration connection (`authType=register` or `regnwl` in the client id):
//! the CONNECT is signed with the ProductSecret, not a device's secret. The platform checks
//! it ([`crate::GatewayHandler::register_device`]); if it issues credentials, the CONNECT is
//! accepted, the credentials are published on `/ext/register` or `/ext/regnwl` (the Link
//! SDK reads them without subscribing), and the connection ends once the device hangs up
//! (at most [`HANG_UP_WAIT`] later). The device never joins the session registry: it is not
//! online and may do nothing else on this connection.

use bytes::{Bytes, BytesMut};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ClientStream;
use crate::GatewayHandler;
use crate::codec::{ConnectInfo, QoS, Version};
use crate::encode::{ConnAckCode, Outgoing, encode};
use crate::handshake::{HandshakeError, send_connack};
use ota_protocol::RegistrationRequest;

/// How long the device has to hang up after it was sent its credentials.
pub(crate) const HANG_UP_WAIT: Duration = Duration::from_secs(5);

/// Runs a registration connection to its end; always an `Err`: the connection is over.
pub(crate) async fn register<H: GatewayHandler>(
    stream: &mut impl ClientStream,
    version: Version,
    connect: &ConnectInfo,
    handler: &H,
    max_packet_size: usize,
) -> HandshakeError {
    let request = RegistrationRequest::from_connect(
        &connect.client_id,
        connect.username.as_deref().unwrap_or(""),
        connect.password.as_deref().unwrap_or(""),
    );
    let request = match request {
        Ok(r) => r,
        Err(_) => {
            return refuse(
                stream,
                version,
                ConnAckCode::BadCredentials,
                max_packet_size,
            )
            .await;
        }
    };
    let topic = request.reply_topic();
    let payload = match handler.register_device(request).await {
        Ok(payload) => Bytes::from(payload),
        Err(_) => {
            return refuse(stream, version, ConnAckCode::NotAuthorized, max_packet_size).await;
        }
    };
    if let Err(e) = send_connack(
        stream,
        version,
        ConnAckCode::Accepted,
        false,
        max_packet_size,
    )
    .await
    {
        return e.into();
    }
    let mut out = BytesMut::new();
    let publish = Outgoing::Publish {
        topic,
        payload: &payload,
        qos: QoS::AtMostOnce,
        pkid: 0,
    };
    if let Err(e) = encode(version, &publish, &mut out) {
        return HandshakeError::Io(std::io::Error::other(e));
    }
    if let Err(e) = stream.write_all(&out).await {
        return e.into();
    }
    let _ = stream.flush().await;
    // The device disconnects once it has read its credentials; whatever else it sends
    // meanwhile is ignored.
    let mut sink = [0u8; 256];
    let _ = tokio::time::timeout(HANG_UP_WAIT, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
    HandshakeError::Registered
}

async fn refuse(
    stream: &mut impl ClientStream,
    version: Version,
    code: ConnAckCode,
    max_packet_size: usize,
) -> HandshakeError {
    match send_connack(stream, version, code, false, max_packet_size).await {
        Ok(()) => HandshakeError::Refused(code),
        Err(e) => e.into(),
    }
}
