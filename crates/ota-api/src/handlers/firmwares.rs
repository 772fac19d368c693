//! Uploads and packages.

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use futures::TryStreamExt;
use ota_domain::validate::{ModifyFirmware, MultiFileInput, NewFirmware, delta_sources};
use ota_domain::{FirmwareId, ProductKey};
use serde::Deserialize;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

/// Upload a package file, or a device list (.csv) for a batch (raw body, streamed; sign with UNSIGNED-PAYLOAD)
///
/// `PUT /api/v1/uploads/{file_name}`: the raw body is streamed to package storage.
#[utoipa::path(
    put,
    path = "/uploads/{file_name}",
    tag = "firmwares",
    params(("file_name" = String, Path, description = "The file's name (letters, digits, `.`, `_`, `-`)")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file's bytes, streamed"),
    responses(
        (status = 201, description = "Created", body = Uploaded),
        ErrorResponses,
    ),
)]
pub async fn upload(
    State(s): State<AppState>,
    ApiPath(file_name): ApiPath<String>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Uploaded>)> {
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    let file = s
        .core
        .firmwares()
        .upload_file(&file_name, Box::pin(stream))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Uploaded {
            url: file.key,
            size: file.size,
            md5: file.md5,
            sha256: file.sha256,
        }),
    ))
}

/// A stored upload: give `url` to a new package.
#[derive(Serialize, ToSchema)]
pub struct Uploaded {
    pub url: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
}

/// A new package with the deltas queued for it.
#[derive(Serialize, ToSchema)]
pub struct FirmwareCreated {
    #[serde(flatten)]
    pub firmware: views::FirmwareView,
    pub deltas: Vec<views::DeltaView>,
}

/// A package with a signed, expiring download URL per file.
#[derive(Serialize, ToSchema)]
pub struct FirmwareDetail {
    #[serde(flatten)]
    pub firmware: views::FirmwareView,
    pub download_urls: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRef {
    name: Option<String>,
    url: Option<String>,
    size: Option<i64>,
    md5: Option<String>,
    sign_value: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFirmware {
    product_key: String,
    name: Option<String>,
    dest_version: Option<String>,
    src_version: Option<String>,
    /// 0 full (default), 1 differential.
    #[serde(rename = "type")]
    firmware_type: Option<i64>,
    description: Option<String>,
    module_name: Option<String>,
    /// The `url` an upload returned (single-file package).
    url: Option<String>,
    size: Option<i64>,
    sign: Option<String>,
    sign_method: Option<String>,
    need_to_verify: Option<bool>,
    udi: Option<String>,
    #[serde(default)]
    files: Vec<FileRef>,
    /// Generate deltas from these earlier versions of the module (full packages).
    #[serde(default)]
    delta_from_versions: Vec<String>,
    /// Generate deltas from the N (0..=10) most recent other versions of the module. Left
    /// out together with `delta_from_versions`: the server default; 0: none.
    delta_from_latest: Option<i64>,
}

/// Create a package from uploaded files
#[utoipa::path(
    post,
    path = "/firmwares",
    tag = "firmwares",
    request_body = CreateFirmware,
    responses(
        (status = 201, description = "Created", body = FirmwareCreated),
        ErrorResponses,
    ),
)]
pub async fn create_firmware(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateFirmware>,
) -> ApiResult<(StatusCode, Json<FirmwareCreated>)> {
    let raw = NewFirmware {
        firmware_name: req.name,
        dest_version: req.dest_version,
        src_version: req.src_version,
        firmware_type: req.firmware_type,
        firmware_desc: req.description,
        module_name: req.module_name,
        firmware_url: req.url,
        firmware_size: req.size,
        firmware_sign: req.sign,
        sign_method: req.sign_method,
        need_to_verify: req.need_to_verify,
        udi: req.udi,
        multi_files: req
            .files
            .into_iter()
            .map(|f| MultiFileInput {
                name: f.name,
                url: f.url,
                size: f.size,
                file_md5: f.md5,
                sign_value: f.sign_value,
            })
            .collect(),
    };
    let spec = raw.validate()?;
    let sources = delta_sources(&spec, req.delta_from_versions, req.delta_from_latest)?;
    let (firmware, deltas) = s
        .core
        .deltas()
        .create_firmware_with_deltas(&ProductKey(req.product_key), spec, sources)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(FirmwareCreated {
            firmware: views::firmware(&firmware),
            deltas: deltas.iter().map(views::delta).collect(),
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FirmwareQuery {
    product_key: Option<String>,
    dest_version: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

/// List packages
#[utoipa::path(
    get,
    path = "/firmwares",
    tag = "firmwares",
    params(FirmwareQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::FirmwareView>),
        ErrorResponses,
    ),
)]
pub async fn list_firmwares(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<FirmwareQuery>,
) -> ApiResult<Json<Paged<views::FirmwareView>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .page()?;
    let pk = q.product_key.map(ProductKey);
    let (items, total) = s
        .core
        .firmwares()
        .list(pk.as_ref(), q.dest_version.as_deref(), page)
        .await?;
    Ok(Json(Paged::new(
        items.iter().map(views::firmware).collect(),
        total,
        page,
    )))
}

/// Get a package with signed download URLs
#[utoipa::path(
    get,
    path = "/firmwares/{firmware_id}",
    tag = "firmwares",
    params(("firmware_id" = String, Path)),
    responses(
        (status = 200, description = "Success", body = FirmwareDetail),
        ErrorResponses,
    ),
)]
pub async fn get_firmware(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<FirmwareDetail>> {
    let firmware = s.core.firmwares().get(&FirmwareId(id)).await?;
    let now = s.core.now();
    let mut urls = Vec::with_capacity(firmware.files.len());
    for file in &firmware.files {
        urls.push(s.core.delivery().download_url(file, now).await?);
    }
    Ok(Json(FirmwareDetail {
        firmware: views::firmware(&firmware),
        download_urls: urls,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirmwareChange {
    name: Option<String>,
    description: Option<String>,
    udi: Option<String>,
}

/// Change a package's name, description or Udi
#[utoipa::path(
    patch,
    path = "/firmwares/{firmware_id}",
    tag = "firmwares",
    params(("firmware_id" = String, Path)),
    request_body = FirmwareChange,
    responses(
        (status = 200, description = "Success", body = views::FirmwareView),
        ErrorResponses,
    ),
)]
pub async fn modify_firmware(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<FirmwareChange>,
) -> ApiResult<Json<views::FirmwareView>> {
    let changes = ModifyFirmware {
        firmware_name: req.name,
        firmware_desc: req.description,
        firmware_udi: req.udi,
    }
    .validate()?;
    let firmware = s.core.firmwares().modify(&FirmwareId(id), changes).await?;
    Ok(Json(views::firmware(&firmware)))
}

/// Delete a package without active batches
#[utoipa::path(
    delete,
    path = "/firmwares/{firmware_id}",
    tag = "firmwares",
    params(("firmware_id" = String, Path)),
    responses(
        (status = 204, description = "Done; no content"),
        ErrorResponses,
    ),
)]
pub async fn delete_firmware(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.firmwares().delete(&FirmwareId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
