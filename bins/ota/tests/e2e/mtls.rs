//! X.509 device certificates on the MQTT TLS listener (issue "Device identity", item 3): a
//! device presenting a certificate from a CA registered for its product, with OU = its
//! ProductKey and CN = its DeviceName, logs in whatever its password says; an unknown CA, a
//! subject naming another product or no device, an expired certificate, a revoked serial or
//! a disabled device is refused with "not authorized" (code 5), while password logins go on
//! on the same listener. A product may create devices on their first certificate connect.
//! CAs and revocations are the store's, so another node applies them at the next CONNECT.

use crate::fixtures::{self, failure, fleet};
use crate::harness::{Server, free_addr};
use crate::tls::{Pki, pki, with_tls};
use ota_device_sdk::{ClientCertificate, Device};
use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, Transport,
};
use serde_json::{Value, json};
use std::time::Duration;

/// A device CA an operator registers for a product.
struct DeviceCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

fn device_ca(name: &str) -> DeviceCa {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("{name} device CA"));
    let pem = params.self_signed(&key).unwrap().pem();
    DeviceCa { params, key, pem }
}

impl DeviceCa {
    /// A device certificate with subject OU = `ou`, CN = `cn`, the given serial, valid
    /// until `not_after_year`.
    fn issue(&self, ou: &str, cn: &str, serial: u64, not_after_year: i32) -> ClientCertificate {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationalUnitName, ou);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.serial_number = Some(rcgen::SerialNumber::from(serial));
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after_year, 1, 1);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let issuer = rcgen::Issuer::new(self.params.clone(), &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        ClientCertificate {
            chain_pem: cert.pem().into_bytes(),
            key_pem: key.serialize_pem().into_bytes(),
        }
    }
}

/// The CONNACK a TLS connection presenting `cert` (no username or password) gets: `Ok`
/// when accepted.
async fn connack(
    port: u16,
    platform: &Pki,
    cert: &ClientCertificate,
    client_id: &str,
) -> Result<(), ConnectionError> {
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(60));
    let client_auth = Some((cert.chain_pem.clone(), cert.key_pem.clone()));
    opts.set_transport(Transport::tls(
        platform.ca_pem.clone().into_bytes(),
        client_auth,
        None,
    ));
    let (_client, mut el) = AsyncClient::new(opts, 16);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), el.poll())
            .await
            .expect("an answer within 10 s")
        {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
}

fn not_authorized(answer: Result<(), ConnectionError>, what: &str) {
    match answer {
        Err(ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized)) => {}
        other => panic!("{what}: not refused as not authorized: {other:?}"),
    }
}

async fn register_ca(server: &Server, pk: &str, ca: &DeviceCa) -> Value {
    server
        .api
        .post(
            &format!("/products/{pk}/device-cas"),
            &json!({"certificate": ca.pem}),
        )
        .await
        .expect("register the CA")
}

