//! Devices: registration, the device list (numbered pages or keyset), one device, deletion
//! and tags.

use crate::authz::Caller;
use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::{DeviceKey, ProductKey};
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

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
    Extension(caller): Extension<Caller>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
) -> ApiResult<Json<views::DeviceView>> {
    let with_secret = caller.may_read_secrets(&pk);
    let detail = s
        .core
        .registry()
        .device_detail(&DeviceKey::new(pk, dn))
        .await?;
    let mut v = views::device(&detail.device, with_secret);
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
