//! Personal access tokens: making, listing and revoking them, and what a bearer token is
//! worth. Only a token's SHA-256 hash is stored.

use super::{
    LAST_USED_GRANULARITY, MAX_TOKEN_TTL, NewApiToken, TOKEN_PREFIX, TokenCheck, invalid, no_user,
    not_found_as,
};
use crate::{CoreResult, Teams};
use ota_domain::{DomainError, Millis};
use ota_store::ApiTokenRow;
use sha2::{Digest, Sha256};

impl Teams<'_> {
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
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn no_token(token_id: &str) -> DomainError {
    DomainError::not_found("TokenId", format!("no token {token_id}"))
}
