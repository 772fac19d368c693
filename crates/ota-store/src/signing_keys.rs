//! Per-product package-signing keys. The store keeps opaque text (base64 key bytes); the
//! cryptography lives in `ota-protocol::manifest` and the policy (generate on first use,
//! rotate with an overlap) in `ota-core`.
//!
//! At most one key per product is active (`retired_at IS NULL`): creation only inserts when
//! none is, so two nodes generating at once keep the first key and re-read it.

use crate::{Result, Store};
use sqlx::Row;

/// One signing key. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub product_key: String,
    /// Base64 32-byte Ed25519 secret. Never log or return it.
    pub secret_key: String,
    /// Base64 32-byte Ed25519 public key.
    pub public_key: String,
    pub created_at: i64,
    /// When a rotation replaced it; `None` for the active key.
    pub retired_at: Option<i64>,
    /// Devices may trust a retired key until then.
    pub trusted_until: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("key_id", &self.key_id)
            .field("product_key", &self.product_key)
            .field("secret_key", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("trusted_until", &self.trusted_until)
            .finish()
    }
}

const COLS: &str =
    "key_id, product_key, secret_key, public_key, created_at, retired_at, trusted_until";

impl Store {
    /// The product's keys, newest first.
    pub async fn signing_keys(&self, product_key: &str) -> Result<Vec<SigningKeyRow>> {
        let sql = format!(
            "SELECT {COLS} FROM signing_keys WHERE product_key = $1 \
             ORDER BY created_at DESC, key_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(product_key)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SigningKeyRow {
                    key_id: r.try_get("key_id")?,
                    product_key: r.try_get("product_key")?,
                    secret_key: r.try_get("secret_key")?,
                    public_key: r.try_get("public_key")?,
                    created_at: r.try_get("created_at")?,
                    retired_at: r.try_get("retired_at")?,
                    trusted_until: r.try_get("trusted_until")?,
                })
            })
            .collect()
    }

    /// Inserts `key` as the active key unless the product already has one; true if inserted.
    pub async fn insert_first_signing_key(&self, key: &SigningKeyRow) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = insert_if_none_active(&mut tx, key).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// Retires the active key (trusted until `trusted_until`) and makes `key` active.
    pub async fn rotate_signing_key(&self, key: &SigningKeyRow, trusted_until: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, trusted_until = $2 \
             WHERE product_key = $3 AND retired_at IS NULL",
        )
        .bind(key.created_at)
        .bind(trusted_until)
        .bind(key.product_key.as_str())
        .execute(&mut *tx)
        .await?;
        insert_if_none_active(&mut tx, key).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_if_none_active(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    key: &SigningKeyRow,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO signing_keys (key_id, product_key, secret_key, public_key, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS \
         (SELECT 1 FROM signing_keys WHERE product_key = $6 AND retired_at IS NULL)",
    )
    .bind(key.key_id.as_str())
    .bind(key.product_key.as_str())
    .bind(key.secret_key.as_str())
    .bind(key.public_key.as_str())
    .bind(key.created_at)
    .bind(key.product_key.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() > 0)
}
