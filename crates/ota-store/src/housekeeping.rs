//! Small tables: upload tokens and a key-value store for settings.

use crate::error::touched;
use crate::{Result, Store};
use ota_domain::Millis;
use sqlx::Row;

/// A one-time permission to upload a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadToken {
    pub token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    /// Largest accepted upload in bytes.
    pub max_size: i64,
    pub used: bool,
}

impl Store {
    pub async fn insert_upload_token(&self, t: &UploadToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO upload_tokens (token, created_at, expires_at, max_size, used) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&t.token)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.max_size)
        .bind(i64::from(t.used))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_upload_token(&self, token: &str) -> Result<Option<UploadToken>> {
        let row = sqlx::query(
            "SELECT token, created_at, expires_at, max_size, used FROM upload_tokens \
             WHERE token = $1",
        )
        .bind(token)
        .fetch_optional(self.pool())
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(UploadToken {
            token: r.try_get("token")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            max_size: r.try_get("max_size")?,
            used: r.try_get::<i64, _>("used")? != 0,
        }))
    }

    /// Marks a token used. Returns false if it was already used (so two uploads racing on
    /// one token cannot both win).
    pub async fn mark_upload_used(&self, token: &str) -> Result<bool> {
        let n = sqlx::query("UPDATE upload_tokens SET used = 1 WHERE token = $1 AND used = 0")
            .bind(token)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Unused tokens whose expiry has passed (their partial uploads can be collected).
    pub async fn expired_unused_uploads(&self, now: Millis) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT token FROM upload_tokens WHERE used = 0 AND expires_at <= $1 \
             ORDER BY expires_at",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("token"))
            .collect::<Result<_, _>>()?)
    }

    pub async fn delete_upload_token(&self, token: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM upload_tokens WHERE token = $1")
            .bind(token)
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    pub async fn kv_get(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM kv WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    /// Stores `candidate` under `name` unless a value is there already, then returns the
    /// stored value. Of several nodes starting at once, every one gets the first value
    /// written: for secrets generated on first start.
    pub async fn kv_get_or_insert(&self, name: &str, candidate: &str) -> Result<String> {
        sqlx::query("INSERT INTO kv (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(self.writer())
            .await?;
        // Read from the writer: on SQLite a reader connection could predate the insert.
        let row = sqlx::query("SELECT value FROM kv WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await?;
        Ok(row.try_get("value")?)
    }

    pub async fn kv_set(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO kv (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Claims the pass named `name` at `now` unless one was claimed less than `gap` ago:
    /// of several nodes asking at about the same time, one gets it. For work every node
    /// would otherwise repeat (a recovery after the broker came back).
    pub async fn claim_pass(&self, name: &str, now: Millis, gap: Millis) -> Result<bool> {
        let claimed = sqlx::query(
            "INSERT INTO kv (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value \
             WHERE CAST(kv.value AS BIGINT) <= $3 RETURNING name",
        )
        .bind(name)
        .bind(now.to_string())
        .bind(now - gap)
        .fetch_optional(self.writer())
        .await?;
        Ok(claimed.is_some())
    }

    /// Deletes the passes whose name starts with `prefix` last claimed before `before`: for
    /// passes named after something that comes and goes (a node's broker session).
    pub async fn forget_passes(&self, prefix: &str, before: Millis) -> Result<u64> {
        let done = sqlx::query(
            // Only the passes' values are numbers (other entries hold secrets): the CASE
            // keeps PostgreSQL from casting any other, whatever order it tests in.
            "DELETE FROM kv WHERE CASE WHEN substr(name, 1, length($1)) = $1 \
             THEN CAST(value AS BIGINT) < $2 ELSE 1 = 0 END",
        )
        .bind(prefix)
        .bind(before)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected())
    }

    /// Holds the lease `name` for `holder` until `now + ttl`: taken when free or lapsed,
    /// renewed when `holder` already holds it. True while `holder` holds it — for work one
    /// node of several does at a time.
    pub async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        now: Millis,
        ttl: Millis,
    ) -> Result<bool> {
        let held = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until <= $4 RETURNING name",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .fetch_optional(self.writer())
        .await?;
        Ok(held.is_some())
    }

    /// Gives up `holder`'s lease `name` (the work is done).
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
