//! Users, access keys, personal access tokens and RAM policies: who may call and what each
//! caller may do.
//!
//! Every check reads the store, so a key, token or user switched off on one node is refused
//! by every node at its next request. Secrets never reach the store in the clear: access-key
//! secrets are sealed with the server key ([`crate::sealing`]), token secrets are kept as
//! SHA-256 hashes and console passwords as argon2id hashes.

use crate::sealing::ServerKey;
use crate::{CoreResult, Teams};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use ota_domain::access::{self, BUILTIN_POLICIES, Decision, Policy};
use ota_domain::{DomainError, ErrorCode, Millis};
use ota_store::{AccessKeyRow, ApiTokenRow, PolicyRow, StoreError, UserRow};
use sha2::{Digest, Sha256};

/// The user the bootstrap access key belongs to; it always holds AdministratorAccess.
pub const ADMIN_USER: &str = "admin";
/// The built-in policy giving every action on every resource.
pub const ADMINISTRATOR_ACCESS: &str = "AdministratorAccess";
/// Access keys a user may hold at once (as in RAM).
pub const MAX_KEYS_PER_USER: i64 = 2;
/// A key's last use is written again only when it is older than this or from elsewhere,
/// so a busy key does not cost a write per request.
const LAST_USED_GRANULARITY: Millis = 60_000;
/// Personal access tokens start with this, so they are recognisable in a leak scanner.
pub const TOKEN_PREFIX: &str = "otapat_";
/// Longest a personal access token may live.
pub const MAX_TOKEN_TTL: Millis = 366 * 24 * 3_600_000;
const SERVER_KEY_CHECK: &str = "server_key_check";

/// Who is calling and what their policies allow.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_name: String,
    /// The access key the request was signed with, if any.
    pub access_key_id: Option<String>,
    /// The personal access token the request carried, if any.
    pub token_id: Option<String>,
    pub policies: Vec<Policy>,
}

impl Principal {
    /// RAM's decision for `action` (e.g. `iot:CreateOTAFirmware`) on `resources` (ARNs).
    pub fn decide(&self, action: &str, resources: &[String]) -> Decision {
        access::decide(&self.policies, action, resources)
    }

    /// Whether `action` is allowed on any resource the request could name (used to hide
    /// what the caller may not do).
    pub fn may(&self, action: &str) -> bool {
        self.decide(action, &[]).allowed()
    }
}

/// An access key as a signature check sees it.
#[derive(Debug, Clone)]
pub enum KeyCheck {
    Unknown,
    /// The key or its user is switched off.
    Inactive,
    Active(ActiveKey),
}

/// An enabled key of an enabled user.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub secret: String,
    pub principal: Principal,
    last_used_at: Option<Millis>,
    last_used_from: Option<String>,
}

/// A personal access token as a request check sees it.
#[derive(Debug, Clone)]
pub enum TokenCheck {
    Unknown,
    Expired,
    Revoked,
    /// Its user is switched off.
    Inactive,
    Active(Principal),
}

/// A new access key: the secret is shown this once.
#[derive(Debug, Clone)]
pub struct NewAccessKey {
    pub key: AccessKeyRow,
    pub secret: String,
}

/// A new personal access token: the token is shown this once.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub row: ApiTokenRow,
    pub token: String,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub enabled: Option<bool>,
    /// `Some(None)` removes the console password.
    pub password: Option<Option<String>>,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn invalid(field: &str, rule: impl Into<String>) -> DomainError {
    DomainError::invalid(field, rule)
}

/// User names as RAM allows them: 1–64 of letters, digits, `.`, `_`, `-` and `@`.
pub fn validate_user_name(name: &str) -> Result<(), DomainError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "UserName",
            "must be 1-64 characters of letters, digits, '.', '_', '-' and '@'",
        ))
    }
}

/// Policy names as RAM allows them: 1–128 of letters, digits and `-`.
pub fn validate_policy_name(name: &str) -> Result<(), DomainError> {
    let ok = (1..=128).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "PolicyName",
            "must be 1-128 characters of letters, digits and '-'",
        ))
    }
}

fn validate_display_name(name: &str) -> Result<(), DomainError> {
    if (1..=128).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(invalid(
            "DisplayName",
            "must be 1-128 characters without control characters",
        ))
    }
}

fn validate_password(password: &str) -> Result<(), DomainError> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(invalid("Password", "must be 8-128 characters"))
    }
}

fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2id hashing with default parameters cannot fail")
        .to_string()
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Parses a stored policy document; a document that no longer parses gives nothing (it
/// was validated when it was stored, so this only guards against a hand-edited store).
fn parse_stored(row: &PolicyRow) -> Option<Policy> {
    match Policy::parse(&row.document) {
        Ok(policy) => Some(policy),
        Err(err) => {
            tracing::warn!(policy = %row.policy_name, %err, "stored policy does not parse; ignored");
            None
        }
    }
}

impl Teams<'_> {
    fn server_key(&self) -> &ServerKey {
        &self.config().server_key
    }

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

    fn open_secret(&self, key: &AccessKeyRow) -> CoreResult<String> {
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

    // ---- users ----

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

    // ---- access keys ----

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

    async fn policies_of(&self, user_name: &str) -> CoreResult<Vec<Policy>> {
        Ok(self
            .store()
            .attached_policies(user_name)
            .await?
            .iter()
            .filter_map(parse_stored)
            .collect())
    }

    // ---- console passwords ----

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

    // ---- personal access tokens ----

    /// Makes a personal access token for a user, valid for `ttl`.
    pub async fn create_token(
        &self,
        user_name: &str,
        name: &str,
        ttl: Millis,
    ) -> CoreResult<NewApiToken> {
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            return Err(
                invalid("Name", "must be 1-64 characters without control characters").into(),
            );
        }
        if !(60_000..=MAX_TOKEN_TTL).contains(&ttl) {
            return Err(invalid(
                "ExpiresInSeconds",
                format!("must be 60-{} seconds", MAX_TOKEN_TTL / 1000),
            )
            .into());
        }
        let (token_id, secret) = crate::ids::api_token();
        let now = self.now();
        let row = ApiTokenRow {
            token_id: token_id.clone(),
            user_name: user_name.to_owned(),
            name: name.to_owned(),
            secret_hash: sha256_hex(&secret),
            created_at: now,
            expires_at: now + ttl,
            revoked_at: None,
            last_used_at: None,
        };
        self.store()
            .insert_api_token(&row)
            .await
            .map_err(|err| not_found_as(err, || no_user(user_name)))?;
        Ok(NewApiToken {
            row,
            token: format!("{TOKEN_PREFIX}{token_id}_{secret}"),
        })
    }

    pub async fn list_tokens(&self, user_name: &str) -> CoreResult<Vec<ApiTokenRow>> {
        Ok(self.store().list_api_tokens(user_name).await?)
    }

    pub async fn get_token(&self, token_id: &str) -> CoreResult<ApiTokenRow> {
        self.store()
            .api_token(token_id)
            .await?
            .ok_or_else(|| no_token(token_id).into())
    }

    pub async fn revoke_token(&self, token_id: &str) -> CoreResult<()> {
        self.store()
            .revoke_api_token(token_id, self.now())
            .await
            .map_err(|err| not_found_as(err, || no_token(token_id)))
    }

    /// What a bearer token is worth now.
    pub async fn check_token(&self, token: &str) -> CoreResult<TokenCheck> {
        let Some((token_id, secret)) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(TokenCheck::Unknown);
        };
        let Some(row) = self.store().api_token(token_id).await? else {
            return Ok(TokenCheck::Unknown);
        };
        let given = sha256_hex(secret);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            given.as_bytes(),
            row.secret_hash.as_bytes(),
        )) {
            return Ok(TokenCheck::Unknown);
        }
        let now = self.now();
        if row.revoked_at.is_some() {
            return Ok(TokenCheck::Revoked);
        }
        if now >= row.expires_at {
            return Ok(TokenCheck::Expired);
        }
        let Some(mut principal) = self.user_principal(&row.user_name).await? else {
            return Ok(TokenCheck::Inactive);
        };
        principal.token_id = Some(row.token_id.clone());
        if row
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_GRANULARITY)
        {
            self.store().touch_api_token(&row.token_id, now).await?;
        }
        Ok(TokenCheck::Active(principal))
    }

    // ---- policies ----

    /// Adds a custom policy after checking its document.
    pub async fn create_policy(
        &self,
        policy_name: &str,
        description: &str,
        document: &str,
    ) -> CoreResult<PolicyRow> {
        validate_policy_name(policy_name)?;
        check_document(document)?;
        let row = PolicyRow {
            policy_name: policy_name.to_owned(),
            description: description.to_owned(),
            document: document.to_owned(),
            builtin: false,
            created_at: self.now(),
        };
        self.store()
            .insert_policy(&row)
            .await
            .map_err(|err| match err {
                StoreError::Conflict(_) => DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some("PolicyName"),
                    format!("policy {policy_name} already exists"),
                )
                .into(),
                other => crate::CoreError::from(other),
            })?;
        Ok(row)
    }

    /// Replaces a custom policy's document (built-in policies cannot be changed).
    pub async fn update_policy(
        &self,
        policy_name: &str,
        description: Option<&str>,
        document: &str,
    ) -> CoreResult<PolicyRow> {
        let mut row = self.get_policy(policy_name).await?;
        if row.builtin {
            return Err(invalid("PolicyName", "built-in policies cannot be changed").into());
        }
        check_document(document)?;
        row.document = document.to_owned();
        if let Some(description) = description {
            row.description = description.to_owned();
        }
        self.store().update_policy(&row).await?;
        Ok(row)
    }

    pub async fn get_policy(&self, policy_name: &str) -> CoreResult<PolicyRow> {
        self.store()
            .get_policy(policy_name)
            .await?
            .ok_or_else(|| no_policy(policy_name).into())
    }

    pub async fn list_policies(&self) -> CoreResult<Vec<PolicyRow>> {
        Ok(self.store().list_policies().await?)
    }

    /// Deletes a custom policy that is attached to nobody.
    pub async fn delete_policy(&self, policy_name: &str) -> CoreResult<()> {
        if self.get_policy(policy_name).await?.builtin {
            return Err(invalid("PolicyName", "built-in policies cannot be deleted").into());
        }
        self.store()
            .delete_policy(policy_name)
            .await
            .map_err(|err| match err {
                StoreError::Conflict(what) => DomainError::new(
                    ErrorCode::InvalidState,
                    Some("PolicyName"),
                    format!("{what}; detach it first"),
                )
                .into(),
                other => not_found_as(other, || no_policy(policy_name)),
            })
    }

    pub async fn attach_policy(&self, user_name: &str, policy_name: &str) -> CoreResult<()> {
        self.get_user(user_name).await?;
        self.get_policy(policy_name).await?;
        Ok(self
            .store()
            .attach_policy(user_name, policy_name, self.now())
            .await?)
    }

    pub async fn detach_policy(&self, user_name: &str, policy_name: &str) -> CoreResult<()> {
        if user_name == ADMIN_USER && policy_name == ADMINISTRATOR_ACCESS {
            return Err(invalid(
                "PolicyName",
                "AdministratorAccess stays attached to the admin user",
            )
            .into());
        }
        self.store()
            .detach_policy(user_name, policy_name)
            .await
            .map_err(|err| {
                not_found_as(err, || {
                    DomainError::not_found(
                        "PolicyName",
                        format!("policy {policy_name} is not attached to user {user_name}"),
                    )
                })
            })
    }

    /// The policies attached to a user.
    pub async fn attached_policies(&self, user_name: &str) -> CoreResult<Vec<PolicyRow>> {
        self.get_user(user_name).await?;
        Ok(self.store().attached_policies(user_name).await?)
    }
}

/// An argon2id hash of nothing anyone would type, checked when there is no real hash so
/// that a missing user costs the same time as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                          n4ZQyWYzZmnR3eCqGQ2IKXMZ7SQhHVObAHlC/3UGdPk";

fn check_document(document: &str) -> Result<(), DomainError> {
    Policy::parse(document)
        .map(|_| ())
        .map_err(|err| invalid(&format!("PolicyDocument.{}", err.field), err.rule))
}

fn not_found_as(err: StoreError, what: impl FnOnce() -> DomainError) -> crate::CoreError {
    match err {
        StoreError::NotFound => what().into(),
        other => other.into(),
    }
}

fn no_user(user_name: &str) -> DomainError {
    DomainError::not_found("UserName", format!("no user {user_name}"))
}

fn no_key(key_id: &str) -> DomainError {
    DomainError::not_found("AccessKeyId", format!("no access key {key_id}"))
}

fn no_token(token_id: &str) -> DomainError {
    DomainError::not_found("TokenId", format!("no token {token_id}"))
}

fn no_policy(policy_name: &str) -> DomainError {
    DomainError::not_found("PolicyName", format!("no policy {policy_name}"))
}
