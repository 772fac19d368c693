//! Products, devices, OTA modules and groups.

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::registry::DeviceFilter;
use ota_domain::{DeviceKey, DeviceName, GroupId, ProductKey};
use serde::Deserialize;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    name: String,
    description: Option<String>,
}

/// Create a product (generated ProductKey and secret, `default` module)
#[utoipa::path(
    post,
    path = "/products",
    tag = "registry",
    request_body = NewProduct,
    responses(
        (status = 201, description = "Created", body = views::ProductView),
        ErrorResponses,
    ),
)]
pub async fn create_product(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, Json<views::ProductView>)> {
    let product = s
        .core
        .registry()
        .create_product(&req.name, req.description)
        .await?;
    Ok((StatusCode::CREATED, Json(views::product(&product, true))))
}

/// List products
#[utoipa::path(
    get,
    path = "/products",
    tag = "registry",
    params(PageQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::ProductView>),
        ErrorResponses,
    ),
)]
pub async fn list_products(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Paged<views::ProductView>>> {
    let page = q.page()?;
    let (items, total) = s.core.registry().list_products(page).await?;
    Ok(Json(Paged::new(
        items.iter().map(|p| views::product(p, false)).collect(),
        total,
        page,
    )))
}

/// Get a product
#[utoipa::path(
    get,
    path = "/products/{product_key}",
    tag = "registry",
    params(("product_key" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::ProductView),
        ErrorResponses,
    ),
)]
pub async fn get_product(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<views::ProductView>> {
    Ok(Json(views::product(
        &s.core.registry().product(&ProductKey(pk)).await?,
        true,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChange {
    name: Option<String>,
    description: Option<String>,
}

/// Change a product's name or description
#[utoipa::path(
    patch,
    path = "/products/{product_key}",
    tag = "registry",
    params(("product_key" = String, Path)),
    request_body = ProductChange,
    responses(
        (status = 200, description = "Success", body = views::ProductView),
        ErrorResponses,
    ),
)]
pub async fn update_product(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<ProductChange>,
) -> ApiResult<Json<views::ProductView>> {
    let product = s
        .core
        .registry()
        .update_product(&ProductKey(pk), req.name.as_deref(), req.description)
        .await?;
    Ok(Json(views::product(&product, false)))
}

/// Delete a product without devices
#[utoipa::path(
    delete,
    path = "/products/{product_key}",
    tag = "registry",
    params(("product_key" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn delete_product(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.registry().delete_product(&ProductKey(pk)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevices {
    /// Names to register; a null entry gets a generated name.
    #[serde(default)]
    names: Vec<Option<String>>,
    /// Or: how many devices with generated names.
    count: Option<usize>,
}

/// Register devices (names, or a count of generated names)
#[utoipa::path(
    post,
    path = "/products/{product_key}/devices",
    tag = "registry",
    params(("product_key" = String, Path)),
    request_body = NewDevices,
    responses(
        (status = 201, description = "Created", body = views::Items<views::DeviceView>),
        ErrorResponses,
    ),
)]
pub async fn register_devices(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<NewDevices>,
) -> ApiResult<(StatusCode, Json<views::Items<views::DeviceView>>)> {
    let mut names = req.names;
    if let Some(count) = req.count {
        if !names.is_empty() {
            return Err(ApiError::invalid(
                "count",
                "give either names or count, not both",
            ));
        }
        if !(1..=10_000).contains(&count) {
            return Err(ApiError::invalid("count", "must be 1-10000"));
        }
        names = vec![None; count];
    }
    if names.is_empty() || names.len() > 10_000 {
        return Err(ApiError::invalid("names", "must list 1-10000 devices"));
    }
    let devices = s
        .core
        .registry()
        .register_devices(&ProductKey(pk), &names)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(views::Items::new(
            devices.iter().map(|d| views::device(d, true)).collect(),
        )),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    /// Names starting with this (case-sensitive).
    prefix: Option<String>,
    /// Page number, from 1; not with `after`.
    page: Option<i64>,
    page_size: Option<i64>,
    /// The list after this device (the previous page's `next_after`): keyset paging, as
    /// fast at the millionth device as at the first.
    after: Option<String>,
}

/// List devices, optionally by name prefix
#[utoipa::path(
    get,
    path = "/products/{product_key}/devices",
    tag = "registry",
    params(("product_key" = String, Path), DeviceQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::DeviceView>),
        ErrorResponses,
    ),
)]
pub async fn list_devices(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeviceQuery>,
) -> ApiResult<Json<Paged<views::DeviceView>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .keyset_page(q.after.as_deref())?;
    let pk = ProductKey(pk);
    let registry = s.core.registry();
    let (items, total) = match &q.after {
        Some(after) => {
            registry
                .list_devices_after(&pk, q.prefix.as_deref(), after, page.limit)
                .await?
        }
        None => {
            registry
                .list_devices(Some(&pk), q.prefix.as_deref(), page)
                .await?
        }
    };
    Ok(Json(
        Paged::new(
            items.iter().map(|d| views::device(d, false)).collect(),
            total,
            page,
        )
        .with_next_after(|d: &views::DeviceView| d.device_name.clone()),
    ))
}

/// Device detail with reported module versions
#[utoipa::path(
    get,
    path = "/products/{product_key}/devices/{device_name}",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::DeviceView),
        ErrorResponses,
    ),
)]
pub async fn get_device(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
) -> ApiResult<Json<views::DeviceView>> {
    let detail = s
        .core
        .registry()
        .device_detail(&DeviceKey::new(pk, dn))
        .await?;
    let mut v = views::device(&detail.device, true);
    v.versions = Some(detail.versions.iter().map(views::module_version).collect());
    Ok(Json(v))
}

