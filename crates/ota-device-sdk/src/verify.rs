//! Secure update on the device: check a push's signed manifest before downloading, then let
//! the download verify the file against the *signed* SHA-256 and size.
//!
//! Why before the download: an unsigned, expired (frozen) or rollback push is refused
//! without fetching anything; and rewriting the file spec from the manifest means the
//! streaming digest check that already runs during download enforces the signature, so a
//! tampered package ends as step -3 without a second pass over the file.

use ota_protocol::manifest::{self, ManifestError, TrustedKey};
use ota_protocol::{SignMethod, UpgradeData};

use crate::config::now_ms;
use crate::download::FileSpec;
use crate::{DeviceConfig, SdkError};

/// Returns `files` unchanged when the device trusts no keys; otherwise verifies the push's
/// manifest (`extData._manifest`, signature `digestsign`) and returns the files set to be
/// checked against the signed SHA-256 and size (every file of a multi-file package by name).
pub(crate) fn check_push(
    config: &DeviceConfig,
    data: &UpgradeData,
    mut files: Vec<FileSpec>,
    running: Option<&str>,
) -> Result<Vec<FileSpec>, SdkError> {
    if config.trusted_keys.is_empty() {
        return Ok(files);
    }
    let trusted = config
        .trusted_keys
        .iter()
        .map(|k| TrustedKey::from_base64(k))
        .collect::<Result<Vec<_>, _>>()?;
    let text = data.ext_data.as_ref().and_then(|e| e.manifest.as_deref());
    let (Some(text), Some(sig)) = (text, data.digestsign.as_deref()) else {
        return Err(ManifestError::BadSignature("package is not signed".into()).into());
    };
    let m = manifest::verify(text, sig, &trusted, now_ms(), running)?;
    let module = data.module.as_deref().unwrap_or("default");
    let mismatch = |what: &str| -> SdkError {
        ManifestError::DigestMismatch(format!("push {what} differs from the signed manifest"))
            .into()
    };
    if m.product_key != config.product_key {
        return Err(mismatch("product"));
    }
    if m.version != data.version {
        return Err(mismatch("version"));
    }
    if m.module != module {
        return Err(mismatch("module"));
    }
    if m.is_diff != data.is_diff {
        return Err(mismatch("isDiff"));
    }
    if !m.digest_method.eq_ignore_ascii_case("sha256") {
        return Err(mismatch("digest method"));
    }
    if !m.files.is_empty() {
        // Multi-file: every pushed file must be signed, by name, and no signed file missing.
        if files.len() != m.files.len() {
            return Err(mismatch("file list"));
        }
        for file in &mut files {
            let signed = m
                .files
                .iter()
                .find(|f| f.name == file.name)
                .ok_or_else(|| mismatch(&format!("file {}", file.name)))?;
            sign_file(file, signed.size, &signed.digest).map_err(|()| mismatch("size"))?;
        }
        return Ok(files);
    }
    let [file] = files.as_mut_slice() else {
        return Err(mismatch("file list"));
    };
    sign_file(file, m.size, &m.digest).map_err(|()| mismatch("size"))?;
    Ok(files)
}

/// Makes the download check `file` against the signed size and SHA-256.
fn sign_file(file: &mut FileSpec, size: u64, digest: &str) -> Result<(), ()> {
    if file.size.is_some_and(|s| s != size) {
        return Err(());
    }
    file.size = Some(size);
    file.sign_method = SignMethod::Sha256;
    file.digest = Some(digest.to_owned());
    Ok(())
}
