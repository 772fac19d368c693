//! Rollouts, each one row: the whole rollout as JSON beside the columns it is found by.
//!
//! Every write names the version it read (`ota_domain::rollout::Rollout::version`), so the
//! driver on one node and an operator's command on another never both move a rollout from
//! the same state: the second write changes nothing and is told so.

use crate::rows::to_json;
use crate::webhooks::NewEvent;
use crate::{Page, Result, Store, StoreError};
use ota_domain::rollout::{Rollout, RolloutStatus};
use ota_domain::{FirmwareId, RolloutId};
use sqlx::Row;

fn rollout(row: &sqlx::any::AnyRow) -> Result<Rollout> {
    let body: String = row.try_get("body_json")?;
    serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("rollout body: {e}")))
}

impl Store {
    /// Stores a new rollout with the webhook events it causes.
    pub async fn insert_rollout(&self, r: &Rollout, events: &[NewEvent]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO rollouts (rollout_id, firmware_id, product_key, status, version, \
             body_json, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(r.rollout_id.as_str())
        .bind(r.firmware_id.as_str())
        .bind(r.product_key.as_str())
        .bind(r.status.as_str())
        .bind(r.version as i64)
        .bind(to_json(r))
        .bind(r.created_at)
        .bind(r.modified_at)
        .execute(&mut *tx)
        .await?;
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_rollout(&self, id: &RolloutId) -> Result<Option<Rollout>> {
        sqlx::query("SELECT body_json FROM rollouts WHERE rollout_id = $1")
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(rollout)
            .transpose()
    }

    /// Writes `r` over the stored version `read_version`, with its webhook events. False
    /// (nothing written) when someone else wrote the rollout since it was read.
    pub async fn update_rollout(
        &self,
        r: &Rollout,
        read_version: u64,
        events: &[NewEvent],
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let written = sqlx::query(
            "UPDATE rollouts SET status = $2, version = $3, body_json = $4, modified_at = $5 \
             WHERE rollout_id = $1 AND version = $6",
        )
        .bind(r.rollout_id.as_str())
        .bind(r.status.as_str())
        .bind(r.version as i64)
        .bind(to_json(r))
        .bind(r.modified_at)
        .bind(read_version as i64)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if written == 0 {
            return Ok(false);
        }
        self.enqueue_in(&mut tx, events).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A package's rollouts, newest first, and how many it has.
    pub async fn list_rollouts_by_firmware(
        &self,
        firmware_id: &FirmwareId,
        page: Page,
    ) -> Result<(Vec<Rollout>, i64)> {
        let rows = sqlx::query(
            "SELECT body_json FROM rollouts WHERE firmware_id = $1 \
             ORDER BY created_at DESC, rollout_id LIMIT $2 OFFSET $3",
        )
        .bind(firmware_id.as_str())
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.pool())
        .await?;
        let total = sqlx::query("SELECT COUNT(*) AS n FROM rollouts WHERE firmware_id = $1")
            .bind(firmware_id.as_str())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((crate::rows::all(&rows, rollout)?, total))
    }

    /// Rollouts not yet completed or cancelled, oldest first: what the driver watches.
    pub async fn active_rollouts(&self) -> Result<Vec<Rollout>> {
        let rows = sqlx::query(
            "SELECT body_json FROM rollouts WHERE status IN ($1, $2) \
             ORDER BY created_at, rollout_id",
        )
        .bind(RolloutStatus::Running.as_str())
        .bind(RolloutStatus::Paused.as_str())
        .fetch_all(self.pool())
        .await?;
        crate::rows::all(&rows, rollout)
    }
}
