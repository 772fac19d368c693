//! TLS on the embedded endpoints: a device that trusts the platform's certificate authority
//! connects to the MQTT-over-TLS listener, authenticates as usual and updates, beside plain
//! MQTT; with HTTPS on, download URLs are HTTPS and the whole update is encrypted. A device or
//! client that trusts another authority, or speaks plain MQTT or HTTP to a TLS port, gets
//! nowhere.

use crate::fixtures::{self, expect_push, fleet, job, package};
use crate::harness::{Server, ready_addr};
use ota_device_sdk::{Device, DeviceConfig};
use serde_json::json;
use std::time::Duration;

/// A certificate authority and a server certificate it issued for 127.0.0.1 and localhost.
pub(crate) struct Pki {
    pub(crate) ca_pem: String,
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

pub(crate) fn pki(name: &str) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} test CA"));
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, &ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        chain_pem: format!("{}{}", leaf.pem(), ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// A server whose embedded endpoint also listens for MQTT over TLS (and, with `https`, whose
/// HTTP server also listens for HTTPS); returns it with the MQTT TLS and HTTPS ports.
pub(crate) async fn with_tls(pki: &Pki, dir: &std::path::Path, https: bool) -> (Server, u16, u16) {
    let (cert, key) = (dir.join("chain.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &pki.chain_pem).unwrap();
    std::fs::write(&key, &pki.key_pem).unwrap();
    // Port 0: the server binds free ports and names them in its ready line.
    let mut env = vec![
        ("OTA_MQTT_TLS_ADDR", "127.0.0.1:0"),
        ("OTA_TLS_CERT_FILE", cert.to_str().unwrap()),
        ("OTA_TLS_KEY_FILE", key.to_str().unwrap()),
    ];
    if https {
        env.push(("OTA_HTTPS_ADDR", "127.0.0.1:0"));
    }
    let server = Server::start_with_env(&env).await;
    let mqtt_port = ready_addr(&server.ready, "mqtt_tls").port();
    let https_port = if https {
        ready_addr(&server.ready, "https").port()
    } else {
        0
    };
    (server, mqtt_port, https_port)
}

fn over_tls(
    server: &Server,
    creds: &ota_device_sdk::sim::DeviceCredentials,
    port: u16,
    ca: &str,
) -> DeviceConfig {
    let mut cfg = fixtures::config(server, creds);
    cfg.mqtt_port = port;
    cfg.tls_ca_pem = Some(ca.as_bytes().to_vec());
    cfg.connect_timeout = Duration::from_secs(3);
    cfg
}

/// A device connected over TLS (trusting `ca`) that reported 1.0.0.
async fn online_over_tls(
    server: &Server,
    creds: &ota_device_sdk::sim::DeviceCredentials,
    port: u16,
    ca: &str,
) -> fixtures::TestDevice {
    let device = Device::connect(over_tls(server, creds, port, ca), fixtures::Keep::default())
        .await
        .expect("connects over TLS");
    device.report_version(None, "1.0.0").await.unwrap();
    device
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_update_over_tls_beside_plain_mqtt() {
    let dir = tempfile::tempdir().unwrap();
    let ours = pki("platform");
    let (server, tls_port, _) = with_tls(&ours, dir.path(), false).await;
    let fleet = fleet(&server, 2).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 20_000).await;

    let secure = online_over_tls(&server, &fleet.devices[0], tls_port, &ours.ca_pem).await;
    let plain = fixtures::online(&server, &fleet.devices[1], "1.0.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);

    for device in [&secure, &plain] {
        let push = expect_push(device).await;
        device.run_update(&push).await.expect("update");
        assert_eq!(device.handler().installed.lock().unwrap()[0], pkg.bytes);
    }
    for i in 0..2 {
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
    // A pull over TLS is answered too.
    assert_eq!(secure.request_firmware(None).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_listener_refuses_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let ours = pki("platform");
    let (server, tls_port, _) = with_tls(&ours, dir.path(), false).await;
    let fleet = fleet(&server, 1).await;
    let creds = &fleet.devices[0];

    // A device that trusts another authority does not connect.
    let other = pki("impostor");
    let refused = Device::connect(
        over_tls(&server, creds, tls_port, &other.ca_pem),
        fixtures::Keep::default(),
    )
    .await;
    assert!(
        refused.is_err(),
        "a certificate from an untrusted CA was accepted"
    );

    // Plain MQTT on the TLS port gets no CONNACK.
    let mut plain_cfg = fixtures::config(&server, creds);
    plain_cfg.mqtt_port = tls_port;
    plain_cfg.connect_timeout = Duration::from_secs(2);
    let refused = Device::connect(plain_cfg, fixtures::Keep::default()).await;
    assert!(refused.is_err(), "plain MQTT was served on the TLS port");

    // TLS does not replace device authentication: a wrong secret is still refused.
    let mut wrong = over_tls(&server, creds, tls_port, &ours.ca_pem);
    wrong.device_secret = "not-the-secret".into();
    let refused = Device::connect(wrong, fixtures::Keep::default()).await;
    assert!(refused.is_err(), "a wrong secret was accepted over TLS");

    // And the right device still connects after all that.
    Device::connect(
        over_tls(&server, creds, tls_port, &ours.ca_pem),
        fixtures::Keep::default(),
    )
    .await
    .expect("connects over TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_https_on_the_whole_update_is_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let ours = pki("platform");
    let (server, tls_port, https_port) = with_tls(&ours, dir.path(), true).await;
    let base = format!("https://127.0.0.1:{https_port}");

    // Clients that trust the platform's authority get the same server over HTTPS.
    let ca = reqwest::Certificate::from_pem(ours.ca_pem.as_bytes()).unwrap();
    let trusting = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap();
    let metrics = trusting
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    // Others do not, and plain HTTP on the HTTPS port gets no answer.
    let other = reqwest::Certificate::from_pem(pki("impostor").ca_pem.as_bytes()).unwrap();
    let stranger = reqwest::Client::builder()
        .tls_certs_only([other])
        .build()
        .unwrap();
    assert!(
        stranger
            .get(format!("{base}/metrics"))
            .send()
            .await
            .is_err()
    );
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let answer = plain
        .get(format!("http://127.0.0.1:{https_port}/metrics"))
        .send()
        .await;
    assert!(
        answer.is_err() || answer.unwrap().status() != 200,
        "plain HTTP served on the HTTPS port"
    );

    // A device on MQTT over TLS gets an HTTPS download URL and updates.
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 30_000).await;
    let device = online_over_tls(&server, &fleet.devices[0], tls_port, &ours.ca_pem).await;
    fixtures::wait_reported(&server, &fleet.pk, 1).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    let push = expect_push(&device).await;
    let url = push.data.url.clone().unwrap();
    assert!(url.starts_with(&format!("{base}/dl/")), "{url}");
    device.run_update(&push).await.expect("update over HTTPS");
    assert_eq!(device.handler().installed.lock().unwrap()[0], pkg.bytes);
    server.wait_status(&id, fleet.name(0), "SUCCEEDED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_fleet_updates_over_tls_and_https() {
    use ota_device_sdk::sim::{self, SimConfig, SimStats};
    let dir = tempfile::tempdir().unwrap();
    let ours = pki("platform");
    let (server, tls_port, _) = with_tls(&ours, dir.path(), true).await;
    let fleet = fleet(&server, 20).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 8_000).await;
    let tls_addr = format!("127.0.0.1:{tls_port}").parse().unwrap();
    let mut config = SimConfig::new(fleet.devices.clone(), vec![tls_addr]);
    config.tls_ca_pem = Some(ours.ca_pem.clone().into_bytes());
    config.duration = Some(Duration::from_secs(60));
    let stats = std::sync::Arc::new(SimStats::default());
    let run = tokio::spawn(sim::run(config, stats.clone()));
    fixtures::wait_reported(&server, &fleet.pk, 20).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    server
        .wait_job(&id, "all 20 succeeded", |j| {
            crate::harness::count(j, "SUCCEEDED") == 20
        })
        .await;
    let done = run.await.unwrap().unwrap();
    assert_eq!(done.succeeded, 20, "{done:?}");
}
