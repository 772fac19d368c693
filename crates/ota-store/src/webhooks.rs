//! Webhooks (ADR 0016): operators' endpoints, the outbox of events and one delivery row per
//! event and endpoint.
//!
//! Events enter through [`Store::enqueue_in`], inside the transaction of the change they
//! describe, so an event is stored exactly when its change is: a delivery is never sent for
//! a change that rolled back, nor lost for one that committed. Each event gets a delivery
//! row for every enabled endpoint whose filter takes its type, chosen by the store in the
//! same transaction (`events = '*'` or `events LIKE '%,type,%'`, the form
//! `ota_domain::webhook::EventFilter::to_stored` writes).
//!
//! Deliveries of one batch (`ordering_key`) go to an endpoint in event order: a delivery is
//! due only while no earlier one of its batch to its endpoint waits for a retry.

use crate::changes::Change;
use crate::error::touched;
use crate::q::{Q, ROWS};
use crate::{Result, Store};
use ota_domain::Millis;
use ota_domain::webhook::RETRY_WINDOW;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// An endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    pub webhook_id: String,
    pub url: String,
    /// The signing secret, sealed with the server key.
    pub sealed_secret: String,
    /// `*` or `,type,type,`.
    pub events: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: Millis,
    pub modified_at: Millis,
}

/// An event to append to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event_id: String,
    pub event_type: String,
    pub time: Millis,
    /// The batch id for events of a batch, else empty.
    pub ordering_key: String,
    /// The envelope's `data`, JSON text.
    pub data: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    /// Not delivered within the retry window.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    fn parse(s: &str) -> Result<DeliveryStatus> {
        match s {
            "PENDING" => Ok(DeliveryStatus::Pending),
            "DELIVERED" => Ok(DeliveryStatus::Delivered),
            "FAILED" => Ok(DeliveryStatus::Failed),
            other => Err(crate::StoreError::Corrupt(format!(
                "webhook_deliveries.status {other:?}"
            ))),
        }
    }
}

/// One event to one endpoint, with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub webhook_id: String,
    /// The event's place in the outbox.
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub event_time: Millis,
    pub ordering_key: String,
    pub data: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub expires_at: Millis,
    pub last_attempt_at: Option<Millis>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Millis>,
}

/// A due delivery with what sending it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery: DeliveryRow,
    pub url: String,
    pub sealed_secret: String,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub webhook_id: String,
    pub seq: i64,
    pub at: Millis,
    /// The HTTP status, when an answer came.
    pub http_status: Option<i64>,
    pub error: Option<String>,
    /// What follows: delivered, retry at a time, or given up.
    pub then: AttemptThen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptThen {
    Delivered,
    RetryAt(Millis),
    GiveUp,
}

const WEBHOOK_COLUMNS: &str =
    "webhook_id, url, secret, events, description, enabled, created_at, modified_at";
const DELIVERY_COLUMNS: &str = "d.webhook_id, d.seq, e.event_id, e.event_type, e.event_time, \
     d.ordering_key, e.data, d.status, d.attempts, d.next_attempt_at, d.expires_at, \
     d.last_attempt_at, d.last_status, d.last_error, d.delivered_at";
/// The condition on `webhooks w` that it takes events of type `$type_sql`.
fn subscribed(type_sql: &str) -> String {
    format!("w.enabled = 1 AND (w.events = '*' OR w.events LIKE '%,' || {type_sql} || ',%')")
}

fn webhook_row(r: &AnyRow) -> Result<WebhookRow> {
    Ok(WebhookRow {
        webhook_id: r.try_get("webhook_id")?,
        url: r.try_get("url")?,
        sealed_secret: r.try_get("secret")?,
        events: r.try_get("events")?,
        description: r.try_get("description")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        modified_at: r.try_get("modified_at")?,
    })
}