async fn revoke(server: &Server, pk: &str, serial: &str) {
    server
        .api
        .post(
            &format!("/products/{pk}/revoked-certificates"),
            &json!({"serial": serial}),
        )
        .await
        .expect("revoke");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_certificate_logs_in_and_strangers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let platform = pki("platform");
    let (server, port, _) = with_tls(&platform, dir.path(), false).await;
    let fleet = fleet(&server, 2).await;
    let (pk, dn) = (fleet.pk.as_str(), fleet.name(0).to_owned());
    let ca = device_ca("factory");
    let registered = register_ca(&server, pk, &ca).await;
    assert_eq!(
        registered["ca_id"].as_str().unwrap().len(),
        64,
        "{registered}"
    );
    let cert = ca.issue(pk, &dn, 0x1001, 2100);

    // Before, the certificate does not log in: no CA of the product issued it.
    let other_product = fleet_product(&server).await;
    register_ca(&server, &other_product, &device_ca("elsewhere")).await;
    not_authorized(
        connack(
            port,
            &platform,
            &device_ca("rogue").issue(pk, &dn, 7, 2100),
            &dn,
        )
        .await,
        "a certificate from an unknown CA",
    );

    // The SDK device with the certificate and a wrong secret: the certificate wins, and
    // the session works (its version report is stored).
    let mut config = fixtures::config(&server, &fleet.devices[0]);
    config.mqtt_port = port;
    config.tls_ca_pem = Some(platform.ca_pem.clone().into_bytes());
    config.tls_client_cert = Some(cert.clone());
    config.device_secret = "not-the-secret".into();
    let device = Device::connect(config, fixtures::Keep::default())
        .await
        .expect("the certificate logs the device in");
    device.report_version(None, "1.0.0").await.unwrap();
    // A password login on the same listener, beside it.
    let mut password = fixtures::config(&server, &fleet.devices[1]);
    password.mqtt_port = port;
    password.tls_ca_pem = Some(platform.ca_pem.clone().into_bytes());
    let plain = Device::connect(password, fixtures::Keep::default())
        .await
        .expect("a password login over TLS");
    plain.report_version(None, "1.0.0").await.unwrap();
    fixtures::wait_reported(&server, pk, 2).await;

    for (what, refused) in [
        (
            "a subject naming another product",
            ca.issue(&other_product, &dn, 2, 2100),
        ),
        (
            "a subject naming no device",
            ca.issue(pk, "no-such-device", 3, 2100),
        ),
        ("an expired certificate", ca.issue(pk, &dn, 4, 2021)),
    ] {
        not_authorized(connack(port, &platform, &refused, &dn).await, what);
    }

    // Revoked by serial (typed with colons and leading zeros): refused; taken back: in.
    revoke(&server, pk, "00:10:01").await;
    not_authorized(
        connack(port, &platform, &cert, &dn).await,
        "a revoked serial",
    );
    let revoked = server
        .api
        .get(&format!("/products/{pk}/revoked-certificates"))
        .await
        .unwrap();
    assert_eq!(revoked["items"][0]["serial"], "1001", "{revoked}");
    server
        .api
        .delete(&format!("/products/{pk}/revoked-certificates/1001"))
        .await
        .unwrap();
    connack(port, &platform, &cert, &dn)
        .await
        .expect("no longer revoked");

    // Disabling the device refuses its certificate too.
    server
        .api
        .post(&format!("/products/{pk}/devices/{dn}/disable"), &json!({}))
        .await
        .unwrap();
    not_authorized(
        connack(port, &platform, &cert, &dn).await,
        "a disabled device",
    );
    server
        .api
        .post(&format!("/products/{pk}/devices/{dn}/enable"), &json!({}))
        .await
        .unwrap();
    connack(port, &platform, &cert, &dn)
        .await
        .expect("enabled again");

    // Removing the CA: its certificates log nobody in.
    let ca_id = registered["ca_id"].as_str().unwrap();
    server
        .api
        .delete(&format!("/products/{pk}/device-cas/{ca_id}"))
        .await
        .unwrap();
    not_authorized(connack(port, &platform, &cert, &dn).await, "a removed CA");
}

