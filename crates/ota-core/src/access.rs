//! Who may call, and whether the platform can answer: request nonces (replay protection shared by every node), the
//! console's session key, readiness and fleet gauges. The faces reach the store only
//! through the core; these are the few reads that are not a use case of their own.

use crate::{Access, CoreResult};
use ota_domain::job::{Job, JobStatus};
use ota_domain::task::TaskStatus;
use ota_store::NodeRow;

/// The store key of the console's session-signing secret.
const CONSOLE_SESSION_SECRET: &str = "console_session_secret";

impl Access<'_> {
    /// Records `nonce` in `scope` until `expires_at_ms`; `false` when it was used before (a
    /// replayed request), on whichever node.
    pub async fn use_nonce(
        &self,
        scope: &str,
        nonce: &str,
        now_ms: i64,
        expires_at_ms: i64,
    ) -> CoreResult<bool> {
        Ok(self
            .store()
            .use_nonce(scope, nonce, now_ms, expires_at_ms)
            .await?)
    }

    /// The secret the console signs its session cookies with: made by the first node that
    /// asks, then the same on every node.
    pub async fn console_session_secret(&self) -> CoreResult<String> {
        if let Some(secret) = self.store().kv_get(CONSOLE_SESSION_SECRET).await? {
            return Ok(secret);
        }
        let fresh = crate::ids::signing_secret();
        Ok(self
            .store()
            .kv_get_or_insert(CONSOLE_SESSION_SECRET, &fresh)
            .await?)
    }

    /// `Ok` once the store answers a query.
    pub async fn check_ready(&self) -> CoreResult<()> {
        self.store().count_firmwares().await?;
        Ok(())
    }

    /// How many tasks are in each status, over every batch.
    pub async fn task_status_totals(&self) -> CoreResult<Vec<(TaskStatus, i64)>> {
        Ok(self.store().task_status_totals().await?)
    }

    /// Batches planned or in progress.
    pub async fn active_jobs(&self) -> CoreResult<Vec<Job>> {
        Ok(self
            .store()
            .list_jobs_by_status(&[JobStatus::InProgress, JobStatus::Planned])
            .await?)
    }

    /// Every registered node, lost ones included, oldest first.
    pub async fn list_nodes(&self) -> CoreResult<Vec<NodeRow>> {
        Ok(self.store().list_nodes().await?)
    }
}
