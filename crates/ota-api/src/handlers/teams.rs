//! Users, their access keys and personal access tokens, and RAM policies. Secrets are
//! shown once, in the answer that creates them; every later read shows ids only.

use crate::body::{ApiJson, ApiPath};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_core::{AccessKeyRow, ApiTokenRow, PolicyRow, UserChange, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub user_name: String,
    pub display_name: String,
    pub enabled: bool,
    /// Whether the user can sign in to the console with a password.
    pub has_password: bool,
    pub created_at: i64,
}

fn user_view(u: &UserRow) -> UserView {
    UserView {
        user_name: u.user_name.clone(),
        display_name: u.display_name.clone(),
        enabled: u.enabled,
        has_password: u.password_hash.is_some(),
        created_at: u.created_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccessKeyView {
    pub access_key_id: String,
    pub user_name: String,
    pub enabled: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Address the key last signed a request from.
    pub last_used_from: Option<String>,
}

fn key_view(k: &AccessKeyRow) -> AccessKeyView {
    AccessKeyView {
        access_key_id: k.key_id.clone(),
        user_name: k.user_name.clone(),
        enabled: k.enabled,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        last_used_from: k.last_used_from.clone(),
    }
}

/// A new access key: the secret is in this answer only.
#[derive(Serialize, ToSchema)]
pub struct NewAccessKeyView {
    pub access_key_id: String,
    pub access_key_secret: String,
    pub user_name: String,
    pub created_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub token_id: String,
    pub user_name: String,
    pub name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

fn token_view(t: &ApiTokenRow) -> TokenView {
    TokenView {
        token_id: t.token_id.clone(),
        user_name: t.user_name.clone(),
        name: t.name.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        last_used_at: t.last_used_at,
    }
}

/// A new personal access token: `token` (for `Authorization: Bearer …`) is in this answer
/// only.
#[derive(Serialize, ToSchema)]
pub struct NewTokenView {
    #[serde(flatten)]
    pub info: TokenView,
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct PolicyView {
    pub policy_name: String,
    pub description: String,
    /// The RAM policy document.
    #[schema(value_type = Object)]
    pub document: serde_json::Value,
    /// Built-in policies cannot be changed or deleted.
    pub builtin: bool,
    pub created_at: i64,
}

fn policy_view(p: &PolicyRow) -> PolicyView {
    PolicyView {
        policy_name: p.policy_name.clone(),
        description: p.description.clone(),
        document: serde_json::from_str(&p.document)
            .unwrap_or(serde_json::Value::String(p.document.clone())),
        builtin: p.builtin,
        created_at: p.created_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

fn items<T>(items: Vec<T>) -> Json<Items<T>> {
    Json(Items { items })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1-64 letters, digits, `.`, `_`, `-` and `@`.
    user_name: String,
    display_name: Option<String>,
    /// Console password, 8-128 characters; none: the user signs in with an access key only.
    password: Option<String>,
    /// Policies to attach at once, by name.
    #[serde(default)]
    policies: Vec<String>,
}

/// Create a user
#[utoipa::path(
    post,
    path = "/users",
    tag = "teams",
    request_body = NewUser,
    responses((status = 201, description = "Created", body = UserView), ErrorResponses),
)]
pub async fn create_user(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let teams = s.core.teams();
    for policy in &req.policies {
        teams.get_policy(policy).await?;
    }
    let user = teams
        .create_user(
            &req.user_name,
            req.display_name.as_deref(),
            req.password.as_deref(),
        )
        .await?;
    for policy in &req.policies {
        teams.attach_policy(&user.user_name, policy).await?;
    }
    Ok((StatusCode::CREATED, Json(user_view(&user))))
}

/// List users
#[utoipa::path(
    get,
    path = "/users",
    tag = "teams",
    responses((status = 200, description = "Success", body = Items<UserView>), ErrorResponses),
)]
pub async fn list_users(State(s): State<AppState>) -> ApiResult<Json<Items<UserView>>> {
    let users = s.core.teams().list_users().await?;
    Ok(items(users.iter().map(user_view).collect()))
}

/// Get a user
#[utoipa::path(
    get,
    path = "/users/{user_name}",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 200, description = "Success", body = UserView), ErrorResponses),
)]
pub async fn get_user(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(user_view(&s.core.teams().get_user(&name).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    display_name: Option<String>,
    /// false: the user's keys, tokens and console sessions stop working at once.
    enabled: Option<bool>,
    /// A new console password; `""` removes it.
    password: Option<String>,
}

/// Change a user's display name, switch or console password
#[utoipa::path(
    patch,
    path = "/users/{user_name}",
    tag = "teams",
    params(("user_name" = String, Path)),
    request_body = UserUpdate,
    responses((status = 200, description = "Success", body = UserView), ErrorResponses),
)]
pub async fn update_user(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<UserUpdate>,
) -> ApiResult<Json<UserView>> {
    let change = UserChange {
        display_name: req.display_name,
        enabled: req.enabled,
        password: req.password.map(|p| (!p.is_empty()).then_some(p)),
    };
    Ok(Json(user_view(
        &s.core.teams().update_user(&name, change).await?,
    )))
}

