//! The idle-connection memory budget (~10 KiB per device).

use std::time::Duration;

use crate::support::*;

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Process RSS is shared with every other test of this binary, so this one is ignored by
/// default. Run it alone:
/// `cargo test -p ota-device-gateway --test gateway idle_connection -- --ignored --nocapture`.
/// The figure includes the client side of each loopback connection, so it is an upper bound.
#[tokio::test]
#[ignore = "measures process RSS; run alone"]
async fn idle_connection_memory_is_within_budget() {
    const WARMUP: usize = 100;
    const N: usize = 3000;
    let h = Harness::start().await;
    let mut conns = Vec::with_capacity(N);
    for i in 0..WARMUP {
        conns.push(raw_connect(&h, &format!("m{i}"), 60).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    for i in WARMUP..N {
        conns.push(raw_connect(&h, &format!("m{i}"), 60).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_conn = (rss_bytes().saturating_sub(before)) / (N - WARMUP);
    eprintln!("idle connection: {per_conn} bytes of RSS each (server and client side)");
    assert_eq!(h.gateway.online_count(), N);
    assert!(per_conn < 10 * 1024, "{per_conn} bytes per idle connection");
}

/// The same budget over TLS: each idle connection also holds its rustls session (both sides
/// here). Run alone:
/// `cargo test -p ota-device-gateway --test gateway idle_tls -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measures process RSS; run alone"]
async fn idle_tls_connection_memory() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::ServerName};
    const WARMUP: usize = 100;
    const N: usize = 3000;
    let h = Harness::start().await;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let server_tls = ota_device_gateway::mqtt_tls_server_config(
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let tls_addr = h
        .gateway
        .listen_tls("127.0.0.1:0", server_tls, h.handler.clone())
        .await
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ));
    let connect = |i: usize| {
        let client = client.clone();
        async move {
            let c = creds(&format!("mtls{i}"), ota_protocol::HmacMethod::HmacSha1);
            let mut packet = rumqttc::Connect::new(c.client_id);
            packet.keep_alive = 60;
            packet.set_login(c.username, c.password);
            let mut buf = bytes::BytesMut::new();
            rumqttc::Packet::Connect(packet)
                .write(&mut buf, 1 << 20)
                .unwrap();
            let tcp = tokio::net::TcpStream::connect(tls_addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let mut s = client.connect(name, tcp).await.unwrap();
            s.write_all(&buf).await.unwrap();
            let mut ack = [0u8; 4];
            s.read_exact(&mut ack).await.unwrap();
            assert_eq!(ack, [0x20, 2, 0, 0]);
            s
        }
    };
    let mut conns = Vec::with_capacity(N);
    for i in 0..WARMUP {
        conns.push(connect(i).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes();
    for i in WARMUP..N {
        conns.push(connect(i).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let per_conn = (rss_bytes().saturating_sub(before)) / (N - WARMUP);
    eprintln!("idle TLS connection: {per_conn} bytes of RSS each (server and client side)");
    assert_eq!(h.gateway.online_count(), N);
}
