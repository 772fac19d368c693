//! CONNECT: protocol level detection, authentication, session attach and CONNACK.
//!
//! Credentials are checked by [`crate::auth::authenticate`]: configured admin/service
//! credentials first, then the Aliyun device-certificate signature (or a `regnwl` connection
//! token). On the TLS listener a client that presented an X.509 certificate logs in by it
//! instead ([`crate::client_cert`]). A dynamic registration CONNECT is served by
//! [`crate::registration`] and ends there. Everyone else is refused:
//! unknown device or client ⇒ "not authorized" (v4 code 5, v5 0x87), known device with a
//! wrong password or unparseable credentials ⇒ "bad user name or password" (v4 4, v5 0x86).

use crate::ClientStream;
use bytes::BytesMut;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::GatewayHandler;
use crate::auth::{self, AuthRefusal, Identity};
use crate::codec::{ConnectInfo, DecodeError, Inbound, Version, Will, decode, detect_version};
use crate::config::GatewayConfig;
use crate::conn_handle::{ConnHandle, KeepAlive, Receiver};
use crate::encode::{ConnAckCode, Outgoing, encode};
use crate::handler::ConnectionId;
use crate::registry::Principal;
use crate::server::Shared;
use ota_protocol::ConnectKind;

/// A connection that passed CONNECT.
pub(crate) struct Established {
    pub version: Version,
    pub principal: Principal,
    pub conn: Arc<ConnHandle>,
    pub rx: Receiver,
    /// Boxed: most clients set none, and every idle connection holds this field.
    pub will: Option<Box<Will>>,
    pub client_max_packet: Option<u32>,
    /// Bytes read after the CONNECT.
    pub rbuf: BytesMut,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("closed before CONNECT")]
    Eof,
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("first packet is not CONNECT")]
    NotConnect,
    #[error("refused: {0:?}")]
    Refused(ConnAckCode),
    /// A dynamic registration was served and the connection is over.
    #[error("dynamic registration served")]
    Registered,
}

async fn read_more(
    stream: &mut impl ClientStream,
    buf: &mut BytesMut,
) -> Result<(), HandshakeError> {
    if stream.read_buf(buf).await? == 0 {
        return Err(HandshakeError::Eof);
    }
    Ok(())
}

pub(crate) async fn send_connack(
    stream: &mut impl ClientStream,
    version: Version,
    code: ConnAckCode,
    session_present: bool,
    max_packet_size: usize,
) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    let max_packet_size = u32::try_from(max_packet_size).unwrap_or(u32::MAX);
    let packet = Outgoing::ConnAck {
        code,
        session_present,
        max_packet_size,
    };
    encode(version, &packet, &mut out).map_err(std::io::Error::other)?;
    stream.write_all(&out).await
}

