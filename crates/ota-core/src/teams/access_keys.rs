//! Access keys: making, listing, switching and deleting them, opening their sealed
//! secrets, and what a signed request's key is worth.

use super::{
    ActiveKey, KeyCheck, LAST_USED_GRANULARITY, MAX_KEYS_PER_USER, NewAccessKey, Principal,
    no_user, not_found_as,
};
use crate::sealing::ServerKey;
use crate::{CoreResult, Teams};
use ota_domain::{DomainError, ErrorCode};
use ota_store::{AccessKeyRow, StoreError};

impl Teams<'_> {
    pub(super) fn server_key(&self) -> &ServerKey {
        &self.config().server_key
    }

    pub(super) fn open_secret(&self, key: &AccessKeyRow) -> CoreResult<String> {
        if !ServerKey::is_sealed(&key.sealed_secret) {
            return Ok(key.sealed_secret.clone());
        }
        self.server_key()
            .open(&key.key_id, &key.sealed_secret)
            .map_err(|err| {
                DomainError::new(
                    ErrorCode::InvalidState,
                    Some("server_key_file"),
                    format!("access key {}: {err}", key.key_id),
                )
                .into()
            })
    }

    /// Makes an access key for a user (at most [`MAX_KEYS_PER_USER`]).
    pub async fn create_access_key(&self, user_name: &str) -> CoreResult<NewAccessKey> {
        let (key_id, secret) = crate::ids::access_key();
        let key = AccessKeyRow {
            key_id: key_id.clone(),
            user_name: user_name.to_owned(),
            sealed_secret: self.server_key().seal(&key_id, &secret),
            enabled: true,
            created_at: self.now(),
            last_used_at: None,
            last_used_from: None,
        };
        self.store()
            .insert_access_key(&key, MAX_KEYS_PER_USER)
            .await
            .map_err(|err| match err {
                StoreError::NotFound => no_user(user_name).into(),
                StoreError::Conflict(_) => DomainError::new(
                    ErrorCode::QuotaExceeded,
                    Some("UserName"),
                    format!("a user holds at most {MAX_KEYS_PER_USER} access keys"),
                )
                .into(),
                other => crate::CoreError::from(other),
            })?;
        Ok(NewAccessKey { key, secret })
    }

    /// Access keys, oldest first (secrets stay sealed); with a user, theirs only.
    pub async fn list_access_keys(&self, user_name: Option<&str>) -> CoreResult<Vec<AccessKeyRow>> {
        Ok(self.store().list_access_keys(user_name).await?)
    }

    pub async fn get_access_key(&self, key_id: &str) -> CoreResult<AccessKeyRow> {
        self.store()
            .access_key(key_id)
            .await?
            .ok_or_else(|| no_key(key_id).into())
    }

    pub async fn set_access_key_enabled(&self, key_id: &str, enabled: bool) -> CoreResult<()> {
        self.store()
            .set_access_key_enabled(key_id, enabled)
            .await
            .map_err(|err| not_found_as(err, || no_key(key_id)))
    }

    pub async fn delete_access_key(&self, key_id: &str) -> CoreResult<()> {
        self.store()
            .delete_access_key(key_id)
            .await
            .map_err(|err| not_found_as(err, || no_key(key_id)))
    }

    /// The key a request is signed with, with its secret and its user's policies.
    pub async fn signing_key(&self, key_id: &str) -> CoreResult<KeyCheck> {
        let Some(key) = self.store().access_key(key_id).await? else {
            return Ok(KeyCheck::Unknown);
        };
        let Some(user) = self.store().get_user(&key.user_name).await? else {
            return Ok(KeyCheck::Unknown);
        };
        if !key.enabled || !user.enabled {
            return Ok(KeyCheck::Inactive);
        }
        let secret = self.open_secret(&key)?;
        Ok(KeyCheck::Active(ActiveKey {
            secret,
            principal: Principal {
                user_name: user.user_name.clone(),
                access_key_id: Some(key.key_id.clone()),
                token_id: None,
                policies: self.policies_of(&user.user_name).await?,
            },
            last_used_at: key.last_used_at,
            last_used_from: key.last_used_from,
        }))
    }

    /// Records that a key signed a valid request from `source` (skipped when the stored
    /// last use is recent and from the same place).
    pub async fn key_used(&self, key: &ActiveKey, source: &str) -> CoreResult<()> {
        let now = self.now();
        let recent = key
            .last_used_at
            .is_some_and(|at| now - at < LAST_USED_GRANULARITY);
        if recent && key.last_used_from.as_deref() == Some(source) {
            return Ok(());
        }
        if let Some(key_id) = &key.principal.access_key_id {
            self.store().touch_access_key(key_id, now, source).await?;
        }
        Ok(())
    }
}

fn no_key(key_id: &str) -> DomainError {
    DomainError::not_found("AccessKeyId", format!("no access key {key_id}"))
}