/// Delete a user with their keys and tokens
#[utoipa::path(
    delete,
    path = "/users/{user_name}",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn delete_user(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.teams().delete_user(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an access key for a user (at most two); the secret is shown only here
#[utoipa::path(
    post,
    path = "/users/{user_name}/access-keys",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 201, description = "Created", body = NewAccessKeyView), ErrorResponses),
)]
pub async fn create_access_key(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<NewAccessKeyView>)> {
    let created = s.core.teams().create_access_key(&name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewAccessKeyView {
            access_key_id: created.key.key_id,
            access_key_secret: created.secret,
            user_name: created.key.user_name,
            created_at: created.key.created_at,
        }),
    ))
}

/// A user's access keys
#[utoipa::path(
    get,
    path = "/users/{user_name}/access-keys",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 200, description = "Success", body = Items<AccessKeyView>), ErrorResponses),
)]
pub async fn list_user_access_keys(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Items<AccessKeyView>>> {
    s.core.teams().get_user(&name).await?;
    let keys = s.core.teams().list_access_keys(Some(&name)).await?;
    Ok(items(keys.iter().map(key_view).collect()))
}

/// Every access key
#[utoipa::path(
    get,
    path = "/access-keys",
    tag = "teams",
    responses((status = 200, description = "Success", body = Items<AccessKeyView>), ErrorResponses),
)]
pub async fn list_access_keys(State(s): State<AppState>) -> ApiResult<Json<Items<AccessKeyView>>> {
    let keys = s.core.teams().list_access_keys(None).await?;
    Ok(items(keys.iter().map(key_view).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKeyUpdate {
    /// false: requests signed with the key are refused by every node from now on.
    enabled: bool,
}

/// Enable or disable an access key
#[utoipa::path(
    patch,
    path = "/access-keys/{access_key_id}",
    tag = "teams",
    params(("access_key_id" = String, Path)),
    request_body = AccessKeyUpdate,
    responses((status = 200, description = "Success", body = AccessKeyView), ErrorResponses),
)]
pub async fn update_access_key(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<AccessKeyUpdate>,
) -> ApiResult<Json<AccessKeyView>> {
    let teams = s.core.teams();
    teams.set_access_key_enabled(&id, req.enabled).await?;
    Ok(Json(key_view(&teams.get_access_key(&id).await?)))
}

/// Delete an access key
#[utoipa::path(
    delete,
    path = "/access-keys/{access_key_id}",
    tag = "teams",
    params(("access_key_id" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn delete_access_key(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.teams().delete_access_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, 1-64 characters.
    name: String,
    /// Lifetime in seconds, 60 to 366 days; default 30 days.
    expires_in_seconds: Option<i64>,
}

/// Create a personal access token for a user; the token is shown only here
#[utoipa::path(
    post,
    path = "/users/{user_name}/tokens",
    tag = "teams",
    params(("user_name" = String, Path)),
    request_body = NewToken,
    responses((status = 201, description = "Created", body = NewTokenView), ErrorResponses),
)]
pub async fn create_token(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<NewToken>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    let ttl = req
        .expires_in_seconds
        .unwrap_or(30 * 24 * 3600)
        .saturating_mul(1000);
    let created = s.core.teams().create_token(&name, &req.name, ttl).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenView {
            info: token_view(&created.row),
            token: created.token,
        }),
    ))
}

