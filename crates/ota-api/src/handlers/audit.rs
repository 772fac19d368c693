//! The audit log, read back: newest first, filtered, in keyset pages, as JSON or CSV.

use crate::body::ApiQuery;
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ota_core::{AuditEventRow, AuditFilter, MAX_AUDIT_PAGE};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Events per page unless `page_size` says otherwise.
const DEFAULT_PAGE: i64 = 100;

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub event_id: String,
    /// Epoch milliseconds.
    pub event_time: i64,
    /// The action, e.g. `CreateOTAFirmware`.
    pub event_name: String,
    /// `api`, `aliyun` or `console`.
    pub face: String,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// The console session or personal access token used.
    pub session_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The request's parameters, secrets and file contents redacted.
    #[schema(value_type = Object)]
    pub request_parameters: serde_json::Value,
    /// `Success` or the error code returned.
    pub result: String,
    pub error_message: Option<String>,
    /// The ids the call touched.
    pub resources: Vec<String>,
}

fn view(e: &AuditEventRow) -> AuditEventView {
    AuditEventView {
        event_id: e.event_id.clone(),
        event_time: e.event_time,
        event_name: e.event_name.clone(),
        face: e.face.clone(),
        user_name: e.user_name.clone(),
        access_key_id: e.access_key_id.clone(),
        session_id: e.session_id.clone(),
        source_ip: e.source_ip.clone(),
        user_agent: e.user_agent.clone(),
        request_parameters: serde_json::from_str(&e.request_parameters)
            .unwrap_or(serde_json::Value::Null),
        result: e.result.clone(),
        error_message: e.error_message.clone(),
        resources: e.resources.clone(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEventView>,
    /// Pass as `next_token` for the next (older) page; absent on the last page.
    pub next_token: Option<String>,
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events at or after this time (epoch ms).
    pub start_time: Option<i64>,
    /// Events before this time (epoch ms).
    pub end_time: Option<i64>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// The action, e.g. `CreateOTAStaticUpgradeJob`.
    pub event_name: Option<String>,
    /// An id the event touched (product key, package, batch, group, device, user…).
    pub resource_id: Option<String>,
    /// 1-1000, default 100.
    pub page_size: Option<i64>,
    /// From the previous page.
    pub next_token: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

impl AuditQuery {
    /// The store filter this query asks for; errors name the parameter.
    pub fn filter(&self) -> Result<AuditFilter, ApiError> {
        let limit = self.page_size.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
            return Err(ApiError::invalid(
                "page_size",
                format!("must be 1-{MAX_AUDIT_PAGE}"),
            ));
        }
        let before_seq =
            self.next_token
                .as_deref()
                .map(|t| {
                    t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ApiError::invalid("next_token", "is not a token this API gave")
                    })
                })
                .transpose()?;
        if let (Some(from), Some(to)) = (self.start_time, self.end_time)
            && from >= to
        {
            return Err(ApiError::invalid("end_time", "must be after start_time"));
        }
        let text = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(AuditFilter {
            from: self.start_time,
            to: self.end_time,
            user_name: text(&self.user_name),
            access_key_id: text(&self.access_key_id),
            event_name: text(&self.event_name),
            resource_id: text(&self.resource_id),
            before_seq,
            limit,
        })
    }
}

/// The cursor for the page after `rows`, when it was full.
pub fn next_token(rows: &[AuditEventRow], limit: i64) -> Option<String> {
    (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten()
}

/// The events as CSV, one row each, with a header.
pub fn csv(rows: &[AuditEventRow]) -> Result<String, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| ApiError::invalid("format", format!("CSV: {e}"));
    out.write_record([
        "event_id",
        "event_time",
        "event_name",
        "face",
        "user_name",
        "access_key_id",
        "session_id",
        "source_ip",
        "user_agent",
        "result",
        "error_message",
        "resources",
        "request_parameters",
    ])
    .map_err(failed)?;
    for e in rows {
        let time = e.event_time.to_string();
        let resources = e.resources.join(" ");
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        out.write_record([
            e.event_id.as_str(),
            &time,
            &e.event_name,
            &e.face,
            &or_empty(&e.user_name),
            &or_empty(&e.access_key_id),
            &or_empty(&e.session_id),
            &or_empty(&e.source_ip),
            &or_empty(&e.user_agent),
            &e.result,
            &or_empty(&e.error_message),
            &resources,
            &e.request_parameters,
        ])
        .map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::invalid("format", format!("CSV: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Read the audit log
#[utoipa::path(
    get,
    path = "/audit-events",
    tag = "teams",
    params(AuditQuery),
    responses(
        (status = 200, description = "Success (JSON, or CSV with format=csv)", body = AuditPage),
        ErrorResponses,
    ),
)]
pub async fn list_audit_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let filter = q.filter()?;
    let rows = s.core.audit().list(&filter).await?;
    let next = next_token(&rows, filter.limit);
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(AuditPage {
            items: rows.iter().map(view).collect(),
            next_token: next,
        })
        .into_response()),
        "csv" => {
            let mut response = (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"audit-events.csv\"",
                    ),
                ],
                csv(&rows)?,
            )
                .into_response();
            if let Some(next) = next
                && let Ok(value) = next.parse()
            {
                response.headers_mut().insert("x-next-token", value);
            }
            Ok(response)
        }
        _ => Err(ApiError::invalid("format", "must be json or csv")),
    }
}
