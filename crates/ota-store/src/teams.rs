//! Users, their access keys and personal access tokens, and the RAM policy documents
//! attached to them.
//!
//! Everything is read from the store on each request rather than cached, so a key or user
//! disabled on one node is refused by every node sharing the store at its next request.
//! The store keeps secrets only as the core hands them in: access-key secrets sealed with
//! the server key, token secrets and passwords as hashes.

use crate::error::touched;
use crate::{Dialect, Result, Store, StoreError};
use ota_domain::Millis;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A person or a pipeline that calls the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_name: String,
    pub display_name: String,
    pub enabled: bool,
    /// argon2id PHC string; `None`: no console password.
    pub password_hash: Option<String>,
    pub created_at: Millis,
}

/// An access key of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRow {
    pub key_id: String,
    pub user_name: String,
    /// The secret, sealed with the server key.
    pub sealed_secret: String,
    pub enabled: bool,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub last_used_from: Option<String>,
}

/// A RAM policy document with its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRow {
    pub policy_name: String,
    pub description: String,
    pub document: String,
    pub builtin: bool,
    pub created_at: Millis,
}

/// A personal access token; the secret itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub token_id: String,
    pub user_name: String,
    pub name: String,
    /// Lower-case hex SHA-256 of the token's secret part.
    pub secret_hash: String,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub revoked_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
}

const USER_COLUMNS: &str = "user_name, display_name, enabled, password_hash, created_at";
const KEY_COLUMNS: &str =
    "key_id, user_name, secret, enabled, created_at, last_used_at, last_used_from";
const POLICY_COLUMNS: &str = "policy_name, description, document, builtin, created_at";
const TOKEN_COLUMNS: &str =
    "token_id, user_name, name, secret_hash, created_at, expires_at, revoked_at, last_used_at";

fn user_row(r: &AnyRow) -> Result<UserRow> {
    Ok(UserRow {
        user_name: r.try_get("user_name")?,
        display_name: r.try_get("display_name")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        password_hash: r.try_get("password_hash")?,
        created_at: r.try_get("created_at")?,
    })
}

fn key_row(r: &AnyRow) -> Result<AccessKeyRow> {
    Ok(AccessKeyRow {
        key_id: r.try_get("key_id")?,
        // Keys made before users existed are given to `admin` at start; until then they
        // have no owner.
        user_name: r
            .try_get::<Option<String>, _>("user_name")?
            .unwrap_or_default(),
        sealed_secret: r.try_get("secret")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        last_used_from: r.try_get("last_used_from")?,
    })
}

