//! Device groups: batch targets, and their members.

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::registry::DeviceFilter;
use ota_domain::{DeviceName, GroupId, ProductKey};
use serde::Deserialize;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Devices added to a static group (names already members are not counted).
#[derive(Serialize, ToSchema)]
pub struct MembersAdded {
    pub added: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    product_key: Option<String>,
    description: Option<String>,
    /// Present for a dynamic group: `name_prefix`, `tags`, `versions`, … of the devices it
    /// matches.
    #[schema(value_type = Option<Object>)]
    filter: Option<DeviceFilter>,
}

/// Create a static group, or a dynamic one with a filter
#[utoipa::path(
    post,
    path = "/groups",
    tag = "registry",
    request_body = NewGroup,
    responses(
        (status = 201, description = "Created", body = views::GroupView),
        ErrorResponses,
    ),
)]
pub async fn create_group(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<views::GroupView>)> {
    let group = s
        .core
        .registry()
        .create_group(
            &req.name,
            req.product_key.map(ProductKey),
            req.description,
            req.filter,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::group(&group))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    product_key: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// List groups
#[utoipa::path(
    get,
    path = "/groups",
    tag = "registry",
    params(GroupQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::GroupView>),
        ErrorResponses,
    ),
)]
pub async fn list_groups(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> ApiResult<Json<Paged<views::GroupView>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .page()?;
    let pk = q.product_key.map(ProductKey);
    let (items, total) = s.core.registry().list_groups(pk.as_ref(), page).await?;
    Ok(Json(Paged::new(
        items.iter().map(views::group).collect(),
        total,
        page,
    )))
}

/// Get a group
#[utoipa::path(
    get,
    path = "/groups/{group_id}",
    tag = "registry",
    params(("group_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::GroupView),
        ErrorResponses,
    ),
)]
pub async fn get_group(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<views::GroupView>> {
    Ok(Json(views::group(
        &s.core.registry().group(&GroupId(id)).await?,
    )))
}

/// Delete a group
#[utoipa::path(
    delete,
    path = "/groups/{group_id}",
    tag = "registry",
    params(("group_id" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn delete_group(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.registry().delete_group(&GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Members {
    device_names: Vec<String>,
}

/// Add devices to a static group
#[utoipa::path(
    post,
    path = "/groups/{group_id}/members",
    tag = "registry",
    params(("group_id" = String, Path)),
    request_body = Members,
    responses(
        (status = 200, description = "Success", body = MembersAdded),
        ErrorResponses,
    ),
)]
pub async fn add_members(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<Members>,
) -> ApiResult<Json<MembersAdded>> {
    let names: Vec<DeviceName> = req.device_names.into_iter().map(DeviceName).collect();
    let added = s
        .core
        .registry()
        .add_group_members(&GroupId(id), &names)
        .await?;
    Ok(Json(MembersAdded { added }))
}

/// List a group's members
#[utoipa::path(
    get,
    path = "/groups/{group_id}/members",
    tag = "registry",
    params(("group_id" = String, Path), PageQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::DeviceView>),
        ErrorResponses,
    ),
)]
pub async fn list_members(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<views::DeviceView>>> {
    let page = q.page()?;
    let (items, total) = s.core.registry().group_members(&GroupId(id), page).await?;
    Ok(Json(Paged::new(
        items.iter().map(|d| views::device(d, false)).collect(),
        total,
        page,
    )))
}
