//! RAM policies: adding, changing, reading and deleting custom ones, attaching them to
//! users and detaching them, and the policies a user's requests are judged by.

use super::rules::{check_document, parse_stored, validate_policy_name};
use super::{ADMIN_USER, ADMINISTRATOR_ACCESS, invalid, not_found_as};
use crate::{CoreResult, Teams};
use ota_domain::access::Policy;
use ota_domain::{DomainError, ErrorCode};
use ota_store::{PolicyRow, StoreError};

impl Teams<'_> {
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

    pub(super) async fn policies_of(&self, user_name: &str) -> CoreResult<Vec<Policy>> {
        Ok(self
            .store()
            .attached_policies(user_name)
            .await?
            .iter()
            .filter_map(parse_stored)
            .collect())
    }
}

fn no_policy(policy_name: &str) -> DomainError {
    DomainError::not_found("PolicyName", format!("no policy {policy_name}"))
}
