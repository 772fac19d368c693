//! Signed webhooks: endpoints, their delivery logs and test events. The signing secret is
//! write-only: no answer ever shows it.

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::state::AppState;
use crate::views::Items;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ota_core::webhooks::{MAX_DELIVERY_PAGE, event_names};
use ota_core::{DeliveryRow, NewWebhook, WebhookChange, WebhookRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Deliveries per page unless `page_size` says otherwise.
const DEFAULT_PAGE: i64 = 50;

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub webhook_id: String,
    pub url: String,
    /// Event types delivered, or `["*"]` for all.
    pub events: Vec<String>,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub modified_at: i64,
}

fn view(w: &WebhookRow) -> WebhookView {
    WebhookView {
        webhook_id: w.webhook_id.clone(),
        url: w.url.clone(),
        events: event_names(w),
        description: w.description.clone(),
        enabled: w.enabled,
        created_at: w.created_at,
        modified_at: w.modified_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    pub event_id: String,
    pub event_type: String,
    pub event_time: i64,
    /// The batch the event belongs to (its events arrive in order), if any.
    pub job_id: Option<String>,
    /// `PENDING`, `DELIVERED` or `FAILED` (not delivered within 24 h of the event).
    pub status: String,
    pub attempts: i64,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// HTTP status of the last answer.
    pub last_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

fn delivery_view(d: &DeliveryRow) -> DeliveryView {
    let pending = d.status == ota_core::DeliveryStatus::Pending;
    DeliveryView {
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        event_time: d.event_time,
        job_id: (!d.ordering_key.is_empty()).then(|| d.ordering_key.clone()),
        status: d.status.as_str().to_owned(),
        attempts: d.attempts,
        next_attempt_at: pending.then_some(d.next_attempt_at),
        last_attempt_at: d.last_attempt_at,
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        delivered_at: d.delivered_at,
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// Pass as `next_token` for the next (older) page; absent on the last page.
    pub next_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    /// `http://` or `https://` URL with a host.
    url: String,
    /// Signing secret, 16-256 characters: `X-Ota-Signature` is `sha256=` and the hex
    /// HMAC-SHA256 of the body under it. Never shown again.
    secret: String,
    /// Event types to deliver (`batch.created`, `task.status_changed`, …) or `["*"]`
    /// (the default) for all.
    #[serde(default)]
    events: Vec<String>,
    description: Option<String>,
}

/// Register a webhook endpoint
#[utoipa::path(
    post,
    path = "/webhooks",
    tag = "webhooks",
    request_body = NewWebhookBody,
    responses((status = 201, description = "Created", body = WebhookView), ErrorResponses),
)]
pub async fn create_webhook(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<NewWebhookBody>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let row = s
        .core
        .webhooks()
        .create(NewWebhook {
            url: req.url,
            secret: req.secret,
            events: req.events,
            description: req.description,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view(&row))))
}

/// List webhook endpoints
#[utoipa::path(
    get,
    path = "/webhooks",
    tag = "webhooks",
    responses((status = 200, description = "Success", body = Items<WebhookView>), ErrorResponses),
)]
pub async fn list_webhooks(State(s): State<AppState>) -> ApiResult<Json<Items<WebhookView>>> {
    let rows = s.core.webhooks().list().await?;
    Ok(Json(Items::new(rows.iter().map(view).collect())))
}

/// Get a webhook endpoint
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}",
    tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 200, description = "Success", body = WebhookView), ErrorResponses),
)]
pub async fn get_webhook(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<WebhookView>> {
    Ok(Json(view(&s.core.webhooks().get(&id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    url: Option<String>,
    /// A new signing secret.
    secret: Option<String>,
    events: Option<Vec<String>>,
    /// `""` removes it.
    description: Option<String>,
    /// false: nothing more is sent; pending deliveries wait (and expire 24 h after their
    /// event).
    enabled: Option<bool>,
}

/// Change a webhook endpoint
#[utoipa::path(
    patch,
    path = "/webhooks/{webhook_id}",
    tag = "webhooks",
    params(("webhook_id" = String, Path)),
    request_body = WebhookUpdate,
    responses((status = 200, description = "Success", body = WebhookView), ErrorResponses),
)]
pub async fn update_webhook(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<WebhookUpdate>,
) -> ApiResult<Json<WebhookView>> {
    let change = WebhookChange {
        url: req.url,
        secret: req.secret,
        events: req.events,
        description: req.description,
        enabled: req.enabled,
    };
    Ok(Json(view(&s.core.webhooks().update(&id, change).await?)))
}

/// Delete a webhook endpoint with its delivery log
#[utoipa::path(
    delete,
    path = "/webhooks/{webhook_id}",
    tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 204, description = "Done; no content"), ErrorResponses),
)]
pub async fn delete_webhook(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    s.core.webhooks().delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// 1-500, default 50.
    pub page_size: Option<i64>,
    /// From the previous page.
    pub next_token: Option<String>,
}

/// An endpoint's deliveries, newest first
#[utoipa::path(
    get,
    path = "/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    params(("webhook_id" = String, Path), DeliveryQuery),
    responses((status = 200, description = "Success", body = DeliveryPage), ErrorResponses),
)]
pub async fn list_deliveries(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    let limit = q.page_size.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
        return Err(ApiError::invalid(
            "page_size",
            format!("must be 1-{MAX_DELIVERY_PAGE}"),
        ));
    }
    let before = q
        .next_token
        .as_deref()
        .map(|t| {
            t.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::invalid("next_token", "is not a token this API gave"))
        })
        .transpose()?;
    let rows = s.core.webhooks().deliveries(&id, before, limit).await?;
    let next_token = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten();
    Ok(Json(DeliveryPage {
        items: rows.iter().map(delivery_view).collect(),
        next_token,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TestEventView {
    /// The `id` of the `webhook.test` event queued.
    pub event_id: String,
}

/// Send a test event to an endpoint
#[utoipa::path(
    post,
    path = "/webhooks/{webhook_id}/test",
    tag = "webhooks",
    params(("webhook_id" = String, Path)),
    responses((status = 202, description = "Queued", body = TestEventView), ErrorResponses),
)]
pub async fn test_webhook(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<TestEventView>)> {
    let event_id = s.core.webhooks().send_test(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(TestEventView { event_id })))
}
