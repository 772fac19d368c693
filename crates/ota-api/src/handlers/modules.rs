//! OTA modules (the separately updated parts of a device) and the version distribution
//! devices report.

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_domain::ProductKey;
use serde::Deserialize;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

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
