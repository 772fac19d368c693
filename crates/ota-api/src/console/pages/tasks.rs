//! Operator commands on single tasks of a batch: confirm, cancel, re-upgrade — one row's
//! button or the selected rows. The result comes back as the next page's message.

use crate::console::Console;
use crate::console::form::FormData;
use crate::console::layout::enc;
use crate::console::session::redirect_with;
use axum::extract::{Form, Path, State};
use axum::response::Response;
use ota_domain::{JobId, TaskId};

/// `POST /console/batches/{id}/tasks`.
pub async fn act(
    State(c): State<Console>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = FormData::new(pairs);
    let back = form
        .get("back")
        .filter(|b| b.starts_with("/console/batches/") && !b.contains("//"))
        .map_or_else(|| format!("/console/batches/{}", enc(&id)), str::to_owned);
    let action = form.get("action").unwrap_or_default();
    let (verb, ids) = match action.split_once(':') {
        Some((verb, one)) => (verb, vec![one.to_owned()]),
        None => (
            action.strip_prefix("bulk-").unwrap_or(action),
            form.all("task"),
        ),
    };
    if ids.is_empty() {
        return redirect_with(&back, "Refused: select at least one device first.");
    }
    let core = &c.app.core;
    let result = match verb {
        "confirm" => core.tasks().confirm_task_ids(ids).await,
        "cancel" => {
            core.tasks()
                .cancel_tasks(&ids.into_iter().map(TaskId).collect::<Vec<_>>())
                .await
        }
        "reupgrade" => {
            core.tasks()
                .reupgrade_job_tasks(&JobId(id.clone()), ids)
                .await
        }
        _ => return redirect_with(&back, "Refused: unknown action."),
    };
    match result {
        Ok(tasks) => {
            let what = match verb {
                "confirm" => "Confirmed",
                "cancel" => "Cancelled",
                _ => "Re-upgrade requested for",
            };
            let names: Vec<String> = tasks.iter().map(|t| t.device_name.to_string()).collect();
            redirect_with(&back, &format!("{what} {}.", names.join(", ")))
        }
        Err(e) => {
            let e = crate::console::form::FormError::from(e);
            redirect_with(&back, &format!("Refused: {}", e.summary()))
        }
    }
}
