//! Signed webhooks (ADR 0016): operators register endpoints; changes of batches, tasks and
//! packages append events to an outbox in the store, in the transaction of the change where
//! the store makes it in one; the [`worker::WebhookDelivery`] worker sends them.
//!
//! The engine's hot path (task saves of the ingest worker) asks [`WantCache`] whether any
//! endpoint takes task events: while none does, a task save writes nothing more. The answer
//! is forgotten when an endpoint changes (on this node at once, on the others when the
//! store's change announcement arrives) and re-read at most every few seconds anyway.

pub mod worker;

use crate::error::Found;
use crate::{CoreResult, Webhooks};
use ota_domain::job::Job;
use ota_domain::task::Task;
use ota_domain::webhook::{self, EventFilter, EventType};
use ota_domain::{DomainError, Millis};
use ota_store::{DeliveryRow, NewEvent, WebhookRow};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use worker::{NoWebhookSender, WebhookSender};

/// Longest page of the delivery log.
pub const MAX_DELIVERY_PAGE: i64 = 500;
/// How long a cached "does anyone take task events" answer is trusted.
const WANT_TTL: Duration = Duration::from_secs(3);

/// A new endpoint: the secret is shown here only.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub secret: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Whether an enabled endpoint takes task events, as last read.
#[derive(Debug, Default)]
pub(crate) struct WantCache {
    task_events: Mutex<Option<(bool, Instant)>>,
}

