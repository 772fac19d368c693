//! MQTT over TLS: a second listener beside plain TCP (the Aliyun port 8883 convention),
//! feeding the same sessions. The handshake runs in the connection's own task under the
//! CONNECT deadline, so a slow or silent client never holds up the accept loop.

use crate::server::Shared;
use crate::{GatewayHandler, session};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tracing::debug;

/// A client connection the sessions can serve: plain TCP or TLS over TCP (and in-memory
/// pipes, for tests and fuzzing).
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Whether the stream can wait for data without a buffer to read it into
    /// ([`ClientStream::poll_read_ready`]). An idle connection on such a stream holds no
    /// read buffer: a million idle devices would otherwise hold half a GiB of them.
    const READY_WITHOUT_BUFFER: bool = false;

    /// The certificate chain the client presented in the TLS handshake (leaf first), if
    /// any. Default: none (plain TCP).
    fn client_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        None
    }

    /// Ready when data (or the end of the stream) can be read. Only called when
    /// [`ClientStream::READY_WITHOUT_BUFFER`]; the default is ready at once.
    fn poll_read_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl ClientStream for TcpStream {
    const READY_WITHOUT_BUFFER: bool = true;

    fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }
}

/// rustls keeps its own record buffer; the session's read buffer waits with it.
impl ClientStream for tokio_rustls::server::TlsStream<TcpStream> {
    fn client_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        let chain = self.get_ref().1.peer_certificates()?;
        (!chain.is_empty()).then(|| chain.to_vec())
    }
}

impl ClientStream for tokio::io::DuplexStream {}

/// A TLS server configuration from a PEM certificate chain (leaf first) and a PEM private
/// key (PKCS#8, PKCS#1 or SEC1), asking clients for no certificate (HTTPS). Errors name
/// what is wrong, never the key's bytes.
pub fn tls_server_config(cert_chain_pem: &[u8], key_pem: &[u8]) -> io::Result<Arc<ServerConfig>> {
    server_config(cert_chain_pem, key_pem, false)
}

/// Like [`tls_server_config`], for the MQTT TLS listener: clients are asked for a device
/// certificate but need not send one, so devices log in by certificate or by password
/// (checked at CONNECT against the CAs of the product the certificate names).
pub fn mqtt_tls_server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> io::Result<Arc<ServerConfig>> {
    server_config(cert_chain_pem, key_pem, true)
}

fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    device_certificates: bool,
) -> io::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(cert_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("certificate: {e}")))?;
    if chain.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "certificate: no PEM CERTIFICATE block",
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("private key: {e}")))?;
    let builder = ServerConfig::builder();
    let builder = match device_certificates {
        true => builder.with_client_cert_verifier(Arc::new(crate::client_cert::DeferredClientCert)),
        false => builder.with_no_client_auth(),
    };
    let config = builder.with_single_cert(chain, key).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("certificate and key: {e}"),
        )
    })?;
    Ok(Arc::new(config))
}

/// Runs the TLS handshake, then the MQTT session; handshake and CONNECT share one deadline.
pub(crate) async fn handshake_then_serve<H: GatewayHandler>(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Arc<H>,
) {
    let deadline = tokio::time::Instant::now() + shared.config.connect_timeout;
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(tcp));
    let tls = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        r = handshake => match r {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => return debug!(%peer, "no TLS handshake in time"),
        },
    };
    session::serve(tls, peer, shared, handler, deadline).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    #[test]
    fn a_certificate_and_its_key_make_a_config() {
        let (cert, key) = self_signed();
        tls_server_config(cert.as_bytes(), key.as_bytes()).unwrap();
    }

    #[test]
    fn bad_pem_is_refused_with_what_is_wrong() {
        let (cert, key) = self_signed();
        let (_, other_key) = self_signed();
        for (cert, key, says) in [
            ("", key.as_str(), "no PEM CERTIFICATE block"),
            (cert.as_str(), "not a key", "private key"),
            (key.as_str(), key.as_str(), "no PEM CERTIFICATE block"),
            (cert.as_str(), other_key.as_str(), "certificate and key"),
        ] {
            let err = tls_server_config(cert.as_bytes(), key.as_bytes()).unwrap_err();
            assert!(err.to_string().contains(says), "{says}: {err}");
            assert!(!err.to_string().contains("PRIVATE KEY-----"), "{err}");
        }
    }
}
