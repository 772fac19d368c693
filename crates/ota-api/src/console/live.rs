//! Live batch pages: `GET /console/batches/{id}/live` is a server-sent-event stream. Each
//! second it reads the batch's counts by state (one index-only aggregate; the costlier
//! breakdown of reasons less often on a large batch) and the tasks shown on the viewer's
//! page (by id), and sends only what changed: the counts as numbers, and changed
//! rows as HTML fragments rendered by the same code as the page. `console.js` patches them
//! in place, so the page never reloads and is never re-rendered whole.

use super::Console;
use super::form::ConsoleError;
use super::layout::badge;
use super::pages::batch_view::{TaskCommands, counts_json, task_row};
use super::pages::batches::{DetailQuery, ROWS};
use super::session::Ctx;
use axum::extract::{Extension, Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use ota_core::JobCounts;
use ota_domain::task::Task;
use ota_domain::{JobId, Millis, TaskId};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

/// What the viewer has already been sent.
struct Watch {
    c: Console,
    job_id: JobId,
    q: DetailQuery,
    /// What the viewer may do to tasks, so new rows offer what the page's rows offer.
    commands: TaskCommands,
    ids: Vec<TaskId>,
    seen: HashMap<TaskId, (&'static str, i32, Millis)>,
    counts: Option<Value>,
    /// The last full breakdown (why tasks wait, why they failed), when it was read and
    /// what it cost: on a large batch it is read less often.
    full: Option<(JobCounts, Instant, Duration)>,
    first: bool,
}

impl Watch {
    /// Counts by state (cheap, every tick) with the reason breakdown, refreshed when the
    /// states moved and the last read is old relative to its cost.
    async fn counts(&mut self) -> Result<JobCounts, ota_core::CoreError> {
        let core = &self.c.app.core;
        let by_status = core.tasks().job_status_counts(&self.job_id).await?;
        let stale = match &self.full {
            None => true,
            Some((full, at, cost)) => {
                let age = at.elapsed();
                (full.by_status != by_status && age >= (*cost * 4).max(Duration::from_secs(1)))
                    || age >= (*cost * 10).max(Duration::from_secs(10))
            }
        };
        if stale {
            let started = Instant::now();
            let full = core.jobs().counts(&self.job_id).await?;
            self.full = Some((full, Instant::now(), started.elapsed()));
        }
        let mut counts = self.full.as_ref().map(|f| f.0.clone()).unwrap_or_default();
        counts.total = by_status.values().sum();
        counts.by_status = by_status;
        Ok(counts)
    }

    /// The next update worth sending, or `None` when nothing changed.
    async fn tick(&mut self) -> Result<Option<Value>, ota_core::CoreError> {
        let job = self.c.app.core.jobs().get(&self.job_id).await?;
        let counts = counts_json(&job, &self.counts().await?, true);
        let core = &self.c.app.core;
        let mut tasks: Vec<Task> = if self.first || (self.ids.len() as i64) < ROWS {
            let (_, paging) = crate::console::pages::page_of(self.q.page, ROWS);
            let page = core
                .tasks()
                .job_task_page(&self.job_id, &self.q.statuses(), paging)
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
            tasks.extend(core.tasks().tasks_by_ids(&missing).await?);
        }
        let mut rows = Vec::new();
        for t in &tasks {
            let state = (t.status.as_str(), t.progress, t.modified_at);
            if self.seen.insert(t.task_id.clone(), state) != Some(state) {
                rows.push(json!({"id": format!("t-{}", t.task_id), "html": task_row(&self.c, &job, t, self.commands).into_string()}));
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
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ConsoleError> {
    let job_id = JobId(id);
    let job = c.app.core.jobs().get(&job_id).await?;
    let commands = TaskCommands::of(&ctx, job.product_key.as_str());
    let watch = Watch {
        c,
        job_id,
        q,
        commands,
        ids: Vec::new(),
        seen: HashMap::new(),
        counts: None,
        full: None,
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
    // Frequent keep-alives notice a closed page soon, which ends its polling.
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(5))))
}
