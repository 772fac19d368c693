//! Server-generated delta packages and their generation status. Work is claimed row by row
//! (`PENDING` → `RUNNING` only if still pending), so several workers or nodes never generate
//! the same delta twice.

use crate::webhooks::NewEvent;
use crate::{Result, Store};
use sqlx::Row;

/// One delta of a full package from a source version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaRow {
    pub firmware_id: String,
    pub src_version: String,
    /// The full package whose image is the delta's base.
    pub src_firmware_id: String,
    /// `PENDING`, `RUNNING`, `READY`, `SKIPPED` (does not pay off) or `FAILED`.
    pub status: String,
    pub blob_key: Option<String>,
    pub size: Option<i64>,
    pub md5: Option<String>,
    pub sha256: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// Generation progress, 0..=100.
    pub progress: i64,
    /// Patch format version of a READY delta (devices must support it); 0 before.
    pub format: i64,
    /// Memory, in bytes, a device needs to apply a READY delta
    /// (`ota_delta::PatchHeader`: old image plus `apply_memory` when it needs the full old
    /// image, else `apply_memory`); `None` before, and for deltas made before it was recorded.
    pub apply_need: Option<i64>,
}

const COLS: &str = "firmware_id, src_version, src_firmware_id, status, blob_key, size, md5, \
                    sha256, error, created_at, finished_at, progress, format, apply_need";

fn row(r: &sqlx::any::AnyRow) -> Result<DeltaRow> {
    Ok(DeltaRow {
        firmware_id: r.try_get("firmware_id")?,
        src_version: r.try_get("src_version")?,
        src_firmware_id: r.try_get("src_firmware_id")?,
        status: r.try_get("status")?,
        blob_key: r.try_get("blob_key")?,
        size: r.try_get("size")?,
        md5: r.try_get("md5")?,
        sha256: r.try_get("sha256")?,
        error: r.try_get("error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
        progress: r.try_get("progress")?,
        format: r.try_get("format")?,
        apply_need: r.try_get("apply_need")?,
    })
}

impl Store {
    /// Adds a `PENDING` request unless one exists for the package and source version;
    /// a `FAILED` one is requeued. True if queued.
    pub async fn request_delta(&self, d: &DeltaRow) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO package_deltas (firmware_id, src_version, src_firmware_id, status, \
             created_at) VALUES ($1, $2, $3, 'PENDING', $4) \
             ON CONFLICT (firmware_id, src_version) DO UPDATE SET status = 'PENDING', \
             error = NULL, finished_at = NULL, progress = 0 \
             WHERE package_deltas.status = 'FAILED'",
        )
        .bind(d.firmware_id.as_str())
        .bind(d.src_version.as_str())
        .bind(d.src_firmware_id.as_str())
        .bind(d.created_at)
        .execute(self.writer())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The deltas of a package, by source version.
    pub async fn deltas_of(&self, firmware_id: &str) -> Result<Vec<DeltaRow>> {
        let sql = format!(
            "SELECT {COLS} FROM package_deltas WHERE firmware_id = $1 ORDER BY src_version"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(firmware_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row).collect()
    }

    /// Claims one pending delta (marks it `RUNNING`); `None` when nothing is pending.
    /// `RUNNING` rows older than `stale_before` (a crashed worker) are claimable again.
    pub async fn claim_delta(&self, stale_before: i64, now: i64) -> Result<Option<DeltaRow>> {
        for _ in 0..8 {
            let sql = format!(
                "SELECT {COLS} FROM package_deltas WHERE status = 'PENDING' \
                 OR (status = 'RUNNING' AND finished_at < $1) ORDER BY created_at LIMIT 1"
            );
            let Some(found) = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(stale_before)
                .fetch_optional(self.pool())
                .await?
            else {
                return Ok(None);
            };
            let mut d = row(&found)?;
            // finished_at doubles as the claim time while RUNNING.
            let claimed = sqlx::query(
                "UPDATE package_deltas SET status = 'RUNNING', finished_at = $1, progress = 0 \
                 WHERE firmware_id = $2 AND src_version = $3 AND status = $4 \
                 AND finished_at IS NOT DISTINCT FROM $5",
            )
            .bind(now)
            .bind(d.firmware_id.as_str())
            .bind(d.src_version.as_str())
            .bind(d.status.as_str())
            .bind(d.finished_at)
            .execute(self.writer())
            .await?;
            if claimed.rows_affected() == 1 {
                d.status = "RUNNING".into();
                d.finished_at = Some(now);
                d.progress = 0;
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// Records the progress of a `RUNNING` generation and renews its claim (`now`), so a
    /// long generation that still reports progress is not taken for a dead worker's.
    pub async fn delta_progress(
        &self,
        firmware_id: &str,
        src_version: &str,
        progress: i64,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE package_deltas SET progress = $1, finished_at = $2 \
             WHERE firmware_id = $3 AND src_version = $4 AND status = 'RUNNING'",
        )
        .bind(progress)
        .bind(now)
        .bind(firmware_id)
        .bind(src_version)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Deletes every delta of a package; returns the stored patches' blob keys.
    pub async fn delete_deltas_of(&self, firmware_id: &str) -> Result<Vec<String>> {
        let keys =
            sqlx::query("DELETE FROM package_deltas WHERE firmware_id = $1 RETURNING blob_key")
                .bind(firmware_id)
                .fetch_all(self.writer())
                .await?
                .iter()
                .map(|r| r.try_get::<Option<String>, _>("blob_key"))
                .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(keys.into_iter().flatten().collect())
    }

    /// Records the outcome of a generation (status, file, error, finish time, progress,
    /// format and apply need), with the webhook events it causes in the same transaction.
    /// False when the row is gone (its package was deleted meanwhile): nothing is written.
    pub async fn finish_delta(&self, d: &DeltaRow, events: &[NewEvent]) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE package_deltas SET status = $1, blob_key = $2, size = $3, md5 = $4, \
             sha256 = $5, error = $6, finished_at = $7, progress = $10, format = $11, \
             apply_need = $12 \
             WHERE firmware_id = $8 AND src_version = $9",
        )
        .bind(d.status.as_str())
        .bind(d.blob_key.as_deref())
        .bind(d.size)
        .bind(d.md5.as_deref())
        .bind(d.sha256.as_deref())
        .bind(d.error.as_deref())
        .bind(d.finished_at)
        .bind(d.firmware_id.as_str())
        .bind(d.src_version.as_str())
        .bind(d.progress)
        .bind(d.format)
        .bind(d.apply_need)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }
}
