//! Products, devices, OTA modules and groups.

use crate::body::ApiJson;
use crate::error::{ApiError, ApiResult};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ota_domain::registry::DeviceFilter;
use ota_domain::{DeviceKey, DeviceName, GroupId, ProductKey};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    name: String,
    description: Option<String>,
}

pub async fn create_product(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewProduct>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let product = s
        .core
        .registry()
        .create_product(&req.name, req.description)
        .await?;
    Ok((StatusCode::CREATED, Json(views::product(&product, true))))
}

pub async fn list_products(
    State(s): State<AppState>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Paged<Value>>> {
    let page = q.page()?;
    let (items, total) = s.core.registry().list_products(page).await?;
    Ok(Json(Paged::new(
        items.iter().map(|p| views::product(p, false)).collect(),
        total,
        page,
    )))
}

pub async fn get_product(
    State(s): State<AppState>,
    Path(pk): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::product(
        &s.core.registry().product(&ProductKey(pk)).await?,
        true,
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductChange {
    name: Option<String>,
    description: Option<String>,
}

pub async fn update_product(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    ApiJson(req): ApiJson<ProductChange>,
) -> ApiResult<Json<Value>> {
    let product = s
        .core
        .registry()
        .update_product(&ProductKey(pk), req.name.as_deref(), req.description)
        .await?;
    Ok(Json(views::product(&product, false)))
}

pub async fn delete_product(
    State(s): State<AppState>,
    Path(pk): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.registry().delete_product(&ProductKey(pk)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevices {
    /// Names to register; a null entry gets a generated name.
    #[serde(default)]
    names: Vec<Option<String>>,
    /// Or: how many devices with generated names.
    count: Option<usize>,
}

pub async fn register_devices(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    ApiJson(req): ApiJson<NewDevices>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(json!({"items": devices.iter().map(|d| views::device(d, true)).collect::<Vec<_>>()})),
    ))
}

#[derive(Deserialize)]
pub struct DeviceQuery {
    prefix: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

pub async fn list_devices(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    Query(q): Query<DeviceQuery>,
) -> ApiResult<Json<Paged<Value>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .page()?;
    let (items, total) = s
        .core
        .registry()
        .list_devices(Some(&ProductKey(pk)), q.prefix.as_deref(), page)
        .await?;
    Ok(Json(Paged::new(
        items.iter().map(|d| views::device(d, false)).collect(),
        total,
        page,
    )))
}

pub async fn get_device(
    State(s): State<AppState>,
    Path((pk, dn)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let detail = s
        .core
        .registry()
        .device_detail(&DeviceKey::new(pk, dn))
        .await?;
    let mut v = views::device(&detail.device, true);
    v["versions"] = json!(
        detail
            .versions
            .iter()
            .map(views::module_version)
            .collect::<Vec<_>>()
    );
    Ok(Json(v))
}

pub async fn delete_device(
    State(s): State<AppState>,
    Path((pk, dn)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .delete_device(&DeviceKey::new(pk, dn))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_device_tags(
    State(s): State<AppState>,
    Path((pk, dn)): Path<(String, String)>,
    ApiJson(tags): ApiJson<BTreeMap<String, String>>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .set_device_tags(&DeviceKey::new(pk, dn), tags)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewModule {
    module_name: String,
    alias_name: Option<String>,
    description: Option<String>,
}

pub async fn create_module(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    ApiJson(req): ApiJson<NewModule>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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

pub async fn list_modules(
    State(s): State<AppState>,
    Path(pk): Path<String>,
) -> ApiResult<Json<Value>> {
    let modules = s.core.registry().list_modules(&ProductKey(pk)).await?;
    Ok(Json(
        json!({"items": modules.iter().map(views::module).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleChange {
    alias_name: Option<String>,
    description: Option<String>,
}

pub async fn update_module(
    State(s): State<AppState>,
    Path((pk, name)): Path<(String, String)>,
    ApiJson(req): ApiJson<ModuleChange>,
) -> ApiResult<Json<Value>> {
    let module = s
        .core
        .registry()
        .update_module(&ProductKey(pk), &name, req.alias_name, req.description)
        .await?;
    Ok(Json(views::module(&module)))
}

pub async fn delete_module(
    State(s): State<AppState>,
    Path((pk, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.core
        .registry()
        .delete_module(&ProductKey(pk), &name)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct VersionQuery {
    module: Option<String>,
}

/// Version distribution of a module across the product's devices.
pub async fn versions(
    State(s): State<AppState>,
    Path(pk): Path<String>,
    Query(q): Query<VersionQuery>,
) -> ApiResult<Json<Value>> {
    let module = q
        .module
        .unwrap_or_else(|| ota_domain::registry::DEFAULT_MODULE.to_owned());
    let dist = s
        .core
        .registry()
        .version_distribution(&ProductKey(pk), &module)
        .await?;
    Ok(Json(json!({
        "module": module,
        "items": dist.iter().map(|(v, n)| json!({"version": v, "devices": n})).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    name: String,
    product_key: Option<String>,
    description: Option<String>,
    /// Present for a dynamic group.
    filter: Option<DeviceFilter>,
}

pub async fn create_group(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewGroup>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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

#[derive(Deserialize)]
pub struct GroupQuery {
    product_key: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

pub async fn list_groups(
    State(s): State<AppState>,
    Query(q): Query<GroupQuery>,
) -> ApiResult<Json<Paged<Value>>> {
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

pub async fn get_group(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::group(
        &s.core.registry().group(&GroupId(id)).await?,
    )))
}

pub async fn delete_group(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.core.registry().delete_group(&GroupId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    device_names: Vec<String>,
}

pub async fn add_members(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<Members>,
) -> ApiResult<Json<Value>> {
    let names: Vec<DeviceName> = req.device_names.into_iter().map(DeviceName).collect();
    let added = s
        .core
        .registry()
        .add_group_members(&GroupId(id), &names)
        .await?;
    Ok(Json(json!({"added": added})))
}

pub async fn list_members(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Paged<Value>>> {
    let page = q.page()?;
    let (items, total) = s.core.registry().group_members(&GroupId(id), page).await?;
    Ok(Json(Paged::new(
        items.iter().map(|d| views::device(d, false)).collect(),
        total,
        page,
    )))
}
