//! `run_update` end to end: push → download → progress → version, and each failure step.

use std::time::Duration;

use ota_device_sdk::{
    Device, InstallError, SdkError, SignMethod, StoredFile, UpdateError, UpgradeData, UpgradePush,
};
use ota_protocol::{DeviceMessage, FileEntry};

use crate::support::http::FileServer;
use crate::support::platform::{Platform, Seen};
use crate::support::{Keep, device_config, digest, http_push, package, unique_pk};

fn steps(seen: &[Seen]) -> Vec<i64> {
    seen.iter()
        .filter_map(|s| match &s.msg {
            DeviceMessage::Progress { step, .. } => Some(step.code()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn push_download_progress_then_version() {
    let pk = unique_pk("upd");
    let platform = Platform::start(&pk).await;
    let data = package(300_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    assert!(device.is_connected());
    device.report_version(Some("MCU"), "1.0.0").await.unwrap();

    let push = http_push(&server.url, &data, SignMethod::Sha256, Some("MCU"));
    platform.push("d1", &push).await;
    let got = tokio::time::timeout(Duration::from_secs(10), device.next_push())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, push);
    let outcome = device.run_update(&got).await.unwrap();
    assert_eq!(outcome.version, "2.0.0");
    let files = device.handler().files.lock().unwrap().clone();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].stored, StoredFile::Memory(data.clone()));
    assert_eq!(files[0].digest, digest(SignMethod::Sha256, &data));

    let seen = platform.until_inform("d1", "2.0.0").await;
    assert!(
        matches!(&seen[0].msg, DeviceMessage::Inform { version, module, .. }
            if version == "1.0.0" && module.as_deref() == Some("MCU"))
    );
    let steps = steps(&seen);
    assert_eq!(steps.first(), Some(&0));
    assert_eq!(steps.last(), Some(&100));
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(steps.iter().all(|s| s % 10 == 0), "{steps:?}");
    assert!(
        seen.iter().all(|s| match &s.msg {
            DeviceMessage::Progress { module, .. } | DeviceMessage::Inform { module, .. } =>
                module.as_deref() == Some("MCU"),
            _ => false,
        }),
        "{seen:?}"
    );
    device.close().await;
    assert!(!device.is_connected());
}

#[tokio::test]
async fn digest_mismatch_reports_minus_3() {
    let pk = unique_pk("dig");
    let platform = Platform::start(&pk).await;
    let data = package(50_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    let mut push = http_push(&server.url, &data, SignMethod::Md5, None);
    push.data.sign = Some(digest(SignMethod::Md5, b"something else"));
    let err = device.run_update(&push).await.unwrap_err();
    assert!(
        matches!(&err, UpdateError::Download(SdkError::DigestMismatch { .. })),
        "{err}"
    );
    assert_eq!(err.step(), Some(-3));
    let seen = platform.until_step("d1", -3).await;
    assert!(
        !seen
            .iter()
            .any(|s| matches!(s.msg, DeviceMessage::Inform { .. }))
    );
    assert!(device.handler().files.lock().unwrap().is_empty());
}

#[tokio::test]
async fn install_failure_reports_its_step() {
    let pk = unique_pk("burn");
    let platform = Platform::start(&pk).await;
    let data = package(10_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let handler = Keep {
        fail: Some(InstallError::burn("flash write error")),
        ..Keep::default()
    };
    let device = Device::connect(device_config(&pk, "d1"), handler)
        .await
        .unwrap();
    let push = http_push(&server.url, &data, SignMethod::Md5, None);
    let err = device.run_update(&push).await.unwrap_err();
    assert_eq!(err.step(), Some(-4));
    let seen = platform.until_step("d1", -4).await;
    let steps = steps(&seen);
    assert_eq!(steps.first(), Some(&0));
    assert_eq!(steps[steps.len() - 2..], [100, -4]);
    match &seen.last().unwrap().msg {
        DeviceMessage::Progress { desc, .. } => assert_eq!(desc, "flash write error"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unusable_push_reports_minus_2() {
    let pk = unique_pk("bad");
    let platform = Platform::start(&pk).await;
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    let push = UpgradePush::new(
        UpgradeData {
            version: "2.0.0".into(),
            sign: Some("00".repeat(16)),
            ..UpgradeData::default()
        },
        1,
    );
    let err = device.run_update(&push).await.unwrap_err();
    assert!(matches!(err, UpdateError::Download(SdkError::BadPush(_))));
    platform.until_step("d1", -2).await;
}

#[tokio::test]
async fn multi_file_package_downloads_every_file() {
    let pk = unique_pk("multi");
    let platform = Platform::start(&pk).await;
    let (a, b) = (package(20_000), package(7_777));
    let (sa, sb) = (
        FileServer::start(a.clone(), None, false).await,
        FileServer::start(b.clone(), None, false).await,
    );
    let dir = tempfile::tempdir().unwrap();
    let on_disk = dir.path().join("b.bin");
    let handler = Keep {
        to_disk: Some(("b".into(), on_disk.clone())),
        ..Keep::default()
    };
    let device = Device::connect(device_config(&pk, "d1"), handler)
        .await
        .unwrap();
    let entry = |name: &str, url: &str, data: &[u8]| FileEntry {
        file_name: name.into(),
        file_size: data.len() as u64,
        file_url: url.into(),
        file_sign: digest(SignMethod::Sha256, data),
        file_md5: None,
    };
    let push = UpgradePush::new(
        UpgradeData {
            version: "2.0.0".into(),
            sign_method: SignMethod::Sha256,
            files: Some(vec![entry("a", &sa.url, &a), entry("b", &sb.url, &b)]),
            ..UpgradeData::default()
        },
        1,
    );
    device.run_update(&push).await.unwrap();
    let files = device.handler().files.lock().unwrap().clone();
    assert_eq!(files.len(), 2);
    assert_eq!((files[0].name.as_str(), files[0].size), ("a", 20_000));
    assert_eq!(files[0].stored, StoredFile::Memory(a));
    assert_eq!(files[1].stored, StoredFile::Path(on_disk.clone()));
    assert_eq!(std::fs::read(&on_disk).unwrap(), b);
    let steps = steps(&platform.until_inform("d1", "2.0.0").await);
    assert_eq!(steps.first(), Some(&0));
    assert_eq!(steps.last(), Some(&100));
}
