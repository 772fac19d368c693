//! Products: the device models a fleet is made of; every device, package and batch belongs to one.

use crate::authz::Caller;
use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::ProductKey;
use serde::Deserialize;
use utoipa::ToSchema;

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
    Extension(caller): Extension<Caller>,
    ApiPath(pk): ApiPath<String>,
) -> ApiResult<Json<views::ProductView>> {
    let with_secret = caller.may_read_secrets(&pk);
    Ok(Json(views::product(
        &s.core.registry().product(&ProductKey(pk)).await?,
        with_secret,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChange {
    name: Option<String>,
    description: Option<String>,
    /// Allow its devices to obtain their credentials by dynamic registration with the
    /// ProductSecret (MQTT `register`/`regnwl`, HTTPS `/auth/register/device`).
    dynamic_register: Option<bool>,
    /// How many devices `regnwl` (registration without pre-registration) may create: 0-1000000.
    regnwl_quota: Option<i64>,
    /// Create a device that does not exist yet on its first connect with a certificate from
    /// one of the product's CAs (MQTT TLS listener).
    certificate_auto_create: Option<bool>,
}

/// Change a product's name, description, dynamic registration or certificate settings
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
    let pk = ProductKey(pk);
    let registry = s.core.registry();
    if let Some(quota) = req.regnwl_quota {
        ota_domain::validate::registry::regnwl_quota(quota)?;
    }
    let mut product = registry
        .update_product(&pk, req.name.as_deref(), req.description)
        .await?;
    if req.dynamic_register.is_some() || req.regnwl_quota.is_some() {
        product = registry
            .set_dynamic_registration(&pk, req.dynamic_register, req.regnwl_quota)
            .await?;
    }
    if let Some(allowed) = req.certificate_auto_create {
        product = registry.set_certificate_auto_create(&pk, allowed).await?;
    }
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
