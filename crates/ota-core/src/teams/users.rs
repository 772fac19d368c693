//! Users: adding, reading, changing and removing them, and the principal a console
//! session or password check stands for.

use super::rules::{
    DUMMY_HASH, hash_password, password_matches, validate_display_name, validate_password,
    validate_user_name,
};
use super::{ADMIN_USER, Principal, UserChange, invalid, no_user, not_found_as};
use crate::{CoreResult, Teams};
use ota_domain::{DomainError, ErrorCode};
use ota_store::{StoreError, UserRow};

impl Teams<'_> {
    /// Adds a user, optionally with a console password and policies attached at once.
    pub async fn create_user(
        &self,
        user_name: &str,
        display_name: Option<&str>,
        password: Option<&str>,
    ) -> CoreResult<UserRow> {
        validate_user_name(user_name)?;
        let display_name = display_name.unwrap_or(user_name);
        validate_display_name(display_name)?;
        if let Some(password) = password {
            validate_password(password)?;
        }
        let user = UserRow {
            user_name: user_name.to_owned(),
            display_name: display_name.to_owned(),
            enabled: true,
            password_hash: password.map(hash_password),
            created_at: self.now(),
        };
        self.store()
            .insert_user(&user)
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("UserName"),
                    format!("user {user_name} already exists"),
                )
                .into(),
                other => crate::CoreError::from(other),
            })?;
        Ok(user)
    }

    pub async fn get_user(&self, user_name: &str) -> CoreResult<UserRow> {
        self.store()
            .get_user(user_name)
            .await?
            .ok_or_else(|| no_user(user_name).into())
    }

    pub async fn list_users(&self) -> CoreResult<Vec<UserRow>> {
        Ok(self.store().list_users().await?)
    }

    /// Changes a user's display name, switch or password.
    pub async fn update_user(&self, user_name: &str, change: UserChange) -> CoreResult<UserRow> {
        let mut user = self.get_user(user_name).await?;
        if let Some(name) = change.display_name {
            validate_display_name(&name)?;
            user.display_name = name;
        }
        if let Some(enabled) = change.enabled {
            if !enabled && user_name == ADMIN_USER {
                return Err(invalid("Enabled", "the admin user cannot be disabled").into());
            }
            user.enabled = enabled;
        }
        if let Some(password) = change.password {
            if let Some(password) = &password {
                validate_password(password)?;
            }
            user.password_hash = password.as_deref().map(hash_password);
        }
        self.store().update_user(&user).await?;
        Ok(user)
    }

    /// Removes a user with their keys and tokens. `admin` stays.
    pub async fn delete_user(&self, user_name: &str) -> CoreResult<()> {
        if user_name == ADMIN_USER {
            return Err(invalid("UserName", "the admin user cannot be deleted").into());
        }
        self.store()
            .delete_user(user_name)
            .await
            .map_err(|err| not_found_as(err, || no_user(user_name)))
    }

    /// The user, when `password` is theirs and they are enabled.
    pub async fn check_password(
        &self,
        user_name: &str,
        password: &str,
    ) -> CoreResult<Option<Principal>> {
        let Some(user) = self.store().get_user(user_name).await? else {
            // Spend the same time as a wrong password, so names cannot be probed.
            let _ = password_matches(password, DUMMY_HASH);
            return Ok(None);
        };
        let Some(hash) = &user.password_hash else {
            let _ = password_matches(password, DUMMY_HASH);
            return Ok(None);
        };
        if !password_matches(password, hash) || !user.enabled {
            return Ok(None);
        }
        Ok(Some(self.principal_of_user(&user).await?))
    }

    /// The principal of an enabled user (the console's session holder), or `None`.
    pub async fn user_principal(&self, user_name: &str) -> CoreResult<Option<Principal>> {
        match self.store().get_user(user_name).await? {
            Some(user) if user.enabled => Ok(Some(self.principal_of_user(&user).await?)),
            _ => Ok(None),
        }
    }

    async fn principal_of_user(&self, user: &UserRow) -> CoreResult<Principal> {
        Ok(Principal {
            user_name: user.user_name.clone(),
            access_key_id: None,
            token_id: None,
            policies: self.policies_of(&user.user_name).await?,
        })
    }
}