fn delivery_row(r: &AnyRow) -> Result<DeliveryRow> {
    Ok(DeliveryRow {
        webhook_id: r.try_get("webhook_id")?,
        seq: r.try_get("seq")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("event_type")?,
        event_time: r.try_get("event_time")?,
        ordering_key: r.try_get("ordering_key")?,
        data: r.try_get("data")?,
        status: DeliveryStatus::parse(&r.try_get::<String, _>("status")?)?,
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        expires_at: r.try_get("expires_at")?,
        last_attempt_at: r.try_get("last_attempt_at")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

impl Store {
    // ---- endpoints ----

    /// Adds an endpoint; `Conflict` when the id is taken. Endpoint changes are announced
    /// to the other nodes (which cache whether task events are wanted).
    pub async fn insert_webhook(&self, w: &WebhookRow) -> Result<()> {
        let write = sqlx::query(
            "INSERT INTO webhooks (webhook_id, url, secret, events, description, enabled, \
             created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&w.webhook_id)
        .bind(&w.url)
        .bind(&w.sealed_secret)
        .bind(&w.events)
        .bind(w.description.as_deref())
        .bind(i64::from(w.enabled))
        .bind(w.created_at)
        .bind(w.modified_at);
        self.write_announced(write, Change::Webhooks).await?;
        Ok(())
    }

    pub async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRow>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(webhook_row).transpose()
    }

    /// Every endpoint, oldest first.
    pub async fn list_webhooks(&self) -> Result<Vec<WebhookRow>> {
        let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, webhook_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(webhook_row).collect()
    }

    /// Rewrites an endpoint's URL, secret, filter, description and switch; `NotFound` for
    /// no such endpoint.
    pub async fn update_webhook(&self, w: &WebhookRow) -> Result<()> {
        let write = sqlx::query(
            "UPDATE webhooks SET url = $2, secret = $3, events = $4, description = $5, \
             enabled = $6, modified_at = $7 WHERE webhook_id = $1",
        )
        .bind(&w.webhook_id)
        .bind(&w.url)
        .bind(&w.sealed_secret)
        .bind(&w.events)
        .bind(w.description.as_deref())
        .bind(i64::from(w.enabled))
        .bind(w.modified_at);
        touched(self.write_announced(write, Change::Webhooks).await?)
    }

    /// Removes an endpoint with its deliveries; `NotFound` for no such endpoint.
    pub async fn delete_webhook(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM webhooks WHERE webhook_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        touched(n)?;
        self.announce_in(&mut tx, Change::Webhooks).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether an enabled endpoint takes events of `event_type` (the engine caches this so
    /// that its hot path writes no event nobody wants).
    pub async fn webhook_wants(&self, event_type: &str) -> Result<bool> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM webhooks w WHERE {}",
            subscribed("$1")
        );
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(event_type)
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(n > 0)
    }

    // ---- the outbox ----

    /// Appends `events` in their own transaction (for changes that are not a transaction
    /// of the store, and for tests).
    pub async fn enqueue_events(&self, events: &[NewEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Appends `events` to the outbox inside `tx` with a PENDING delivery for each enabled
    /// endpoint that takes its type, due at once and given up [`RETRY_WINDOW`] after the
    /// event. Events no endpoint takes are not stored. Costs one statement when no
    /// endpoint takes any of them, three per few hundred events otherwise.
    pub(crate) async fn enqueue_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        events: &[NewEvent],
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let filters: Vec<String> = sqlx::query("SELECT events FROM webhooks WHERE enabled = 1")
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get("events"))
            .collect::<std::result::Result<_, _>>()?;
        let wanted: Vec<&NewEvent> = events
            .iter()
            .filter(|e| {
                let key = format!(",{},", e.event_type);
                filters.iter().any(|f| f == "*" || f.contains(&key))
            })
            .collect();
        for chunk in wanted.chunks(ROWS) {
            let mut q = Q::with(
                self.dialect(),
                "INSERT INTO webhook_events (event_id, event_type, event_time, ordering_key, \
                 data) VALUES ",
            );
            for (i, e) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" });
                q.bind(e.event_id.as_str())
                    .then(e.event_type.as_str())
                    .then(e.time)
                    .then(e.ordering_key.as_str())
                    .then(e.data.as_str());
                q.push(")");
            }
            q.push(" RETURNING seq");
            let seqs: Vec<i64> = q
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.try_get("seq"))
                .collect::<std::result::Result<_, _>>()?;
            let mut q = Q::with(
                self.dialect(),
                "INSERT INTO webhook_deliveries (webhook_id, seq, ordering_key, status, \
                 attempts, next_attempt_at, expires_at) \
                 SELECT w.webhook_id, e.seq, e.ordering_key, 'PENDING', 0, e.event_time, \
                 e.event_time + ",
            );
            q.bind(RETRY_WINDOW);
            q.push(&format!(
                " FROM webhook_events e JOIN webhooks w ON {} WHERE e.seq IN (",
                subscribed("e.event_type")
            ));
            q.bind_list(seqs).push(")");
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Appends one event for one endpoint only, whatever its filter or switch (an
    /// operator's test event); `NotFound` for no such endpoint.
    pub async fn enqueue_event_to(&self, webhook_id: &str, event: &NewEvent) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM webhooks WHERE webhook_id = $1")
            .bind(webhook_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(crate::StoreError::NotFound);
        }
        let seq: i64 = sqlx::query(
            "INSERT INTO webhook_events (event_id, event_type, event_time, ordering_key, data) \
             VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        )
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(event.time)
        .bind(&event.ordering_key)
        .bind(&event.data)
        .fetch_one(&mut *tx)
        .await?
        .try_get("seq")?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, seq, ordering_key, status, attempts, \
             next_attempt_at, expires_at) VALUES ($1, $2, $3, 'PENDING', 0, $4, $5)",
        )
        .bind(webhook_id)
        .bind(seq)
        .bind(&event.ordering_key)
        .bind(event.time)
        .bind(event.time.saturating_add(RETRY_WINDOW))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- delivery ----

    /// Gives up the pending deliveries whose retry window ended by `now`; returns how many.
    pub async fn expire_deliveries(&self, now: Millis) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE webhook_deliveries SET status = 'FAILED', \
             last_error = COALESCE(last_error, 'not attempted within the retry window') \
             WHERE status = 'PENDING' AND expires_at <= $1",
        )
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected())
    }

    /// At most `limit` deliveries due at `now` to enabled endpoints, in event order: none
    /// while an earlier delivery of its batch to its endpoint waits for a retry. The
    /// caller sends those of one batch and endpoint one after the other, in this order,
    /// and stops at the first that fails. (Exclusive to one node by the worker's lease.)
    pub async fn due_deliveries(&self, now: Millis, limit: i64) -> Result<Vec<DueDelivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, w.url, w.secret FROM webhook_deliveries d \
             JOIN webhook_events e ON e.seq = d.seq \
             JOIN webhooks w ON w.webhook_id = d.webhook_id \
             WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1 AND w.enabled = 1 \
             AND (d.ordering_key = '' OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
               WHERE p.webhook_id = d.webhook_id AND p.ordering_key = d.ordering_key \
               AND p.status = 'PENDING' AND p.seq < d.seq AND p.next_attempt_at > $1)) \
             ORDER BY d.seq LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(DueDelivery {
                    delivery: delivery_row(r)?,
                    url: r.try_get("url")?,
                    sealed_secret: r.try_get("secret")?,
                })
            })
            .collect()
    }

    /// Records attempts: each delivery still PENDING becomes DELIVERED, waits for its retry
    /// or is given up, with its attempt counted. One transaction.
    pub async fn record_attempts(&self, attempts: &[Attempt]) -> Result<()> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for a in attempts {
            let (status, next, delivered_at) = match a.then {
                AttemptThen::Delivered => (DeliveryStatus::Delivered, None, Some(a.at)),
                AttemptThen::RetryAt(at) => (DeliveryStatus::Pending, Some(at), None),
                AttemptThen::GiveUp => (DeliveryStatus::Failed, None, None),
            };
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, \
                 next_attempt_at = COALESCE($4, next_attempt_at), last_attempt_at = $5, \
                 last_status = $6, last_error = $7, delivered_at = $8 \
                 WHERE webhook_id = $1 AND seq = $2 AND status = 'PENDING'",
            )
            .bind(&a.webhook_id)
            .bind(a.seq)
            .bind(status.as_str())
            .bind(next)
            .bind(a.at)
            .bind(a.http_status)
            .bind(a.error.as_deref())
            .bind(delivered_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets events older than `before` whose deliveries all ended (delivered or given
    /// up), with those deliveries; returns how many events went. Pending ones stay.
    pub async fn prune_webhook_events(&self, before: Millis) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM webhook_deliveries WHERE seq IN (SELECT e.seq FROM webhook_events e \
             WHERE e.event_time < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
             WHERE p.seq = e.seq AND p.status = 'PENDING'))",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let n = sqlx::query(
            "DELETE FROM webhook_events WHERE event_time < $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.seq = webhook_events.seq)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// An endpoint's deliveries, newest first: at most `limit`, all before `before_seq`
    /// when given (the keyset cursor).
    pub async fn list_deliveries(
        &self,
        webhook_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d \
             JOIN webhook_events e ON e.seq = d.seq \
             WHERE d.webhook_id = $1 AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(webhook_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(delivery_row).collect()
    }
}
