//! The audit log's use cases: recording a call and reading the log back.
//!
//! The faces decide what a call was (its action, caller, parameters with secrets removed,
//! result); this records it with an id and the platform time, and reads pages back newest
//! first. Retention is the only delete ([`crate::nodes`] trims events past
//! `CoreConfig::audit_retention` with the node's other housekeeping).

use crate::{Audit, CoreResult};
use ota_store::{AuditEventRow, AuditFilter};

/// Most events one page may hold.
pub const MAX_AUDIT_PAGE: i64 = 1000;

/// A call to record; the log gives it an id and a time.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub event_name: String,
    pub face: &'static str,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub session_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// A JSON object, secrets and file contents already redacted.
    pub request_parameters: String,
    pub result: String,
    pub error_message: Option<String>,
    pub resources: Vec<String>,
}

impl Audit<'_> {
    /// Appends one event; returns its id.
    pub async fn record(&self, record: AuditRecord) -> CoreResult<String> {
        let event_id = crate::ids::event_id();
        let row = AuditEventRow {
            seq: 0,
            event_id: event_id.clone(),
            event_time: self.now(),
            event_name: record.event_name,
            face: record.face.to_owned(),
            user_name: record.user_name,
            access_key_id: record.access_key_id,
            session_id: record.session_id,
            source_ip: record.source_ip,
            user_agent: record.user_agent.map(|ua| ua.chars().take(512).collect()),
            request_parameters: record.request_parameters,
            result: record.result,
            error_message: record.error_message,
            resources: record.resources,
        };
        self.store().append_audit_event(&row).await?;
        metrics::counter!("ota_audit_events_total", "face" => record.face).increment(1);
        Ok(event_id)
    }

    /// A page of events matching `filter`, newest first (`filter.limit` capped at
    /// [`MAX_AUDIT_PAGE`]).
    pub async fn list(&self, filter: &AuditFilter) -> CoreResult<Vec<AuditEventRow>> {
        let mut filter = filter.clone();
        filter.limit = filter.limit.clamp(1, MAX_AUDIT_PAGE);
        Ok(self.store().list_audit_events(&filter).await?)
    }
}
