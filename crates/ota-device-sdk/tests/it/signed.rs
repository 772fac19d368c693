//! Secure update: a device that trusts signing keys installs a correctly signed package and
//! refuses (step -3, reason in `desc`) a tampered file, an unsigned push and a wrong key.

use ota_device_sdk::{
    Device, DownloadedFile, InstallError, SignMethod, UpdateError, UpdateHandler, UpgradeData,
    UpgradePush,
};
use ota_protocol::manifest::{Manifest, public_key_of};
use ota_protocol::{DeviceMessage, ExtData};

use crate::support::http::FileServer;
use crate::support::platform::Platform;
use crate::support::{Keep, device_config, digest, http_push, package, unique_pk};

const SECRET: [u8; 32] = [42; 32];
const OTHER: [u8; 32] = [43; 32];

/// `push` signed for `pk` over `signed_data` with `secret`.
fn sign(pk: &str, push: &mut UpgradePush, signed_data: &[u8], secret: &[u8; 32]) {
    sign_until(pk, push, signed_data, secret, u64::MAX / 2);
}

fn sign_until(
    pk: &str,
    push: &mut UpgradePush,
    signed_data: &[u8],
    secret: &[u8; 32],
    expires_at: u64,
) {
    let m = Manifest {
        product_key: pk.into(),
        module: "default".into(),
        version: push.data.version.clone(),
        size: signed_data.len() as u64,
        digest_method: "SHA256".into(),
        digest: digest(SignMethod::Sha256, signed_data),
        is_diff: false,
        src_version: None,
        expires_at,
        key_id: public_key_of(secret).1,
        files: Vec::new(),
    };
    let (text, sig) = m.sign(secret);
    push.data
        .ext_data
        .get_or_insert_with(ExtData::default)
        .manifest = Some(text);
    push.data.digestsign = Some(sig);
}

async fn refused(pk: &str, dn: &str, push: UpgradePush) -> String {
    let platform = Platform::start(pk).await;
    let mut cfg = device_config(pk, dn);
    cfg.trusted_keys = vec![public_key_of(&SECRET).0];
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    let err = device.run_update(&push).await.unwrap_err();
    assert_eq!(err.step(), Some(-3), "{err}");
    let seen = platform.until_step(dn, -3).await;
    assert!(device.handler().files.lock().unwrap().is_empty());
    device.close().await;
    seen.iter()
        .find_map(|s| match &s.msg {
            DeviceMessage::Progress { desc, step, .. } if step.code() == -3 => Some(desc.clone()),
            _ => None,
        })
        .filter(|_| matches!(err, UpdateError::Download(_)))
        .unwrap_or_default()
}

#[tokio::test]
async fn signed_package_installs() {
    let pk = unique_pk("sig");
    let platform = Platform::start(&pk).await;
    let data = package(40_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let mut push = http_push(&server.url, &data, SignMethod::Md5, None);
    sign(&pk, &mut push, &data, &SECRET);
    let mut cfg = device_config(&pk, "d1");
    cfg.trusted_keys = vec![public_key_of(&OTHER).0, public_key_of(&SECRET).0];
    let device = Device::connect(cfg, Keep::default()).await.unwrap();
    let outcome = device.run_update(&push).await.unwrap();
    assert_eq!(outcome.version, "2.0.0");
    // Verified against the signed SHA-256, not the push's MD5.
    let files = device.handler().files.lock().unwrap().clone();
    assert_eq!(files[0].digest, digest(SignMethod::Sha256, &data));
    platform.until_inform("d1", "2.0.0").await;
    device.close().await;
}

#[tokio::test]
async fn tampered_package_is_refused() {
    let pk = unique_pk("sigt");
    let data = package(40_000);
    let mut evil = data.clone();
    evil[1234] ^= 0xff;
    let server = FileServer::start(evil.clone(), None, false).await;
    // The attacker rewrote the push digests for the tampered file, not the manifest.
    let mut push = http_push(&server.url, &evil, SignMethod::Md5, None);
    sign(&pk, &mut push, &data, &SECRET);
    let desc = refused(&pk, "d1", push).await;
    assert!(desc.contains("digest mismatch"), "{desc}");
}

#[tokio::test]
async fn unsigned_and_wrongly_signed_pushes_are_refused() {
    let pk = unique_pk("sigu");
    let data = package(1_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let push = http_push(&server.url, &data, SignMethod::Md5, None);
    let desc = refused(&pk, "d1", push.clone()).await;
    assert!(desc.contains("not signed"), "{desc}");

    let mut wrong = push.clone();
    sign(&pk, &mut wrong, &data, &OTHER);
    let desc = refused(&pk, "d2", wrong).await;
    assert!(desc.contains("unknown signing key"), "{desc}");

    let mut forged = push;
    sign(&pk, &mut forged, &data, &SECRET);
    forged.data.version = "9.9.9".into();
    let desc = refused(&pk, "d3", forged).await;
    assert!(desc.contains("version"), "{desc}");
}

/// Runs `running`; installs whatever it is given.
struct Running(&'static str);

impl UpdateHandler for Running {
    fn running_version(&self, _: &UpgradeData) -> Option<String> {
        Some(self.0.to_owned())
    }

    async fn install(
        &self,
        data: &UpgradeData,
        _: Vec<DownloadedFile>,
    ) -> Result<String, InstallError> {
        Ok(data.version.clone())
    }
}

#[tokio::test]
async fn expired_and_rollback_pushes_are_refused() {
    let pk = unique_pk("sigx");
    let platform = Platform::start(&pk).await;
    let data = package(1_000);
    let server = FileServer::start(data.clone(), None, false).await;
    let mut cfg = device_config(&pk, "d1");
    cfg.trusted_keys = vec![public_key_of(&SECRET).0];
    let device = Device::connect(cfg, Running("3.0.0")).await.unwrap();

    // 2.0.0 is older than the running 3.0.0.
    let mut push = http_push(&server.url, &data, SignMethod::Md5, None);
    sign(&pk, &mut push, &data, &SECRET);
    let err = device.run_update(&push).await.unwrap_err();
    assert_eq!(err.step(), Some(-3));
    assert!(err.to_string().contains("rollback"), "{err}");
    platform.until_step("d1", -3).await;

    // Frozen metadata: signed correctly but expired.
    let mut push = http_push(&server.url, &data, SignMethod::Md5, None);
    push.data.version = "4.0.0".into();
    sign_until(&pk, &mut push, &data, &SECRET, 1_000);
    let err = device.run_update(&push).await.unwrap_err();
    assert_eq!(err.step(), Some(-3));
    assert!(err.to_string().contains("expired"), "{err}");

    // The same, fresh: installs.
    let mut push = http_push(&server.url, &data, SignMethod::Md5, None);
    push.data.version = "4.0.0".into();
    sign(&pk, &mut push, &data, &SECRET);
    assert_eq!(device.run_update(&push).await.unwrap().version, "4.0.0");
    device.close().await;
}
