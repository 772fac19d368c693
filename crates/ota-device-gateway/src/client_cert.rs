//! X.509 device logins on the MQTT TLS listener.
//!
//! The listener asks every client for a certificate but does not require one, so password
//! logins go on beside certificate logins. Which CAs vouch for a device depends on its
//! product, which only the certificate's subject names, so the handshake accepts any chain
//! (it still verifies the client's signature, proving it holds the certificate's key:
//! [`DeferredClientCert`]) and the chain is checked at CONNECT ([`certificate_login`])
//! against the CAs registered for the product the subject names. Nothing of the check is
//! kept once CONNECT is answered.

use std::sync::{Arc, OnceLock};

use ota_domain::certificate::{self, CertificateRefusal};
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::crypto::{
    CryptoProvider, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, UnixTime};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    DigitallySignedStruct, DistinguishedName, Error as TlsError, RootCertStore, ServerConfig,
    SignatureScheme,
};

use crate::GatewayHandler;
use ota_protocol::DeviceKey;

/// The crypto provider of this process's TLS configurations.
pub(crate) fn provider() -> &'static Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| ServerConfig::builder().crypto_provider().clone())
}

/// Asks for a client certificate, does not require one, and accepts any chain whose
/// holder proves its key; the chain itself is judged at CONNECT.
#[derive(Debug)]
pub(crate) struct DeferredClientCert;

impl ClientCertVerifier for DeferredClientCert {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, TlsError> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        let algorithms = &provider().signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        let algorithms = &provider().signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why a certificate CONNECT is refused (every refusal is "not authorized"; this is for
/// the log, which never shows the certificate itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateRefused {
    /// Not an X.509 certificate.
    Unreadable,
    /// The subject names no device, or the certificate is outside its validity.
    Rule(CertificateRefusal),
    /// The product has no CA, or none of its CAs issued the chain.
    UntrustedChain,
    /// The platform refused the device (revoked serial, disabled, unknown).
    Platform(String),
}

/// The device a client certificate chain (leaf first) logs in, checked against the CAs of
/// the product its subject names and the platform's revocations and devices.
pub(crate) async fn certificate_login<H: GatewayHandler>(
    chain: &[CertificateDer<'static>],
    handler: &H,
) -> Result<DeviceKey, CertificateRefused> {
    let (leaf, intermediates) = chain.split_first().ok_or(CertificateRefused::Unreadable)?;
    let (device, serial) = read_leaf(leaf, now_ms())?;
    let authorities = handler.certificate_authorities(&device).await;
    let mut roots = RootCertStore::empty();
    for der in authorities {
        // A CA the store holds but webpki cannot use vouches for nobody.
        let _ = roots.add(CertificateDer::from(der));
    }
    if roots.is_empty() {
        return Err(CertificateRefused::UntrustedChain);
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider().clone())
        .build()
        .map_err(|_| CertificateRefused::UntrustedChain)?;
    verifier
        .verify_client_cert(leaf, intermediates, UnixTime::now())
        .map_err(|_| CertificateRefused::UntrustedChain)?;
    handler
        .admit_certificate(&device, &serial)
        .await
        .map_err(CertificateRefused::Platform)?;
    Ok(device)
}

/// The device the leaf certificate names and its serial (stored form), if it is valid at
/// `now_ms`.
fn read_leaf(leaf: &[u8], now_ms: i64) -> Result<(DeviceKey, String), CertificateRefused> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf).map_err(|_| CertificateRefused::Unreadable)?;
    let subject = cert.subject();
    let common_names: Vec<&str> = subject
        .iter_common_name()
        .map(|a| a.as_str().unwrap_or(""))
        .collect();
    let units: Vec<&str> = subject
        .iter_organizational_unit()
        .map(|a| a.as_str().unwrap_or(""))
        .collect();
    let device =
        certificate::device_of_subject(&common_names, &units).map_err(CertificateRefused::Rule)?;
    let validity = cert.validity();
    certificate::check_validity(
        validity.not_before.timestamp().saturating_mul(1000),
        validity.not_after.timestamp().saturating_mul(1000),
        now_ms,
    )
    .map_err(CertificateRefused::Rule)?;
    Ok((device, certificate::serial_of_bytes(cert.raw_serial())))
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "client_cert_tests.rs"]
mod tests;
