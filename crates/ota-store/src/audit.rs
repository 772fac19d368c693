//! The audit log: who did what, through which face, with what result.
//!
//! Append-only through the platform: there is no update, and the only delete is retention
//! ([`Store::delete_audit_events_before`]). Pages are read newest first by `seq`, the order
//! of appending, so a page is an index range whatever the filter.

use crate::q::Q;
use crate::{Result, Store};
use ota_domain::Millis;
use sqlx::Row;
use sqlx::any::AnyRow;

/// One audited call, in ActionTrail's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEventRow {
    /// Order of appending; set by the store (ignored on append).
    pub seq: i64,
    pub event_id: String,
    pub event_time: Millis,
    /// The action, e.g. `CreateOTAFirmware`.
    pub event_name: String,
    /// `api` (native REST), `aliyun` (Aliyun RPC) or `console`.
    pub face: String,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    /// The console session or personal access token the call came with.
    pub session_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// JSON object of the request's parameters, secrets and file contents redacted.
    pub request_parameters: String,
    /// `Success`, or the error code the caller was given.
    pub result: String,
    pub error_message: Option<String>,
    /// The ids the call touched.
    pub resources: Vec<String>,
}

/// Which events to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events at or after this time.
    pub from: Option<Millis>,
    /// Events before this time.
    pub to: Option<Millis>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub event_name: Option<String>,
    pub resource_id: Option<String>,
    /// Only events appended before this one (the keyset cursor).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "seq, event_id, event_time, event_name, face, user_name, access_key_id, \
     session_id, source_ip, user_agent, request_parameters, result, error_message, resources";

fn event_row(r: &AnyRow) -> Result<AuditEventRow> {
    let resources: String = r.try_get("resources")?;
    Ok(AuditEventRow {
        seq: r.try_get("seq")?,
        event_id: r.try_get("event_id")?,
        event_time: r.try_get("event_time")?,
        event_name: r.try_get("event_name")?,
        face: r.try_get("face")?,
        user_name: r.try_get("user_name")?,
        access_key_id: r.try_get("access_key_id")?,
        session_id: r.try_get("session_id")?,
        source_ip: r.try_get("source_ip")?,
        user_agent: r.try_get("user_agent")?,
        request_parameters: r.try_get("request_parameters")?,
        result: r.try_get("result")?,
        error_message: r.try_get("error_message")?,
        resources: serde_json::from_str(&resources)
            .map_err(|e| crate::StoreError::Corrupt(format!("audit_events.resources: {e}")))?,
    })
}

impl Store {
    /// Appends an event with the ids it touched; returns its `seq`.
    pub async fn append_audit_event(&self, event: &AuditEventRow) -> Result<i64> {
        let resources = serde_json::to_string(&event.resources)
            .map_err(|e| crate::StoreError::Corrupt(format!("audit resources: {e}")))?;
        let mut tx = self.begin_write().await?;
        let seq: i64 = sqlx::query(
            "INSERT INTO audit_events (event_id, event_time, event_name, face, user_name, \
             access_key_id, session_id, source_ip, user_agent, request_parameters, result, \
             error_message, resources) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq",
        )
        .bind(&event.event_id)
        .bind(event.event_time)
        .bind(&event.event_name)
        .bind(&event.face)
        .bind(event.user_name.as_deref())
        .bind(event.access_key_id.as_deref())
        .bind(event.session_id.as_deref())
        .bind(event.source_ip.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(&event.request_parameters)
        .bind(&event.result)
        .bind(event.error_message.as_deref())
        .bind(&resources)
        .fetch_one(&mut *tx)
        .await?
        .try_get("seq")?;
        let mut ids: Vec<&String> = event.resources.iter().collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            sqlx::query("INSERT INTO audit_resources (resource_id, seq) VALUES ($1, $2)")
                .bind(id)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(seq)
    }

    /// A page of events matching `filter`, newest first.
    pub async fn list_audit_events(&self, filter: &AuditFilter) -> Result<Vec<AuditEventRow>> {
        let mut q = Q::new(&format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1"));
        if let Some(from) = filter.from {
            q.push(" AND event_time >= ").bind(from);
        }
        if let Some(to) = filter.to {
            q.push(" AND event_time < ").bind(to);
        }
        if let Some(user) = &filter.user_name {
            q.push(" AND user_name = ").bind(user.clone());
        }
        if let Some(key) = &filter.access_key_id {
            q.push(" AND access_key_id = ").bind(key.clone());
        }
        if let Some(name) = &filter.event_name {
            q.push(" AND event_name = ").bind(name.clone());
        }
        if let Some(id) = &filter.resource_id {
            q.push(" AND seq IN (SELECT seq FROM audit_resources WHERE resource_id = ")
                .bind(id.clone())
                .push(")");
        }
        if let Some(before) = filter.before_seq {
            q.push(" AND seq < ").bind(before);
        }
        q.push(" ORDER BY seq DESC LIMIT ")
            .bind(filter.limit.max(0));
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(event_row).collect()
    }

    /// Retention: deletes the events older than `cutoff`; returns how many.
    pub async fn delete_audit_events_before(&self, cutoff: Millis) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let last: Option<i64> =
            sqlx::query("SELECT MAX(seq) AS last FROM audit_events WHERE event_time < $1")
                .bind(cutoff)
                .fetch_one(&mut *tx)
                .await?
                .try_get("last")?;
        let Some(last) = last else {
            return Ok(0);
        };
        let n = sqlx::query("DELETE FROM audit_events WHERE seq <= $1 AND event_time < $2")
            .bind(last)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "DELETE FROM audit_resources WHERE seq <= $1 \
             AND seq NOT IN (SELECT seq FROM audit_events WHERE seq <= $1)",
        )
        .bind(last)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n)
    }
}
