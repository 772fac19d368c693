//! Package signing (secure update): per-product Ed25519 keys, generated on first use and
//! rotated with an overlap, and the signed manifest attached to every push (single- or multi-file).
//!
//! Why here: the push is built in the core, and the key policy (which key signs, which keys
//! devices should trust) is a service decision; the cryptography is `ota-protocol::manifest`
//! so the device SDK verifies with the very same code. Secrets stay inside this module:
//! [`SigningKeyInfo`], the only view that leaves it, has no secret.
//!
//! Cost on the hot path: a signature per push would cost ~20 µs each, so signed manifests
//! are cached per package and re-signed only when half their lifetime has passed or the
//! product's key changed. Keys are cached for [`KEY_CACHE_MS`], so a rotation made on
//! another node is picked up within that time (pushes signed with the old key meanwhile
//! still verify: the old key stays trusted during the overlap).

use crate::{CoreResult, Signing};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ota_domain::firmware::Firmware;
use ota_domain::{DomainError, Millis, ProductKey};
use ota_protocol::manifest::{self, Manifest, ManifestFile};
use ota_store::SigningKeyRow;
use rand::RngCore;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long signed metadata stays valid: a device refuses a push older than this.
pub const MANIFEST_TTL_MS: Millis = 7 * 24 * 3_600_000;
/// How long a product's active key is cached.
const KEY_CACHE_MS: Millis = 30_000;
/// Default overlap of a rotation: the old key stays trusted this long.
pub const DEFAULT_OVERLAP_MS: Millis = 7 * 24 * 3_600_000;

/// A key as operators and devices see it: public half only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyInfo {
    pub key_id: String,
    /// Base64 32-byte Ed25519 public key; give it to devices as a trusted key.
    pub public_key: String,
    pub created_at: Millis,
    /// The key that signs new pushes.
    pub active: bool,
    /// Retired keys: devices may keep trusting it until then.
    pub trusted_until: Option<Millis>,
    /// Whether devices should trust it now (active, or retired within the overlap).
    pub trusted: bool,
}

struct ActiveKey {
    key_id: String,
    secret: [u8; 32],
    loaded_at: Millis,
}

struct Signed {
    key_id: String,
    expires_at: u64,
    text: String,
    signature: String,
}

/// The in-memory caches of this module.
#[derive(Default)]
pub(crate) struct SigningCache {
    keys: Mutex<HashMap<String, Arc<ActiveKey>>>,
    signed: Mutex<HashMap<String, Arc<Signed>>>,
}

fn info(row: &SigningKeyRow, now: Millis) -> SigningKeyInfo {
    let active = row.retired_at.is_none();
    SigningKeyInfo {
        key_id: row.key_id.clone(),
        public_key: row.public_key.clone(),
        created_at: row.created_at,
        active,
        trusted_until: row.trusted_until,
        trusted: active || row.trusted_until.is_some_and(|t| t > now),
    }
}

fn new_key(product_key: &str, now: Millis) -> SigningKeyRow {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let (public_key, key_id) = manifest::public_key_of(&secret);
    SigningKeyRow {
        key_id,
        product_key: product_key.to_owned(),
        secret_key: B64.encode(secret),
        public_key,
        created_at: now,
        retired_at: None,
        trusted_until: None,
    }
}

