//! Live batch pages: `GET /console/batches/{id}/live` is a server-sent-event stream. Each
//! second it reads the batch's counts (one aggregate query) and the tasks shown on the
//! viewer's page (by id), and sends only what changed: the counts as numbers, and changed
//! rows as HTML fragments rendered by the same code as the page. `console.js` patches them
//! in place, so the page never reloads and is never re-rendered whole.

use super::Console;
use super::form::ConsoleError;
use super::layout::badge;
use super::pages::batch_view::{counts_json, task_row};
use super::pages::batches::{DetailQuery, ROWS};
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ota_domain::task::Task;
use ota_domain::{JobId, Millis, TaskId};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

/// What the viewer has already been sent.
struct Watch {
    c: Console,
    job_id: JobId,
    q: DetailQuery,
    ids: Vec<TaskId>,
    seen: HashMap<TaskId, (&'static str, i32, Millis)>,
    counts: Option<Value>,
    first: bool,
}

impl Watch {
    /// The next update worth sending, or `None` when nothing changed.
    async fn tick(&mut self) -> Result<Option<Value>, ota_core::CoreError> {
        let core = &self.c.app.core;
        let job = core.job(&self.job_id).await?;
        let counts = counts_json(&job, &core.job_counts(&self.job_id).await?);
        let mut tasks: Vec<Task> = if self.first || (self.ids.len() as i64) < ROWS {
            let (_, paging) = crate::console::pages::page_of(self.q.page, ROWS);
            let (page, _) = core
                .list_tasks(&self.q.filter(&self.job_id), paging)
                .await?;
            for t in &page {
                if !self.ids.contains(&t.task_id) {
                    self.ids.push(t.task_id.clone());
                }
            }
            page
        } else {
            Vec::new()
        };
        let missing: Vec<TaskId> = self
            .ids
            .iter()
            .filter(|id| !tasks.iter().any(|t| &t.task_id == *id))
            .cloned()
            .collect();
        if !missing.is_empty() {
            tasks.extend(
                core.store()
                    .tasks_by_ids(&missing)
                    .await
                    .map_err(ota_core::CoreError::from)?,
            );
        }
        let mut rows = Vec::new();
        for t in &tasks {
            let state = (t.status.as_str(), t.progress, t.modified_at);
            if self.seen.insert(t.task_id.clone(), state) != Some(state) {
                rows.push(json!({"id": format!("t-{}", t.task_id), "html": task_row(&self.c, &job, t).into_string()}));
            }
        }
        self.first = false;
        let counts_changed = self.counts.as_ref() != Some(&counts);
        if !counts_changed && rows.is_empty() {
            return Ok(None);
        }
        self.counts = Some(counts.clone());
        Ok(Some(json!({
            "counts": counts,
            "job_status_html": badge(job.status.as_str()).into_string(),
            "rows": rows,
        })))
    }
}

/// `GET /console/batches/{id}/live?status=&page=`.
pub async fn stream(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let job_id = JobId(id);
    c.app.core.job(&job_id).await?;
    let watch = Watch {
        c,
        job_id,
        q,
        ids: Vec::new(),
        seen: HashMap::new(),
        counts: None,
        first: true,
    };
    let events = futures::stream::unfold(watch, |mut w| async move {
        loop {
            if !w.first {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            match w.tick().await {
                Ok(Some(update)) => {
                    let event = Event::default().event("update").data(update.to_string());
                    return Some((Ok(event), w));
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "live batch update failed");
                    // Gone (deleted) or the store failed: a pause, then the browser retries.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    return None;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