fn policy_row(r: &AnyRow) -> Result<PolicyRow> {
    Ok(PolicyRow {
        policy_name: r.try_get("policy_name")?,
        description: r.try_get("description")?,
        document: r.try_get("document")?,
        builtin: r.try_get::<i64, _>("builtin")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

fn token_row(r: &AnyRow) -> Result<ApiTokenRow> {
    Ok(ApiTokenRow {
        token_id: r.try_get("token_id")?,
        user_name: r.try_get("user_name")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

impl Store {
    // ---- users ----

    /// Adds a user; `Conflict` when the name is taken.
    pub async fn insert_user(&self, user: &UserRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (user_name, display_name, enabled, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&user.user_name)
        .bind(&user.display_name)
        .bind(i64::from(user.enabled))
        .bind(user.password_hash.as_deref())
        .bind(user.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_user(&self, user_name: &str) -> Result<Option<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE user_name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(user_row).transpose()
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(user_row).collect()
    }

    /// Changes a user's display name, switch and password; `NotFound` for no such user.
    pub async fn update_user(&self, user: &UserRow) -> Result<()> {
        let n = sqlx::query(
            "UPDATE users SET display_name = $2, enabled = $3, password_hash = $4 \
             WHERE user_name = $1",
        )
        .bind(&user.user_name)
        .bind(&user.display_name)
        .bind(i64::from(user.enabled))
        .bind(user.password_hash.as_deref())
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    /// Removes a user with its keys, tokens and policy attachments; `NotFound` for no such
    /// user.
    pub async fn delete_user(&self, user_name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for table in ["access_keys", "api_tokens", "user_policies"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE user_name = $1"
            )))
            .bind(user_name)
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query("DELETE FROM users WHERE user_name = $1")
            .bind(user_name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        touched(n)?;
        tx.commit().await?;
        Ok(())
    }

    // ---- access keys ----

    /// Adds an access key to its user, refusing with `Conflict` when the id is taken or
    /// the user already has `max_per_user` keys, and `NotFound` when there is no such
    /// user. The count and the insert are one transaction (the user's row is locked on
    /// PostgreSQL), so two concurrent creations cannot pass the limit together.
    pub async fn insert_access_key(&self, key: &AccessKeyRow, max_per_user: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let lock = match self.dialect() {
            Dialect::Sqlite => "SELECT user_name FROM users WHERE user_name = $1",
            Dialect::Postgres => "SELECT user_name FROM users WHERE user_name = $1 FOR UPDATE",
        };
        sqlx::query(lock)
            .bind(&key.user_name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM access_keys WHERE user_name = $1")
            .bind(&key.user_name)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if held >= max_per_user {
            return Err(StoreError::Conflict(format!(
                "user {} already has {held} access keys",
                key.user_name
            )));
        }
        sqlx::query(
            "INSERT INTO access_keys (key_id, user_name, secret, enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.key_id)
        .bind(&key.user_name)
        .bind(&key.sealed_secret)
        .bind(i64::from(key.enabled))
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An access key (checked on every signed request).
    pub async fn access_key(&self, key_id: &str) -> Result<Option<AccessKeyRow>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM access_keys WHERE key_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(key_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(key_row).transpose()
    }

    /// Every access key, oldest first; with `user_name`, that user's only.
    pub async fn list_access_keys(&self, user_name: Option<&str>) -> Result<Vec<AccessKeyRow>> {
        let rows = match user_name {
            Some(user) => {
                let sql = format!(
                    "SELECT {KEY_COLUMNS} FROM access_keys WHERE user_name = $1 \
                     ORDER BY created_at, key_id"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(user)
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                let sql =
                    format!("SELECT {KEY_COLUMNS} FROM access_keys ORDER BY created_at, key_id");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(key_row).collect()
    }

    /// Switches a key on or off; `NotFound` for no such key.
    pub async fn set_access_key_enabled(&self, key_id: &str, enabled: bool) -> Result<()> {
        let n = sqlx::query("UPDATE access_keys SET enabled = $2 WHERE key_id = $1")
            .bind(key_id)
            .bind(i64::from(enabled))
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// Deletes a key; `NotFound` for no such key.
    pub async fn delete_access_key(&self, key_id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM access_keys WHERE key_id = $1")
            .bind(key_id)
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// Records when and from where a key was last used.
    pub async fn touch_access_key(&self, key_id: &str, at: Millis, from: &str) -> Result<()> {
        sqlx::query(
            "UPDATE access_keys SET last_used_at = $2, last_used_from = $3 WHERE key_id = $1",
        )
        .bind(key_id)
        .bind(at)
        .bind(from)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Replaces a key's stored secret (sealing a secret kept in the clear by an older
    /// version) and, when it has none, gives it an owner.
    pub async fn reseal_access_key(
        &self,
        key_id: &str,
        sealed_secret: &str,
        owner: &str,
    ) -> Result<()> {
        let n = sqlx::query(
            "UPDATE access_keys SET secret = $2, user_name = COALESCE(user_name, $3) \
             WHERE key_id = $1",
        )
        .bind(key_id)
        .bind(sealed_secret)
        .bind(owner)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    // ---- policies ----

    /// Adds a policy; `Conflict` when the name is taken.
    pub async fn insert_policy(&self, policy: &PolicyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO policies (policy_name, description, document, builtin, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&policy.policy_name)
        .bind(&policy.description)
        .bind(&policy.document)
        .bind(i64::from(policy.builtin))
        .bind(policy.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Writes a built-in policy as the code defines it, whatever the store held.
    pub async fn upsert_builtin_policy(&self, policy: &PolicyRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO policies (policy_name, description, document, builtin, created_at) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT (policy_name) DO UPDATE SET \
             description = excluded.description, document = excluded.document, builtin = 1",
        )
        .bind(&policy.policy_name)
        .bind(&policy.description)
        .bind(&policy.document)
        .bind(policy.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_policy(&self, policy_name: &str) -> Result<Option<PolicyRow>> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies WHERE policy_name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy_name)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(policy_row).transpose()
    }

    /// Every policy: built-in ones first, then by name.
    pub async fn list_policies(&self) -> Result<Vec<PolicyRow>> {
        let sql =
            format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY builtin DESC, policy_name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(policy_row).collect()
    }

    /// Replaces a custom policy's document and description; `NotFound` for no such custom
    /// policy (built-in ones are not changed this way).
    pub async fn update_policy(&self, policy: &PolicyRow) -> Result<()> {
        let n = sqlx::query(
            "UPDATE policies SET description = $2, document = $3 \
             WHERE policy_name = $1 AND builtin = 0",
        )
        .bind(&policy.policy_name)
        .bind(&policy.description)
        .bind(&policy.document)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    /// Deletes a custom policy: `NotFound` for no such custom policy, `Conflict` while it
    /// is attached to a user (RAM's `DeleteConflict.Policy.User`).
    pub async fn delete_policy(&self, policy_name: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let attached: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM user_policies WHERE policy_name = $1")
                .bind(policy_name)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        if attached > 0 {
            return Err(StoreError::Conflict(format!(
                "policy {policy_name} is attached to {attached} users"
            )));
        }
        let n = sqlx::query("DELETE FROM policies WHERE policy_name = $1 AND builtin = 0")
            .bind(policy_name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        touched(n)?;
        tx.commit().await?;
        Ok(())
    }

    /// Attaches a policy to a user (again: no change); `NotFound` when either is missing.
    pub async fn attach_policy(
        &self,
        user_name: &str,
        policy_name: &str,
        at: Millis,
    ) -> Result<()> {
        let n = sqlx::query(
            "INSERT INTO user_policies (user_name, policy_name, attached_at) \
             SELECT u.user_name, p.policy_name, $3 FROM users u, policies p \
             WHERE u.user_name = $1 AND p.policy_name = $2 \
             ON CONFLICT (user_name, policy_name) DO NOTHING",
        )
        .bind(user_name)
        .bind(policy_name)
        .bind(at)
        .execute(self.writer())
        .await?
        .rows_affected();
        if n > 0 {
            return Ok(());
        }
        // Nothing inserted: attached already, or the user or the policy is missing.
        let attached = sqlx::query(
            "SELECT 1 AS one FROM user_policies WHERE user_name = $1 AND policy_name = $2",
        )
        .bind(user_name)
        .bind(policy_name)
        .fetch_optional(self.pool())
        .await?;
        attached.map(|_| ()).ok_or(StoreError::NotFound)
    }

    /// Detaches a policy from a user; `NotFound` when it was not attached.
    pub async fn detach_policy(&self, user_name: &str, policy_name: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM user_policies WHERE user_name = $1 AND policy_name = $2")
            .bind(user_name)
            .bind(policy_name)
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// The policies attached to a user, by name.
    pub async fn attached_policies(&self, user_name: &str) -> Result<Vec<PolicyRow>> {
        let rows = sqlx::query(
            "SELECT p.policy_name, p.description, p.document, p.builtin, p.created_at \
             FROM user_policies a JOIN policies p ON p.policy_name = a.policy_name \
             WHERE a.user_name = $1 ORDER BY p.policy_name",
        )
        .bind(user_name)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(policy_row).collect()
    }

    // ---- personal access tokens ----

    /// Adds a token; `NotFound` when its user does not exist.
    pub async fn insert_api_token(&self, token: &ApiTokenRow) -> Result<()> {
        let n = sqlx::query(
            "INSERT INTO api_tokens (token_id, user_name, name, secret_hash, created_at, \
             expires_at) SELECT $1, user_name, $3, $4, $5, $6 FROM users WHERE user_name = $2",
        )
        .bind(&token.token_id)
        .bind(&token.user_name)
        .bind(&token.name)
        .bind(&token.secret_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    pub async fn api_token(&self, token_id: &str) -> Result<Option<ApiTokenRow>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(token_row).transpose()
    }

    /// A user's tokens, newest first.
    pub async fn list_api_tokens(&self, user_name: &str) -> Result<Vec<ApiTokenRow>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_name = $1 \
             ORDER BY created_at DESC, token_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user_name)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(token_row).collect()
    }

    /// Revokes a token (the first revocation's time is kept); `NotFound` for no such token.
    pub async fn revoke_api_token(&self, token_id: &str, at: Millis) -> Result<()> {
        let n = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE token_id = $1",
        )
        .bind(token_id)
        .bind(at)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    /// Records when a token was last used.
    pub async fn touch_api_token(&self, token_id: &str, at: Millis) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE token_id = $1")
            .bind(token_id)
            .bind(at)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
