//! Users, access keys, personal access tokens and RAM policies: who may call and what each
//! caller may do.
//!
//! Every check reads the store, so a key, token or user switched off on one node is refused
//! by every node at its next request. Secrets never reach the store in the clear: access-key
//! secrets are sealed with the server key ([`crate::sealing`]), token secrets are kept as
//! SHA-256 hashes and console passwords as argon2id hashes.
//!
//! By file: this one (the constants and types the faces see, and the not-found errors
//! several files share), [`rules`] (names, passwords and policy documents), [`prepare`]
//! (the store at start), [`users`], [`access_keys`], [`tokens`] (personal access tokens)
//! and [`policies`] (policies and attaching them).

mod access_keys;
mod policies;
mod prepare;
mod rules;
mod tokens;
mod users;

pub use rules::{validate_policy_name, validate_user_name};

use ota_domain::access::{self, Decision, Policy};
use ota_domain::{DomainError, Millis};
use ota_store::{AccessKeyRow, ApiTokenRow, StoreError};

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

fn invalid(field: &str, rule: impl Into<String>) -> DomainError {
    DomainError::invalid(field, rule)
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
