//! `DeviceConfig::delta_memory_limit`: announced on `inform`, and a delta needing more memory
//! is refused from its header (step -3) before the installer sees it.

use ota_device_sdk::{Device, SignMethod, UpdateError};
use ota_protocol::DeviceMessage;

use crate::support::http::FileServer;
use crate::support::platform::Platform;
use crate::support::{Keep, device_config, http_push, package, unique_pk};

#[tokio::test]
async fn a_delta_over_the_memory_limit_is_refused_before_install() {
    let pk = unique_pk("mem");
    let platform = Platform::start(&pk).await;
    let old = package(60_000);
    let mut new = old.clone();
    new[1_000..1_100].fill(7);
    let patch = ota_delta::diff(&old, &new, &Default::default()).unwrap();
    let need = ota_delta::inspect(&patch[..]).unwrap().apply_need();
    let limit = need - 1;

    let mut cfg = device_config(&pk, "d1");
    cfg.delta_memory_limit = Some(limit);
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    device.report_version(None, "1.0.0").await.unwrap();
    let seen = platform.until_inform("d1", "1.0.0").await;
    match &seen.last().unwrap().msg {
        DeviceMessage::Inform {
            delta_memory,
            delta_formats,
            ..
        } => {
            assert_eq!(*delta_memory, Some(limit));
            assert!(!delta_formats.is_empty());
        }
        other => panic!("{other:?}"),
    }

    let server = FileServer::start(patch.clone(), None, false).await;
    let mut push = http_push(&server.url, &patch, SignMethod::Sha256, None);
    push.data.is_diff = true;
    let err = device.run_update(&push).await.unwrap_err();
    assert!(matches!(err, UpdateError::Install(_)), "{err:?}");
    assert_eq!(err.step(), Some(-3));
    let seen = platform.until_step("d1", -3).await;
    match &seen.last().unwrap().msg {
        DeviceMessage::Progress { desc, .. } => {
            assert!(desc.contains(&format!("needs {need} bytes")), "{desc}");
            assert!(desc.contains(&format!("limit of {limit} bytes")), "{desc}");
        }
        other => panic!("{other:?}"),
    }
    // The installer (which would touch the running image) never ran.
    assert!(device.handler().files.lock().unwrap().is_empty());
    device.close().await;
}

#[tokio::test]
async fn a_delta_within_the_limit_installs_and_no_limit_is_not_announced() {
    let pk = unique_pk("memok");
    let platform = Platform::start(&pk).await;
    let old = package(60_000);
    let mut new = old.clone();
    new[2_000..2_050].fill(3);
    let patch = ota_delta::diff(&old, &new, &Default::default()).unwrap();
    let need = ota_delta::inspect(&patch[..]).unwrap().apply_need();

    let unlimited = Device::connect(device_config(&pk, "d0"), Keep::default())
        .await
        .unwrap();
    unlimited.report_version(None, "1.0.0").await.unwrap();
    let seen = platform.until_inform("d0", "1.0.0").await;
    assert!(
        matches!(
            &seen.last().unwrap().msg,
            DeviceMessage::Inform {
                delta_memory: None,
                ..
            }
        ),
        "{seen:?}"
    );

    let mut cfg = device_config(&pk, "d1");
    cfg.delta_memory_limit = Some(need);
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    let server = FileServer::start(patch.clone(), None, false).await;
    let mut push = http_push(&server.url, &patch, SignMethod::Sha256, None);
    push.data.is_diff = true;
    assert_eq!(device.run_update(&push).await.unwrap().version, "2.0.0");
    assert_eq!(device.handler().files.lock().unwrap().len(), 1);
    unlimited.close().await;
    device.close().await;
}
