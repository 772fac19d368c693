//! Tasks: a batch's task list, a device's tasks, and the operator's commands on tasks
//! (confirm, cancel, upgrade again).

use crate::body::{ApiJson, ApiPath, ApiQuery};
use crate::error::{ApiError, ApiResult, ErrorResponses};
use crate::page::{PageQuery, Paged};
use crate::state::AppState;
use crate::views;
use crate::views::Items;
use axum::Json;
use axum::extract::State;
use ota_core::TaskFilter;
use ota_domain::task::TaskStatus;
use ota_domain::{DeviceKey, JobId, TaskId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskQuery {
    /// States, comma-separated.
    status: Option<String>,
    device_name: Option<String>,
    /// Page number, from 1; not with `after`.
    page: Option<i64>,
    page_size: Option<i64>,
    /// The list after this task (the previous page's `next_after`): keyset paging, as fast
    /// at the millionth task as at the first. In a batch's list only.
    after: Option<String>,
}

fn parse_statuses(status: Option<&str>) -> Result<Vec<TaskStatus>, ApiError> {
    status
        .map(|list| {
            list.split(',')
                .map(|s| TaskStatus::parse(s.trim()).ok_or_else(|| ApiError::invalid("status", "must be CONFIRM, QUEUED, NOTIFIED, IN_PROGRESS, SUCCEEDED, FAILED or CANCELED")))
                .collect()
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

/// A batch's tasks, filterable by state and device
#[utoipa::path(
    get,
    path = "/jobs/{job_id}/tasks",
    tag = "jobs",
    params(("job_id" = String, Path), TaskQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::TaskView>),
        ErrorResponses,
    ),
)]
pub async fn job_tasks(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<Paged<views::TaskView>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .keyset_page(q.after.as_deref())?;
    let filter = TaskFilter {
        job_id: Some(JobId(id)),
        statuses: parse_statuses(q.status.as_deref())?,
        device_names: q.device_name.into_iter().collect(),
        after: q.after.map(TaskId),
        ..TaskFilter::default()
    };
    let (items, total) = s.core.jobs().list_tasks(&filter, page).await?;
    Ok(Json(
        Paged::new(items.iter().map(views::task).collect(), total, page)
            .with_next_after(|t: &views::TaskView| t.task_id.clone()),
    ))
}

/// A device's tasks
#[utoipa::path(
    get,
    path = "/products/{product_key}/devices/{device_name}/tasks",
    tag = "jobs",
    params(("product_key" = String, Path), ("device_name" = String, Path), TaskQuery),
    responses(
        (status = 200, description = "Success", body = Paged<views::TaskView>),
        ErrorResponses,
    ),
)]
pub async fn device_tasks(
    State(s): State<AppState>,
    ApiPath((pk, dn)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<Paged<views::TaskView>>> {
    let page = PageQuery {
        page: q.page,
        page_size: q.page_size,
    }
    .page()?;
    let filter = TaskFilter {
        device: Some(DeviceKey::new(pk, dn)),
        statuses: parse_statuses(q.status.as_deref())?,
        ..TaskFilter::default()
    };
    let (items, total) = s.core.jobs().list_tasks(&filter, page).await?;
    Ok(Json(Paged::new(
        items.iter().map(views::task).collect(),
        total,
        page,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIds {
    task_ids: Vec<String>,
}

impl TaskIds {
    fn ids(self, max: usize) -> Result<Vec<TaskId>, ApiError> {
        if self.task_ids.is_empty() || self.task_ids.len() > max {
            return Err(ApiError::invalid(
                "task_ids",
                format!("must list 1-{max} task ids"),
            ));
        }
        Ok(self.task_ids.into_iter().map(TaskId).collect())
    }
}

fn task_list(tasks: &[ota_domain::task::Task]) -> Json<Items<views::TaskView>> {
    Json(Items::new(tasks.iter().map(views::task).collect()))
}

/// Confirm tasks waiting in CONFIRM (1-10)
#[utoipa::path(
    post,
    path = "/tasks/confirm",
    tag = "jobs",
    request_body = TaskIds,
    responses(
        (status = 200, description = "Success", body = Items<views::TaskView>),
        ErrorResponses,
    ),
)]
pub async fn confirm_tasks(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<TaskIds>,
) -> ApiResult<Json<Items<views::TaskView>>> {
    Ok(task_list(
        &s.core.tasks().confirm_tasks(&req.ids(10)?).await?,
    ))
}

/// Cancel tasks (1-200)
#[utoipa::path(
    post,
    path = "/tasks/cancel",
    tag = "jobs",
    request_body = TaskIds,
    responses(
        (status = 200, description = "Success", body = Items<views::TaskView>),
        ErrorResponses,
    ),
)]
pub async fn cancel_tasks(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<TaskIds>,
) -> ApiResult<Json<Items<views::TaskView>>> {
    Ok(task_list(
        &s.core.tasks().cancel_tasks(&req.ids(200)?).await?,
    ))
}

/// Re-run failed or cancelled tasks (1-10)
#[utoipa::path(
    post,
    path = "/tasks/reupgrade",
    tag = "jobs",
    request_body = TaskIds,
    responses(
        (status = 200, description = "Success", body = Items<views::TaskView>),
        ErrorResponses,
    ),
)]
pub async fn reupgrade_tasks(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<TaskIds>,
) -> ApiResult<Json<Items<views::TaskView>>> {
    Ok(task_list(
        &s.core.tasks().reupgrade_tasks(&req.ids(10)?).await?,
    ))
}