impl WantCache {
    /// Drops the answer: the next task save reads it again.
    pub(crate) fn forget(&self) {
        *self.task_events.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl crate::Core {
    /// Whether task status events are wanted now: answered from memory, read from the store
    /// at most once per few seconds.
    pub(crate) async fn task_events_wanted(&self) -> CoreResult<bool> {
        let cache = &self.inner.webhook_wants;
        if let Some((wanted, at)) = *cache.task_events.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < WANT_TTL
        {
            return Ok(wanted);
        }
        let wanted = self
            .store()
            .webhook_wants(EventType::TaskStatusChanged.as_str())
            .await?;
        *cache.task_events.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((wanted, Instant::now()));
        Ok(wanted)
    }

    /// Wakes the delivery worker (events were appended).
    pub(crate) fn wake_webhooks(&self) {
        self.inner.webhook_wake.notify_one();
    }
}

/// An outbox event of `t` at `now` with `data`, in the order of `ordering_key`.
pub(crate) fn event(t: EventType, now: Millis, ordering_key: &str, data: Value) -> NewEvent {
    NewEvent {
        event_id: crate::ids::event_id(),
        event_type: t.as_str().to_owned(),
        time: now,
        ordering_key: ordering_key.to_owned(),
        data: data.to_string(),
    }
}

/// The events of a batch's change from `before` to `after` (none for a change that is not
/// one of the batch's life).
pub(crate) fn batch_events(before: &Job, after: &Job, now: Millis) -> Vec<NewEvent> {
    webhook::batch_events(before, after)
        .into_iter()
        .map(|t| event(t, now, after.job_id.as_str(), batch_data(after)))
        .collect()
}

/// The events of a new batch: created, and started when it starts at once.
pub(crate) fn created_events(job: &Job, now: Millis) -> Vec<NewEvent> {
    let mut types = vec![EventType::BatchCreated];
    if job.status == ota_domain::job::JobStatus::InProgress {
        types.push(EventType::BatchStarted);
    }
    types
        .into_iter()
        .map(|t| event(t, now, job.job_id.as_str(), batch_data(job)))
        .collect()
}

fn batch_data(job: &Job) -> Value {
    json!({
        "job_id": job.job_id.as_str(),
        "firmware_id": job.firmware_id.as_str(),
        "product_key": job.product_key.as_str(),
        "job_type": job.job_type.as_str(),
        "status": job.status.as_str(),
        "paused": job.control.pause.map(|p| p.reason.as_str()),
        "name": job.name,
    })
}

/// The event of a task's status change (with the failure cause when it failed).
pub(crate) fn task_event(task: &Task, previous: ota_domain::task::TaskStatus) -> NewEvent {
    event(
        EventType::TaskStatusChanged,
        task.modified_at,
        task.job_id.as_str(),
        json!({
            "task_id": task.task_id.as_str(),
            "job_id": task.job_id.as_str(),
            "product_key": task.product_key.as_str(),
            "device_name": task.device_name.as_str(),
            "module_name": task.module_name,
            "status": task.status.as_str(),
            "previous_status": previous.as_str(),
            "progress": task.progress,
            "failure": task.failure.map(|f| f.as_str()),
            "cancel_reason": task.cancel_reason.map(|c| c.as_str()),
            "description": task.desc,
        }),
    )
}

fn no_webhook(id: &str) -> DomainError {
    DomainError::not_found("webhook_id", format!("no webhook {id}"))
}

fn check_description(d: &Option<String>) -> Result<(), DomainError> {
    match d {
        Some(d) if d.chars().count() > 256 => Err(DomainError::invalid(
            "description",
            "must be at most 256 characters",
        )),
        _ => Ok(()),
    }
}

impl Webhooks<'_> {
    fn seal(&self, id: &str, secret: &str) -> String {
        self.config()
            .server_key
            .seal(&format!("webhook:{id}"), secret)
    }

    /// The signing secret of an endpoint, opened.
    pub(crate) fn open_secret(&self, id: &str, sealed: &str) -> Option<String> {
        self.config()
            .server_key
            .open(&format!("webhook:{id}"), sealed)
            .ok()
    }

    /// Registers an endpoint. Errors name the field and the rule.
    pub async fn create(&self, new: NewWebhook) -> CoreResult<WebhookRow> {
        webhook::validate_url(&new.url)?;
        webhook::validate_secret(&new.secret)?;
        let filter = EventFilter::parse(&new.events)?;
        check_description(&new.description)?;
        let id = format!("wh_{}", crate::ids::object_name());
        let now = self.now();
        let row = WebhookRow {
            sealed_secret: self.seal(&id, &new.secret),
            webhook_id: id,
            url: new.url,
            events: filter.to_stored(),
            description: new.description,
            enabled: true,
            created_at: now,
            modified_at: now,
        };
        self.store().insert_webhook(&row).await?;
        self.inner.webhook_wants.forget();
        Ok(row)
    }

    /// Every endpoint, oldest first.
    pub async fn list(&self) -> CoreResult<Vec<WebhookRow>> {
        Ok(self.store().list_webhooks().await?)
    }

    pub async fn get(&self, id: &str) -> CoreResult<WebhookRow> {
        self.store()
            .get_webhook(id)
            .await
            .found("webhook_id", format!("webhook {id}"))
    }

    /// Changes an endpoint's URL, secret, filter, description or switch.
    pub async fn update(&self, id: &str, change: WebhookChange) -> CoreResult<WebhookRow> {
        let mut row = self.get(id).await?;
        if let Some(url) = change.url {
            webhook::validate_url(&url)?;
            row.url = url;
        }
        if let Some(secret) = change.secret {
            webhook::validate_secret(&secret)?;
            row.sealed_secret = self.seal(id, &secret);
        }
        if let Some(events) = change.events {
            row.events = EventFilter::parse(&events)?.to_stored();
        }
        if change.description.is_some() {
            check_description(&change.description)?;
            row.description = change.description.filter(|d| !d.is_empty());
        }
        if let Some(enabled) = change.enabled {
            row.enabled = enabled;
        }
        row.modified_at = self.now();
        self.store().update_webhook(&row).await?;
        self.inner.webhook_wants.forget();
        self.wake_webhooks();
        Ok(row)
    }

    /// Removes an endpoint with its delivery log.
    pub async fn delete(&self, id: &str) -> CoreResult<()> {
        self.store()
            .delete_webhook(id)
            .await
            .map_err(|err| match err {
                ota_store::StoreError::NotFound => no_webhook(id).into(),
                other => crate::CoreError::from(other),
            })?;
        self.inner.webhook_wants.forget();
        Ok(())
    }

    /// An endpoint's deliveries, newest first, before `before_seq` when given.
    pub async fn deliveries(
        &self,
        id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> CoreResult<Vec<DeliveryRow>> {
        if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
            return Err(DomainError::invalid(
                "page_size",
                format!("must be 1-{MAX_DELIVERY_PAGE}"),
            )
            .into());
        }
        self.get(id).await?;
        Ok(self.store().list_deliveries(id, before_seq, limit).await?)
    }

    /// Queues a `webhook.test` event to this endpoint only; returns the event's id.
    pub async fn send_test(&self, id: &str) -> CoreResult<String> {
        let now = self.now();
        let e = event(
            EventType::Test,
            now,
            "",
            json!({ "webhook_id": id, "message": "a test event sent by an operator" }),
        );
        self.store()
            .enqueue_event_to(id, &e)
            .await
            .map_err(|err| match err {
                ota_store::StoreError::NotFound => no_webhook(id).into(),
                other => crate::CoreError::from(other),
            })?;
        self.wake_webhooks();
        Ok(e.event_id)
    }
}

/// The filter of an endpoint as its operator lists it.
pub fn event_names(row: &WebhookRow) -> Vec<String> {
    EventFilter::from_stored(&row.events).names()
}
