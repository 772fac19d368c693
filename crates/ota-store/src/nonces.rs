//! Single-use request nonces, shared by every node: a signed request replayed to another
//! node of the platform is refused as surely as one replayed to the same node.
//!
//! A nonce is kept until `expires_at`, when the request's timestamp would be refused anyway;
//! an expired entry may be reused (and is purged in the background).

use crate::{Result, Store};
use ota_domain::Millis;

impl Store {
    /// Records `nonce` in `scope` (e.g. an access key) until `expires_at`. True when it was
    /// unused, or its previous use expired before `now`; false for a replay. Atomic: of two
    /// nodes recording the same nonce at once, one gets false.
    pub async fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        now: Millis,
        expires_at: Millis,
    ) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO request_nonces (scope, nonce, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, nonce) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE request_nonces.expires_at <= $4",
        )
        .bind(scope)
        .bind(nonce)
        .bind(expires_at)
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Deletes nonces expired by `now`; returns how many.
    pub async fn purge_expired_nonces(&self, now: Millis) -> Result<u64> {
        Ok(
            sqlx::query("DELETE FROM request_nonces WHERE expires_at <= $1")
                .bind(now)
                .execute(self.writer())
                .await?
                .rows_affected(),
        )
    }
}
