//! The rules a caller's input is held to before it is stored: user, policy, display
//! names and passwords, and policy documents; and how console passwords are hashed and
//! checked (argon2id), and stored policy documents read back.

use super::invalid;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use ota_domain::DomainError;
use ota_domain::access::Policy;
use ota_store::PolicyRow;

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

pub(super) fn validate_display_name(name: &str) -> Result<(), DomainError> {
    if (1..=128).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(invalid(
            "DisplayName",
            "must be 1-128 characters without control characters",
        ))
    }
}

pub(super) fn validate_password(password: &str) -> Result<(), DomainError> {
    if (8..=128).contains(&password.chars().count()) {
        Ok(())
    } else {
        Err(invalid("Password", "must be 8-128 characters"))
    }
}

pub(super) fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2id hashing with default parameters cannot fail")
        .to_string()
}

pub(super) fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An argon2id hash of nothing anyone would type, checked when there is no real hash so
/// that a missing user costs the same time as a wrong password.
pub(super) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                          n4ZQyWYzZmnR3eCqGQ2IKXMZ7SQhHVObAHlC/3UGdPk";

/// Parses a stored policy document; a document that no longer parses gives nothing (it
/// was validated when it was stored, so this only guards against a hand-edited store).
pub(super) fn parse_stored(row: &PolicyRow) -> Option<Policy> {
    match Policy::parse(&row.document) {
        Ok(policy) => Some(policy),
        Err(err) => {
            tracing::warn!(policy = %row.policy_name, %err, "stored policy does not parse; ignored");
            None
        }
    }
}

pub(super) fn check_document(document: &str) -> Result<(), DomainError> {
    Policy::parse(document)
        .map(|_| ())
        .map_err(|err| invalid(&format!("PolicyDocument.{}", err.field), err.rule))
}