impl Signing<'_> {
    async fn require_product(&self, product_key: &str) -> CoreResult<()> {
        let pk: ProductKey = product_key.into();
        if self.store().get_product(&pk).await?.is_none() {
            return Err(DomainError::not_found("ProductKey", "no such product").into());
        }
        Ok(())
    }

    /// The product's keys, newest first, creating the first key if there is none.
    pub async fn keys(&self, product_key: &str) -> CoreResult<Vec<SigningKeyInfo>> {
        self.require_product(product_key).await?;
        let now = self.now();
        let mut rows = self.store().signing_keys(product_key).await?;
        if !rows.iter().any(|r| r.retired_at.is_none()) {
            let key = new_key(product_key, now);
            if self.store().insert_first_signing_key(&key).await? {
                tracing::info!(product_key, key_id = %key.key_id, "created package-signing key");
            }
            rows = self.store().signing_keys(product_key).await?;
        }
        Ok(rows.iter().map(|r| info(r, now)).collect())
    }

    /// Replaces the active key with a new one; the old key stays trusted for `overlap_ms`.
    pub async fn rotate_key(
        &self,
        product_key: &str,
        overlap_ms: Millis,
    ) -> CoreResult<Vec<SigningKeyInfo>> {
        if overlap_ms < 0 {
            return Err(DomainError::invalid("OverlapSeconds", "must not be negative").into());
        }
        self.require_product(product_key).await?;
        let now = self.now();
        let key = new_key(product_key, now);
        self.store()
            .rotate_signing_key(&key, now.saturating_add(overlap_ms))
            .await?;
        self.inner
            .signing
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(product_key);
        tracing::info!(product_key, key_id = %key.key_id, "rotated package-signing key");
        self.keys(product_key).await
    }

    async fn active_key(&self, product_key: &str, now: Millis) -> CoreResult<Arc<ActiveKey>> {
        let cached = self
            .inner
            .signing
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(product_key)
            .cloned();
        if let Some(k) = cached.filter(|k| now - k.loaded_at < KEY_CACHE_MS) {
            return Ok(k);
        }
        let mut rows = self.store().signing_keys(product_key).await?;
        if !rows.iter().any(|r| r.retired_at.is_none()) {
            self.store()
                .insert_first_signing_key(&new_key(product_key, now))
                .await?;
            rows = self.store().signing_keys(product_key).await?;
        }
        let row = rows
            .iter()
            .find(|r| r.retired_at.is_none())
            .ok_or_else(|| DomainError::not_found("SigningKey", "no active key"))?;
        let secret: [u8; 32] = B64
            .decode(&row.secret_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| DomainError::invalid("SigningKey", "stored key is malformed"))?;
        let key = Arc::new(ActiveKey {
            key_id: row.key_id.clone(),
            secret,
            loaded_at: now,
        });
        self.inner
            .signing
            .keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(product_key.to_owned(), Arc::clone(&key));
        Ok(key)
    }

    /// The signed manifest of a package: (manifest text, base64 signature). A multi-file
    /// package lists every file by name with its size and SHA-256. `None` for a package
    /// without files.
    pub(crate) async fn signed_manifest(
        &self,
        firmware: &Firmware,
        now: Millis,
    ) -> CoreResult<Option<(String, String)>> {
        let Some(file) = firmware.main_file() else {
            return Ok(None);
        };
        let key = self.active_key(firmware.product_key.as_str(), now).await?;
        let now_u = now.max(0) as u64;
        // Keyed by file too: a delta variant has its own manifest.
        let id = &format!("{}:{}", firmware.firmware_id.as_str(), file.blob_key);
        let cached = self
            .inner
            .signing
            .signed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        if let Some(s) = cached
            .filter(|s| s.key_id == key.key_id && s.expires_at > now_u + MANIFEST_TTL_MS as u64 / 2)
        {
            return Ok(Some((s.text.clone(), s.signature.clone())));
        }
        let m = Manifest {
            product_key: firmware.product_key.as_str().to_owned(),
            module: firmware.module_name.clone(),
            version: firmware.dest_version.clone(),
            size: if firmware.multi_file { 0 } else { file.size },
            digest_method: "SHA256".to_owned(),
            digest: if firmware.multi_file {
                String::new()
            } else {
                file.sha256.to_ascii_lowercase()
            },
            is_diff: firmware.firmware_type == ota_domain::firmware::FirmwareType::Differential,
            src_version: firmware.src_version.clone(),
            expires_at: now_u + MANIFEST_TTL_MS as u64,
            key_id: key.key_id.clone(),
            files: if firmware.multi_file {
                firmware
                    .files
                    .iter()
                    .map(|f| ManifestFile {
                        name: f.name.clone(),
                        size: f.size,
                        digest: f.sha256.to_ascii_lowercase(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        };
        let (text, signature) = m.sign(&key.secret);
        let signed = Arc::new(Signed {
            key_id: key.key_id.clone(),
            expires_at: m.expires_at,
            text: text.clone(),
            signature: signature.clone(),
        });
        self.inner
            .signing
            .signed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_owned(), signed);
        Ok(Some((text, signature)))
    }
}
