//! OTA module parameters (CreateOTAModule / UpdateOTAModule, spec §1.2).
//!
//! Module names are unique per product *case-insensitively* (`scanner` collides with
//! `Scanner`) but are stored as given, so the newtype keeps the original spelling and
//! offers the comparison the uniqueness check needs.

use super::text::{check_chars, is_identifier_char, optional_text};
use crate::DomainError;
use crate::registry::DEFAULT_MODULE;
use serde::Serialize;
use std::fmt;

const IDENTIFIER_RULE: &str = "must be 1-64 characters of [A-Za-z0-9._-]";

/// A module name (`ModuleName`): 1–64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModuleName(String);

impl ModuleName {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        check_chars("ModuleName", value, 64, is_identifier_char, IDENTIFIER_RULE)?;
        Ok(Self(value.to_owned()))
    }

    /// The module that always exists: the whole-device firmware.
    pub fn default_module() -> Self {
        Self(DEFAULT_MODULE.to_owned())
    }

    /// Whether `other` names the same module (names compare case-insensitively).
    pub fn collides_with(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ModuleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `AliasName`: 1–64 characters of `[A-Za-z0-9._-]`.
pub fn alias_name(value: Option<String>) -> Result<Option<String>, DomainError> {
    if let Some(alias) = &value {
        check_chars("AliasName", alias, 64, is_identifier_char, IDENTIFIER_RULE)?;
    }
    Ok(value)
}

/// A module's `Desc`: at most 100 characters.
pub fn module_desc(value: Option<String>) -> Result<Option<String>, DomainError> {
    optional_text("Desc", value, super::MAX_DESC_CHARS)
}

/// Raw CreateOTAModule / UpdateOTAModule parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewModule {
    pub module_name: Option<String>,
    pub alias_name: Option<String>,
    pub desc: Option<String>,
}

/// Validated module parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub module_name: ModuleName,
    pub alias_name: Option<String>,
    pub desc: Option<String>,
}

impl NewModule {
    pub fn validate(self) -> Result<ModuleSpec, DomainError> {
        let name = self
            .module_name
            .ok_or_else(|| DomainError::invalid("ModuleName", "is required"))?;
        Ok(ModuleSpec {
            module_name: ModuleName::parse(&name)?,
            alias_name: alias_name(self.alias_name)?,
            desc: module_desc(self.desc)?,
        })
    }
}
