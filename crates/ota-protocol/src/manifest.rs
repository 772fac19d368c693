//! Signed package metadata (secure update).
//!
//! Why: the `sign` digest of a push only proves the download is the file the *push* named.
//! Anyone who can alter the push (a compromised broker, a tampered package store plus its
//! database row) could also alter the digest. A manifest signed with the product's Ed25519
//! key binds the package (size, digest, version, module, delta source) to the product, and an
//! expiry stops a replay of old ("frozen") metadata; the version stops a rollback.
//!
//! On the wire the manifest travels as the exact JSON text that was signed, in
//! `data.extData._manifest`, and the signature as base64 in `data.digestsign`. Verifying the
//! received bytes (not a re-serialisation) means no canonical-JSON rules are needed on the
//! device. A key id is the first 16 hex digits of SHA-256 of the 32-byte public key, so a
//! device configured with public keys alone can pick the right one.
//!
//! Pure: no clock, no IO; `now` and the running version are arguments.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cmp::Ordering;

/// The signed description of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Product the key belongs to.
    pub product_key: String,
    /// Module name (`default` for the default module).
    pub module: String,
    /// Destination version.
    pub version: String,
    /// Size of the (single) package file in bytes; 0 for multi-file packages (see `files`).
    pub size: u64,
    /// Digest algorithm of `digest`: `SHA256` or `Md5`, as `signMethod`.
    pub digest_method: String,
    /// Lower-case hex digest of the package file; empty for multi-file packages.
    pub digest: String,
    /// Delta package.
    #[serde(default)]
    pub is_diff: bool,
    /// The version a delta applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_version: Option<String>,
    /// Milliseconds since the epoch after which the manifest is stale.
    pub expires_at: u64,
    /// Id of the signing key (see [`key_id`]).
    pub key_id: String,
    /// Every file of a multi-file package by name (then `size` is 0 and `digest` empty);
    /// empty for a single-file package.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ManifestFile>,
}

/// One file of a signed multi-file package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// `fileName` as in the push's `files[]`.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub digest: String,
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Missing, malformed or wrong signature (or unparsable manifest).
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// Signed with a key the device does not trust.
    #[error("unknown signing key {0}")]
    UnknownKey(String),
    /// The metadata has expired (stale or frozen).
    #[error("metadata expired at {expires_at} (now {now})")]
    Expired {
        /// `expiresAt` of the manifest.
        expires_at: u64,
        /// The device's clock.
        now: u64,
    },
    /// The package is older than what runs.
    #[error("rollback refused: {offered} is older than running {running}")]
    Rollback {
        /// Version of the manifest.
        offered: String,
        /// Version running on the device.
        running: String,
    },
    /// The push or the downloaded file does not match the signed manifest.
    #[error("digest mismatch: {0}")]
    DigestMismatch(String),
}

/// A public key the device trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// [`key_id`] of the key.
    pub key_id: String,
    /// The Ed25519 public key.
    pub key: VerifyingKey,
}

impl TrustedKey {
    /// Parses a base64 32-byte Ed25519 public key.
    pub fn from_base64(b64: &str) -> Result<TrustedKey, ManifestError> {
        let raw = B64
            .decode(b64.trim())
            .map_err(|e| ManifestError::BadSignature(format!("public key: {e}")))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| ManifestError::BadSignature("public key is not 32 bytes".into()))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| ManifestError::BadSignature(format!("public key: {e}")))?;
        Ok(TrustedKey {
            key_id: key_id(&bytes),
            key,
        })
    }
}

/// The id of a public key: 16 hex digits of its SHA-256.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The base64 public key and id of a 32-byte Ed25519 secret.
pub fn public_key_of(secret: &[u8; 32]) -> (String, String) {
    let public = SigningKey::from_bytes(secret).verifying_key().to_bytes();
    (B64.encode(public), key_id(&public))
}

impl Manifest {
    /// The JSON text to sign and ship.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Signs [`Manifest::to_json`] with `secret`; returns (manifest text, base64 signature).
    pub fn sign(&self, secret: &[u8; 32]) -> (String, String) {
        let text = self.to_json();
        let sig = SigningKey::from_bytes(secret).sign(text.as_bytes());
        (text, B64.encode(sig.to_bytes()))
    }
}

/// Checks `text` against the base64 `signature` with one of `trusted`, then its expiry
/// against `now_ms`, then the version against `running` (rollback). Returns the manifest.
pub fn verify(
    text: &str,
    signature: &str,
    trusted: &[TrustedKey],
    now_ms: u64,
    running: Option<&str>,
) -> Result<Manifest, ManifestError> {
    let manifest: Manifest = serde_json::from_str(text)
        .map_err(|e| ManifestError::BadSignature(format!("manifest: {e}")))?;
    let key = trusted
        .iter()
        .find(|k| k.key_id == manifest.key_id)
        .ok_or_else(|| ManifestError::UnknownKey(manifest.key_id.clone()))?;
    let raw = B64
        .decode(signature.trim())
        .map_err(|e| ManifestError::BadSignature(format!("signature: {e}")))?;
    let sig = Signature::from_slice(&raw)
        .map_err(|e| ManifestError::BadSignature(format!("signature: {e}")))?;
    key.key
        .verify_strict(text.as_bytes(), &sig)
        .map_err(|_| ManifestError::BadSignature("signature does not verify".into()))?;
    if now_ms > manifest.expires_at {
        return Err(ManifestError::Expired {
            expires_at: manifest.expires_at,
            now: now_ms,
        });
    }
    if let Some(running) = running
        && compare_versions(&manifest.version, running) == Ordering::Less
    {
        return Err(ManifestError::Rollback {
            offered: manifest.version.clone(),
            running: running.to_owned(),
        });
    }
    Ok(manifest)
}

impl Manifest {
    /// Checks that a file's size and digest (in `method`, hex) are the signed ones.
    pub fn check_file(&self, size: u64, method: &str, digest: &str) -> Result<(), ManifestError> {
        if !self.digest_method.eq_ignore_ascii_case(method) {
            return Err(ManifestError::DigestMismatch(format!(
                "signed digest is {}, file checked with {method}",
                self.digest_method
            )));
        }
        if self.size != 0 && self.size != size {
            return Err(ManifestError::DigestMismatch(format!(
                "signed size {} but got {size} bytes",
                self.size
            )));
        }
        if !self.digest.eq_ignore_ascii_case(digest) {
            return Err(ManifestError::DigestMismatch(format!(
                "signed {} but got {digest}",
                self.digest
            )));
        }
        Ok(())
    }
}

/// Orders versions by their runs of digits as numbers and the rest as text, so `1.10`
/// is newer than `1.9` and `v2` newer than `v1`.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