/// A new product without devices.
async fn fleet_product(server: &Server) -> String {
    let name = fixtures::unique("Certified");
    let product = server
        .api
        .post("/products", &json!({"name": name}))
        .await
        .expect("create product");
    product["product_key"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_may_create_devices_on_their_first_certificate_connect() {
    let dir = tempfile::tempdir().unwrap();
    let platform = pki("platform");
    let (server, port, _) = with_tls(&platform, dir.path(), false).await;
    let pk = fleet_product(&server).await;
    let ca = device_ca("factory");
    register_ca(&server, &pk, &ca).await;
    let cert = ca.issue(&pk, "made-in-factory", 9, 2100);
    let device_path = format!("/products/{pk}/devices/made-in-factory");

    // Off by default: the unknown device is refused and not created.
    not_authorized(
        connack(port, &platform, &cert, "made-in-factory").await,
        "an unknown device with auto-create off",
    );
    assert_eq!(
        failure(&server.api.get(&device_path).await.unwrap_err()).0,
        404
    );

    let product = server
        .api
        .patch(
            &format!("/products/{pk}"),
            &json!({"certificate_auto_create": true}),
        )
        .await
        .unwrap();
    assert_eq!(product["certificate_auto_create"], true, "{product}");
    connack(port, &platform, &cert, "made-in-factory")
        .await
        .expect("created on its first connect");
    let created = server
        .api
        .get(&device_path)
        .await
        .expect("the device exists");
    assert_eq!(created["device_name"], "made-in-factory", "{created}");
    // And connects again as the existing device.
    connack(port, &platform, &cert, "made-in-factory")
        .await
        .expect("connects again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cas_and_serials_are_refused_with_the_field_and_rule() {
    let server = Server::start().await;
    let pk = fleet_product(&server).await;
    let leaf = device_ca("x").issue(&pk, "dev-1", 1, 2100);
    let not_a_ca = String::from_utf8(leaf.chain_pem).unwrap();
    for (certificate, says) in [
        ("not pem".to_owned(), "PEM CERTIFICATE"),
        (not_a_ca, "basicConstraints"),
    ] {
        let err = server
            .api
            .post(
                &format!("/products/{pk}/device-cas"),
                &json!({"certificate": certificate}),
            )
            .await
            .unwrap_err();
        let (status, body) = failure(&err);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["field"], "certificate", "{body}");
        assert!(body["message"].as_str().unwrap().contains(says), "{body}");
    }
    let ca = device_ca("twice");
    register_ca(&server, &pk, &ca).await;
    let err = server
        .api
        .post(
            &format!("/products/{pk}/device-cas"),
            &json!({"certificate": ca.pem}),
        )
        .await
        .unwrap_err();
    assert_eq!(failure(&err).0, 409);
    let err = server
        .api
        .post(
            &format!("/products/{pk}/revoked-certificates"),
            &json!({"serial": "0xZZ"}),
        )
        .await
        .unwrap_err();
    let (status, body) = failure(&err);
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("serial")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_node_applies_cas_and_revocations_at_the_next_connect() {
    let dir = tempfile::tempdir().unwrap();
    let platform = pki("platform");
    let (cert_file, key_file) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &platform.chain_pem).unwrap();
    std::fs::write(&key_file, &platform.key_pem).unwrap();
    let (cert_file, key_file) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    // Both nodes put one shared address in download URLs, as behind a load balancer.
    let tls_env = [
        ("OTA_PUBLIC_URL", "http://ota.example"),
        ("OTA_MQTT_TLS_ADDR", "127.0.0.1:0"),
        ("OTA_TLS_CERT_FILE", cert_file),
        ("OTA_TLS_KEY_FILE", key_file),
    ];
    let Some(first) = Server::start_postgres_with_env(&tls_env).await else {
        return;
    };
    let second_tls = free_addr();
    let second_tls_text = second_tls.to_string();
    let second = first
        .sibling_with(&[("OTA_MQTT_TLS_ADDR", second_tls_text.as_str())])
        .await;
    let fleet = fleet(&first, 1).await;
    let (pk, dn) = (fleet.pk.as_str(), fleet.name(0).to_owned());
    let ca = device_ca("factory");
    let cert = ca.issue(pk, &dn, 0xabc, 2100);

    // Registered through the first node: the second node's listener admits the device.
    register_ca(&first, pk, &ca).await;
    connack(second_tls.port(), &platform, &cert, &dn)
        .await
        .expect("the CA registered on another node is used");
    // Revoked through the first node: the second refuses the next CONNECT.
    revoke(&first, pk, "abc").await;
    not_authorized(
        connack(second_tls.port(), &platform, &cert, &dn).await,
        "a serial revoked on another node",
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_registers_cas_revokes_serials_and_switches_auto_create() {
    use crate::cli::ota;
    let server = Server::start().await;
    let pk = fleet_product(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, device_ca("cli").pem).unwrap();
    let ca_file = ca_file.to_str().unwrap();

    let (ok, out, err) = ota(&server, &["product", "ca", "add", &pk, ca_file]);
    assert!(ok, "{err}");
    let added: Value = serde_json::from_str(&out).unwrap();
    let ca_id = added["ca_id"].as_str().unwrap().to_owned();
    let (ok, out, err) = ota(&server, &["product", "ca", "list", &pk]);
    assert!(ok && out.contains(&ca_id), "{out}{err}");
    let (ok, _, err) = ota(&server, &["product", "ca", "add", &pk, "missing.pem"]);
    assert!(!ok && err.contains("missing.pem"), "{err}");

    let (ok, _, err) = ota(&server, &["product", "revocation", "add", &pk, "0A:0B"]);
    assert!(ok, "{err}");
    let (ok, out, err) = ota(&server, &["product", "revocation", "list", &pk]);
    assert!(ok && out.contains("\"a0b\""), "{out}{err}");
    let (ok, _, err) = ota(&server, &["product", "revocation", "add", &pk, "xyz"]);
    assert!(!ok && err.contains("serial"), "{err}");
    let (ok, _, err) = ota(&server, &["product", "revocation", "remove", &pk, "0A:0B"]);
    assert!(ok, "{err}");

    let (ok, out, err) = ota(
        &server,
        &["product", "certificates", &pk, "--auto-create", "on"],
    );
    assert!(
        ok && out.contains("\"certificate_auto_create\": true"),
        "{out}{err}"
    );
    let (ok, _, err) = ota(&server, &["product", "ca", "remove", &pk, &ca_id]);
    assert!(ok, "{err}");
    let (ok, out, _) = ota(&server, &["product", "ca", "list", &pk]);
    assert!(ok && !out.contains(&ca_id), "{out}");
}