/// Delete a device
#[utoipa::path(
    delete,
    path = "/products/{product_key}/devices/{device_name}",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn delete_device(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .delete_device(&DeviceKey::new(pk, dn))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a device's tags
#[utoipa::path(
    put,
    path = "/products/{product_key}/devices/{device_name}/tags",
    tag = "registry",
    params(("product_key" = String, Path), ("device_name" = String, Path)),
    request_body = BTreeMap<String, String>,
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn set_device_tags(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
    ApiJson(tags): ApiJson<BTreeMap<String, String>>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .set_device_tags(&DeviceKey::new(pk, dn), tags)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewModule {
    module_name: String,
    alias_name: Option<String>,
    description: Option<String>,
}

/// Add an OTA module
#[utoipa::path(
    post,
    path = "/products/{product_key}/modules",
    tag = "registry",
    params(("product_key" = String, Path)),
    request_body = NewModule,
    responses(
        (status = 201, description = "Created", body = views::ModuleView),
        ErrorResponses,
    ),
)]
pub async fn create_module(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiJson(req): ApiJson<NewModule>,
) -> ApiResult<(StatusCode, Json<views::ModuleView>)> {
    let module = s
        .core
        .registry()
        .create_module(
            &ProductKey(pk),
            &req.module_name,
            req.alias_name,
            req.description,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(views::module(&module))))
}

/// List OTA modules
#[utoipa::path(
    get,
    path = "/products/{product_key}/modules",
    tag = "registry",
    params(("product_key" = String, Path)),
    responses(
        (status = 200, description = "Success", body = views::Items<views::ModuleView>),
        ErrorResponses,
    ),
)]
pub async fn list_modules(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<views::Items<views::ModuleView>>> {
    let modules = s.core.registry().list_modules(&ProductKey(pk)).await?;
    Ok(Json(views::Items::new(
        modules.iter().map(views::module).collect(),
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleChange {
    alias_name: Option<String>,
    description: Option<String>,
}

/// Change a module's alias or description
#[utoipa::path(
    patch,
    path = "/products/{product_key}/modules/{module_name}",
    tag = "registry",
    params(("product_key" = String, Path), ("module_name" = String, Path)),
    request_body = ModuleChange,
    responses(
        (status = 200, description = "Success", body = views::ModuleView),
        ErrorResponses,
    ),
)]
pub async fn update_module(
    State(s): State<AppState>,
    ApiPath((pk, name)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ModuleChange>,
) -> ApiResult<Json<views::ModuleView>> {
    let module = s
        .core
        .registry()
        .update_module(&ProductKey(pk), &name, req.alias_name, req.description)
        .await?;
    Ok(Json(views::module(&module)))
}

/// Delete a module
#[utoipa::path(
    delete,
    path = "/products/{product_key}/modules/{module_name}",
    tag = "registry",
    params(("product_key" = String, Path), ("module_name" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn delete_module(
    State(s): State<AppState>,
    ApiPath((pk, name)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .delete_module(&ProductKey(pk), &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    module: Option<String>,
}

/// Version distribution of a module
///
/// Version distribution of a module across the product's devices.
#[utoipa::path(
    get,
    path = "/products/{product_key}/versions",
    tag = "registry",
    params(("product_key" = String, Path), VersionQuery),
    responses(
        (status = 200, description = "Success", body = VersionDistribution),
        ErrorResponses,
    ),
)]
pub async fn versions(
    State(s): State<AppState>,
    ApiPath(pk): ApiPath<String>,
    ApiQuery(q): ApiQuery<VersionQuery>,
) -> ApiResult<Json<VersionDistribution>> {
    let module = q
        .module
        .unwrap_or_else(|| ota_domain::registry::DEFAULT_MODULE.to_owned());
    let dist = s
        .core
        .registry()
        .version_distribution(&ProductKey(pk), &module)
        .await?;
    Ok(Json(VersionDistribution {
        items: dist
            .iter()
            .map(|(version, devices)| VersionCount {
                version: version.clone(),
                devices: *devices,
            })
            .collect(),
        module,
    }))
}

/// How many devices of a module's product reported each version.
#[derive(Serialize, ToSchema)]
pub struct VersionDistribution {
    pub module: String,
    pub items: Vec<VersionCount>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionCount {
    pub version: String,
    pub devices: i64,
}

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
