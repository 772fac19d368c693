//! MQTT block download: 5 KiB blocks asked one at a time with the Link SDK's request shape,
//! a corrupted reply (CRC mismatch) resent, and the file verified as a whole.

use ota_device_sdk::{Device, SignMethod, StoredFile, UpgradeData, UpgradePush};
use ota_protocol::DeviceMessage;

use crate::support::platform::Platform;
use crate::support::{Keep, device_config, digest, package, unique_pk};

#[tokio::test]
async fn blocks_with_crc_check_and_resend() {
    let pk = unique_pk("blk");
    let platform = Platform::start(&pk).await;
    let data = package(12_345);
    {
        let mut s = platform.script();
        s.stream = Some((7, data.clone()));
        s.corrupt_next_block = true;
    }
    let device = Device::connect(device_config(&pk, "d1"), Keep::default())
        .await
        .unwrap();
    let push = UpgradePush::new(
        UpgradeData {
            size: Some(data.len() as u64),
            version: "2.0.0".into(),
            md5: Some(digest(SignMethod::Md5, &data)),
            sign: Some(digest(SignMethod::Md5, &data)),
            sign_method: SignMethod::Md5,
            d_protocol: Some("mqtt".into()),
            stream_id: Some(7),
            stream_file_id: Some(1),
            ..UpgradeData::default()
        },
        1,
    );
    platform.push("d1", &push).await;
    let got = device.next_push().await.unwrap();
    device.run_update(&got).await.unwrap();
    let files = device.handler().files.lock().unwrap().clone();
    assert_eq!(files[0].stored, StoredFile::Memory(data));

    let seen = platform.until_inform("d1", "2.0.0").await;
    let requests: Vec<_> = seen
        .iter()
        .filter_map(|s| match &s.msg {
            DeviceMessage::FileDownload(r) => Some(r.clone()),
            _ => None,
        })
        .collect();
    let blocks: Vec<_> = requests.iter().map(|r| (r.offset, r.size)).collect();
    // Block 0 twice: its first reply failed the CRC check.
    assert_eq!(blocks, [(0, 5120), (0, 5120), (5120, 5120), (10240, 2105)]);
    for r in &requests {
        assert_eq!((r.stream_id, r.file_id), (7, 1));
        assert_eq!(r.file_token.as_deref(), Some("default"));
        assert!(r.id.is_some());
    }
    let steps: Vec<i64> = seen
        .iter()
        .filter_map(|s| match &s.msg {
            DeviceMessage::Progress { step, .. } => Some(step.code()),
            _ => None,
        })
        .collect();
    assert_eq!(steps, [0, 40, 80, 100]);
}