/// Runs CONNECT to completion on `stream`.
pub(crate) async fn handshake<H: GatewayHandler>(
    stream: &mut impl ClientStream,
    shared: &Shared,
    handler: &H,
) -> Result<Established, HandshakeError> {
    let config = &shared.config;
    let max = config.max_packet_size;
    let mut rbuf = BytesMut::with_capacity(512);
    let version = loop {
        match detect_version(&rbuf) {
            Ok(Some(v)) => break v,
            Ok(None) => read_more(stream, &mut rbuf).await?,
            Err(DecodeError::UnsupportedVersion(level)) => {
                // MQTT 3.1 and unknown levels: a v3.1.1 CONNACK "unacceptable protocol
                // version" is understood by all of them.
                let code = ConnAckCode::UnsupportedVersion;
                send_connack(stream, Version::V4, code, false, max).await?;
                return Err(DecodeError::UnsupportedVersion(level).into());
            }
            Err(e) => return Err(e.into()),
        }
    };
    let connect = loop {
        match decode(version, &mut rbuf, max)? {
            Some(Inbound::Connect(c)) => break c,
            Some(_) => return Err(HandshakeError::NotConnect),
            None => read_more(stream, &mut rbuf).await?,
        }
    };

    if let ConnectKind::Registration(_) = ConnectKind::of_client_id(&connect.client_id) {
        let done = crate::registration::register(stream, version, &connect, handler, max);
        return Err(Box::pin(done).await);
    }
    let id = shared.registry.next_connection_id();
    let certificates = stream.client_certificates();
    let login = match certificates {
        Some(chain) => Box::pin(certificate_login(&chain, &connect, handler)).await,
        None => authenticate(&connect, config, handler, id).await,
    };
    let principal = match login {
        Ok(p) => p,
        Err(code) => {
            send_connack(stream, version, code, false, max).await?;
            return Err(HandshakeError::Refused(code));
        }
    };
    let capacity = match principal {
        Principal::Device(_) => config.device_queue,
        Principal::Admin(_) => config.admin_queue,
    };
    let keep_alive = KeepAlive {
        seconds: connect.keep_alive,
        now_ms: shared.registry.clock_ms(),
    };
    let (conn, rx) = ConnHandle::new(id, capacity, keep_alive);
    let session_present = shared.registry.attach(
        &principal,
        &conn,
        connect.clean_start,
        connect.persistent,
        || {
            if let Principal::Device(d) = &principal {
                handler.on_online(d, id);
            }
        },
    );
    if let Err(e) = send_connack(stream, version, ConnAckCode::Accepted, session_present, max).await
    {
        shared.registry.detach(&principal, id, || {
            if let Principal::Device(d) = &principal {
                handler.on_offline(d, id);
            }
        });
        return Err(e.into());
    }
    let ConnectInfo {
        will,
        max_packet_size,
        ..
    } = *connect;
    Ok(Established {
        version,
        principal,
        conn,
        rx,
        will: will.map(Box::new),
        client_max_packet: max_packet_size,
        rbuf,
    })
}

/// A device presenting a client certificate logs in by it whatever its username and
/// password say (the certificate wins); a refused certificate is "not authorized".
async fn certificate_login<H: GatewayHandler>(
    chain: &[tokio_rustls::rustls::pki_types::CertificateDer<'static>],
    connect: &ConnectInfo,
    handler: &H,
) -> Result<Principal, ConnAckCode> {
    if connect.client_id.is_empty() && connect.persistent {
        return Err(ConnAckCode::BadClientId);
    }
    match crate::client_cert::certificate_login(chain, handler).await {
        Ok(device) => Ok(Principal::Device(device)),
        Err(refused) => {
            tracing::info!(client_id = %connect.client_id, ?refused, "device certificate refused");
            Err(ConnAckCode::NotAuthorized)
        }
    }
}

async fn authenticate<H: GatewayHandler>(
    connect: &ConnectInfo,
    config: &GatewayConfig,
    handler: &H,
    id: ConnectionId,
) -> Result<Principal, ConnAckCode> {
    if connect.client_id.is_empty() && connect.persistent {
        // A persistent session needs a name (MQTT 3.1.1 §3.1.3.1).
        return Err(ConnAckCode::BadClientId);
    }
    let username = connect.username.as_deref().unwrap_or("");
    let password = connect.password.as_deref().unwrap_or("");
    let identity = auth::authenticate(
        &config.admins,
        handler,
        &connect.client_id,
        username,
        password,
    )
    .await
    .map_err(|refusal| match refusal {
        AuthRefusal::NotAuthorized => ConnAckCode::NotAuthorized,
        AuthRefusal::BadCredentials => ConnAckCode::BadCredentials,
    })?;
    Ok(match identity {
        Identity::Device(device) => Principal::Device(device),
        Identity::Admin if connect.client_id.is_empty() => Principal::Admin(format!("admin-{id}")),
        Identity::Admin => Principal::Admin(connect.client_id.clone()),
    })
}
