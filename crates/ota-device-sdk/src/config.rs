//! What a device needs to know to connect: its certificate, the broker, and a few timings.
//!
//! The CONNECT credentials are computed by `ota-protocol`'s signer so that the SDK and the
//! gateway's verifier can never drift apart.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ota_protocol::{HmacMethod, MqttCredentials, SignRequest};

/// Connection settings of one device.
///
/// Spreading many simulated devices over the loopback: `rumqttc` cannot bind a source
/// address, so one client IP has one ephemeral port range per destination. Linux routes the
/// whole `127.0.0.0/8` to `lo`, so a server listening on `0.0.0.0` (or on several loopback
/// addresses) can be reached as `127.0.0.1`, `127.0.0.2`, …; giving each device a different
/// `mqtt_host` among those multiplies the usable source ports. `bind_ip` is honoured for HTTP
/// downloads only.
/// A device's X.509 client certificate for MQTT over TLS. `Debug` shows no key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The certificate chain, leaf first, PEM.
    pub chain_pem: Vec<u8>,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("chain_pem", &String::from_utf8_lossy(&self.chain_pem))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Product key (`pk`).
    pub product_key: String,
    /// Device name (`dn`).
    pub device_name: String,
    /// Device secret, the HMAC key of the CONNECT password.
    pub device_secret: String,
    /// Broker host name or IP address.
    pub mqtt_host: String,
    /// Broker port (plain TCP, or TLS when `tls_ca_pem` is set).
    pub mqtt_port: u16,
    /// PEM certificates of the authorities that may sign the broker's certificate. When set,
    /// MQTT runs over TLS and the broker must present a certificate for `mqtt_host` issued
    /// by one of them; HTTPS downloads trust them too, beside the system's. `None` (the
    /// default): plain TCP.
    pub tls_ca_pem: Option<Vec<u8>>,
    /// A client certificate chain and its private key (both PEM) to present on MQTT over TLS.
    /// A broker that registered the certificate's CA for the product logs the device in by
    /// it, whatever its password; the platform expects OU = ProductKey and CN = DeviceName.
    /// `None` (the default): no client certificate.
    pub tls_client_cert: Option<ClientCertificate>,
    /// `signmethod` of the CONNECT password.
    pub sign_method: HmacMethod,
    /// The client id proper; `None` means `pk&dn` (what Python linkkit sends).
    pub client_id: Option<String>,
    /// MQTT keep-alive; the platform accepts 30–1,200 s. Zero or at least one second.
    pub keep_alive: Duration,
    /// Local address for HTTP downloads (not for MQTT, see the type docs).
    pub bind_ip: Option<IpAddr>,
    /// How long [`crate::Device::connect`] waits for the first CONNACK and SUBACK.
    pub connect_timeout: Duration,
    /// How long [`crate::Device::request_firmware`] waits for `get_reply`.
    pub request_timeout: Duration,
    /// First reconnect delay; doubles per failed attempt up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest reconnect delay.
    pub max_backoff: Duration,
    /// Base64 Ed25519 public keys of the product's package-signing keys
    /// (`GET /api/v1/products/{pk}/signing-keys`). When any is set, every push must carry a
    /// manifest signed by one of them, unexpired and not older than the running version
    /// (see `crate::verify`); empty turns signature checks off.
    pub trusted_keys: Vec<String>,
    /// Tell the platform (in every version report) that this device applies `ota-delta`
    /// patches of the format this SDK decodes, so it may be sent server-generated deltas.
    /// Default: on. Turn it off for a device that cannot keep or patch its running image.
    pub apply_deltas: bool,
    /// The most memory, in bytes, this device can give to applying a delta (`None`, the
    /// default: no limit). When set, version reports tell the platform (`deltaMemory`), so
    /// it sends the full package instead of a delta needing more (a full-old patch holds
    /// the whole old image), and [`crate::Device::run_update`] refuses such a patch from
    /// its header (step -3) before installing. Set it on a device with little RAM.
    pub delta_memory_limit: Option<u64>,
}

impl DeviceConfig {
    /// A config with the defaults: `hmacsha1`, client id `pk&dn`, keep-alive 60 s, 10 s
    /// timeouts, reconnect backoff 1 s doubling to 30 s.
    pub fn new(
        product_key: impl Into<String>,
        device_name: impl Into<String>,
        device_secret: impl Into<String>,
        mqtt_host: impl Into<String>,
        mqtt_port: u16,
    ) -> Self {
        Self {
            product_key: product_key.into(),
            device_name: device_name.into(),
            device_secret: device_secret.into(),
            mqtt_host: mqtt_host.into(),
            mqtt_port,
            tls_ca_pem: None,
            tls_client_cert: None,
            sign_method: HmacMethod::HmacSha1,
            client_id: None,
            keep_alive: Duration::from_secs(60),
            bind_ip: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            trusted_keys: Vec::new(),
            apply_deltas: true,
            delta_memory_limit: None,
        }
    }

    /// The client id proper: the configured one, or `pk&dn`.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("{}&{}", self.product_key, self.device_name))
    }

    /// The CONNECT client id, username and password for `timestamp_ms`, announcing
    /// `securemode=3` (plain TCP).
    pub fn credentials(&self, timestamp_ms: u64) -> MqttCredentials {
        let client_id = self.client_id();
        let timestamp = timestamp_ms.to_string();
        SignRequest {
            product_key: &self.product_key,
            device_name: &self.device_name,
            device_secret: &self.device_secret,
            client_id: &client_id,
            timestamp: Some(&timestamp),
            method: self.sign_method,
            secure_mode: 3,
        }
        .sign()
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_client_id_is_linkkit_style() {
        let c = DeviceConfig::new("pk", "dn", "s", "127.0.0.1", 1883);
        assert_eq!(c.client_id(), "pk&dn");
        let creds = c.credentials(5);
        assert_eq!(creds.username, "dn&pk");
        assert_eq!(
            creds.client_id,
            "pk&dn|securemode=3,signmethod=hmacsha1,timestamp=5|"
        );
    }
}