/// A user's personal access tokens
#[utoipa::path(
    get,
    path = "/users/{user_name}/tokens",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 200, description = "Success", body = Items<TokenView>), ErrorResponses),
)]
pub async fn list_tokens(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Items<TokenView>>> {
    s.core.teams().get_user(&name).await?;
    let tokens = s.core.teams().list_tokens(&name).await?;
    Ok(items(tokens.iter().map(token_view).collect()))
}

/// Revoke a personal access token
#[utoipa::path(
    delete,
    path = "/tokens/{token_id}",
    tag = "teams",
    params(("token_id" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn revoke_token(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.teams().revoke_token(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    /// 1-128 letters, digits and `-`.
    policy_name: String,
    #[serde(default)]
    description: String,
    /// A RAM policy document, as an object or as its JSON text.
    #[schema(value_type = Object)]
    document: serde_json::Value,
}

fn document_text(document: &serde_json::Value) -> String {
    match document {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Create a policy from a RAM policy document
#[utoipa::path(
    post,
    path = "/policies",
    tag = "teams",
    request_body = NewPolicy,
    responses((status = 201, description = "Created", body = PolicyView), ErrorResponses),
)]
pub async fn create_policy(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewPolicy>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    let policy = s
        .core
        .teams()
        .create_policy(
            &req.policy_name,
            &req.description,
            &document_text(&req.document),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(policy_view(&policy))))
}

/// List policies, built-in ones first
#[utoipa::path(
    get,
    path = "/policies",
    tag = "teams",
    responses((status = 200, description = "Success", body = Items<PolicyView>), ErrorResponses),
)]
pub async fn list_policies(State(s): State<AppState>) -> ApiResult<Json<Items<PolicyView>>> {
    let policies = s.core.teams().list_policies().await?;
    Ok(items(policies.iter().map(policy_view).collect()))
}

/// Get a policy
#[utoipa::path(
    get,
    path = "/policies/{policy_name}",
    tag = "teams",
    params(("policy_name" = String, Path)),
    responses((status = 200, description = "Success", body = PolicyView), ErrorResponses),
)]
pub async fn get_policy(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<PolicyView>> {
    Ok(Json(policy_view(&s.core.teams().get_policy(&name).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    description: Option<String>,
    #[schema(value_type = Object)]
    document: serde_json::Value,
}

/// Replace a custom policy's document
#[utoipa::path(
    put,
    path = "/policies/{policy_name}",
    tag = "teams",
    params(("policy_name" = String, Path)),
    request_body = PolicyUpdate,
    responses((status = 200, description = "Success", body = PolicyView), ErrorResponses),
)]
pub async fn update_policy(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<PolicyUpdate>,
) -> ApiResult<Json<PolicyView>> {
    let policy = s
        .core
        .teams()
        .update_policy(
            &name,
            req.description.as_deref(),
            &document_text(&req.document),
        )
        .await?;
    Ok(Json(policy_view(&policy)))
}

/// Delete a custom policy attached to nobody
#[utoipa::path(
    delete,
    path = "/policies/{policy_name}",
    tag = "teams",
    params(("policy_name" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn delete_policy(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.teams().delete_policy(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    policy_name: String,
}

/// Attach a policy to a user
#[utoipa::path(
    post,
    path = "/users/{user_name}/policies",
    tag = "teams",
    params(("user_name" = String, Path)),
    request_body = Attachment,
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn attach_policy(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<Attachment>,
) -> ApiResult<StatusCode> {
    s.core
        .teams()
        .attach_policy(&name, &req.policy_name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The policies attached to a user
#[utoipa::path(
    get,
    path = "/users/{user_name}/policies",
    tag = "teams",
    params(("user_name" = String, Path)),
    responses((status = 200, description = "Success", body = Items<PolicyView>), ErrorResponses),
)]
pub async fn user_policies(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Items<PolicyView>>> {
    let policies = s.core.teams().attached_policies(&name).await?;
    Ok(items(policies.iter().map(policy_view).collect()))
}

/// Detach a policy from a user
#[utoipa::path(
    delete,
    path = "/users/{user_name}/policies/{policy_name}",
    tag = "teams",
    params(("user_name" = String, Path), ("policy_name" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn detach_policy(
    State(s): State<AppState>,
    ApiPath((name, policy)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core.teams().detach_policy(&name, &policy).await?;
    Ok(StatusCode::NO_CONTENT)
}
