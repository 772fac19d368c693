//! Preparing the store when a node starts: the server key check, the built-in policies,
//! the `admin` user, sealing secrets an older version kept in the clear, and the
//! bootstrap access key.

use super::{ADMIN_USER, ADMINISTRATOR_ACCESS};
use crate::sealing::ServerKey;
use crate::{CoreResult, Teams};
use ota_domain::access::BUILTIN_POLICIES;
use ota_domain::{DomainError, ErrorCode};
use ota_store::{AccessKeyRow, PolicyRow, StoreError, UserRow};

const SERVER_KEY_CHECK: &str = "server_key_check";

impl Teams<'_> {
    /// Prepares the store at start: refuses a server key other than the one the store's
    /// secrets are sealed with, writes the built-in policies, makes the `admin` user,
    /// seals secrets an older version kept in the clear, and installs the bootstrap key
    /// (`bootstrap`: from the environment). With no bootstrap key and no key at all, one
    /// is generated and returned, to be shown once.
    pub async fn prepare(
        &self,
        bootstrap: Option<(&str, &str)>,
    ) -> CoreResult<Option<(String, String)>> {
        let check = self.server_key().check_value();
        let stored = self
            .store()
            .kv_get_or_insert(SERVER_KEY_CHECK, &check)
            .await?;
        if stored != check {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("server_key_file"),
                "this server key is not the one the store's secrets are sealed with; give \
                 every node the same server key file",
            )
            .into());
        }
        let now = self.now();
        for builtin in BUILTIN_POLICIES {
            self.store()
                .upsert_builtin_policy(&PolicyRow {
                    policy_name: builtin.name.to_owned(),
                    description: builtin.description.to_owned(),
                    document: builtin.document.to_owned(),
                    builtin: true,
                    created_at: now,
                })
                .await?;
        }
        let admin = UserRow {
            user_name: ADMIN_USER.to_owned(),
            display_name: "Administrator".to_owned(),
            enabled: true,
            password_hash: None,
            created_at: now,
        };
        match self.store().insert_user(&admin).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(err.into()),
        }
        self.store()
            .attach_policy(ADMIN_USER, ADMINISTRATOR_ACCESS, now)
            .await?;
        for key in self.store().list_access_keys(None).await? {
            if !ServerKey::is_sealed(&key.sealed_secret) || key.user_name.is_empty() {
                let secret = self.open_secret(&key)?;
                let sealed = self.server_key().seal(&key.key_id, &secret);
                self.store()
                    .reseal_access_key(&key.key_id, &sealed, ADMIN_USER)
                    .await?;
            }
        }
        match bootstrap {
            Some((id, secret)) => self.install_bootstrap_key(id, secret).await?,
            None if self.store().list_access_keys(None).await?.is_empty() => {
                let (id, secret) = crate::ids::bootstrap_access_key();
                self.install_bootstrap_key(&id, &secret).await?;
                return Ok(Some((id, secret)));
            }
            None => {}
        }
        Ok(None)
    }

    async fn install_bootstrap_key(&self, id: &str, secret: &str) -> CoreResult<()> {
        if let Some(existing) = self.store().access_key(id).await? {
            if self.open_secret(&existing)? != secret {
                return Err(DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("OTA_ACCESS_KEY_ID"),
                    format!(
                        "access key {id} already exists with another secret; use that secret \
                         or another key id"
                    ),
                )
                .into());
            }
            return Ok(());
        }
        let row = AccessKeyRow {
            key_id: id.to_owned(),
            user_name: ADMIN_USER.to_owned(),
            sealed_secret: self.server_key().seal(id, secret),
            enabled: true,
            created_at: self.now(),
            last_used_at: None,
            last_used_from: None,
        };
        // The bootstrap key is not held to the per-user limit: it comes from configuration.
        match self.store().insert_access_key(&row, i64::MAX).await {
            Ok(()) => Ok(()),
            // Another node starting at the same moment installed it first.
            Err(StoreError::Conflict(_)) => match self.store().access_key(id).await? {
                Some(existing) if self.open_secret(&existing)? == secret => Ok(()),
                _ => Err(DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("OTA_ACCESS_KEY_ID"),
                    format!("access key {id} already exists with another secret"),
                )
                .into()),
            },
            Err(err) => Err(err.into()),
        }
    }
}
