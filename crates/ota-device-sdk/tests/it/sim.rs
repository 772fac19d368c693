//! The simulator: 20 devices with a behaviour mix against the scripted platform, which
//! pushes the package whenever a device reports the old version (as a dynamic job would)
//! and answers pulls with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ota_device_sdk::SignMethod;
use ota_device_sdk::sim::{self, Behaviour, SimConfig, SimStats, parse_credentials_csv};

use crate::support::http::FileServer;
use crate::support::platform::Platform;
use crate::support::{broker, http_push, package, unique_pk};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_fleet_of_20_gives_expected_counts() {
    let pk = unique_pk("sim");
    let platform = Platform::start(&pk).await;
    let data = package(64 * 1024);
    let server = FileServer::start(data.clone(), None, false).await;
    let push = http_push(&server.url, &data, SignMethod::Sha256, None);
    {
        let mut s = platform.script();
        s.push_on_inform = Some(("1.0.0".into(), push.clone()));
        s.get_reply = Some(push);
    }
    let csv: String = (0..20)
        .map(|i| format!("{pk},dev{i},secret{i}\n"))
        .collect();
    let devices =
        parse_credentials_csv(&format!("productKey,deviceName,deviceSecret\n{csv}")).unwrap();
    let (host, port) = broker();
    let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
    let mut config = SimConfig::new(devices, vec![addr]);
    config.behaviour =
        "mix:40=succeed,15=fail:-2@50,10=fail:-4,10=slow:0.3,15=offline:0.5,10=wrong:9.9.9"
            .parse::<Behaviour>()
            .unwrap();
    config.connect_concurrency = 5;
    config.duration = Some(Duration::from_secs(60));

    let stats = Arc::new(SimStats::default());
    let run = tokio::spawn(sim::run(config, Arc::clone(&stats)));
    // The counters are readable while the run goes on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stats.snapshot().connected == 0 && !run.is_finished() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no device connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stats.snapshot().devices, 20);
    let snap = run.await.unwrap().unwrap();

    assert_eq!(snap.finished, 20, "{snap:?}");
    assert_eq!(snap.notified, 20, "{snap:?}");
    // 8 succeed, 2 slow and 3 offline-then-online devices also end up updated.
    assert_eq!(snap.succeeded, 13, "{snap:?}");
    assert_eq!(snap.wrong_version, 2, "{snap:?}");
    assert_eq!(snap.failed, [0, 3, 0, 2], "{snap:?}");
    assert_eq!(snap.connect_failures, 0);
    assert_eq!((snap.connected, snap.downloading), (0, 0));
    // Failing at 50% may stop early; everyone else fetched the whole package.
    assert!(snap.bytes >= 17 * data.len() as u64, "{snap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_devices_announce_their_delta_memory() {
    let pk = unique_pk("simmem");
    let platform = Platform::start(&pk).await;
    let devices = parse_credentials_csv(&format!(
        "productKey,deviceName,deviceSecret\n{pk},small0,s0\n{pk},small1,s1\n"
    ))
    .unwrap();
    let (host, port) = broker();
    let addr: SocketAddr = format!("{host}:{port}").parse().unwrap();
    let mut config = SimConfig::new(devices, vec![addr]);
    config.delta_memory_limit = Some(256 * 1024);
    config.duration = Some(Duration::from_secs(30));
    let run = tokio::spawn(sim::run(config, Arc::new(SimStats::default())));
    // The devices connect concurrently: take their version reports in whatever order.
    let mut waiting = std::collections::BTreeSet::from(["small0", "small1"]);
    while !waiting.is_empty() {
        let seen = platform.next().await;
        if let ota_protocol::DeviceMessage::Inform { delta_memory, .. } = &seen.msg {
            assert_eq!(*delta_memory, Some(256 * 1024), "{}", seen.dn);
            waiting.remove(seen.dn.as_str());
        }
    }
    run.abort();
}
