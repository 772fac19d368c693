//! Fleet-wide task counts by status, for the `/metrics` gauges: one grouped query.

use crate::{Result, Store};
use ota_domain::task::TaskStatus;
use sqlx::Row;

impl Store {
    /// How many tasks are in each status, across every batch (statuses with none are 0).
    pub async fn task_status_totals(&self) -> Result<Vec<(TaskStatus, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status")
            .fetch_all(self.pool())
            .await?;
        let mut totals: Vec<(TaskStatus, i64)> = TaskStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for row in rows {
            let status: String = row.try_get("status")?;
            if let Some(slot) = totals.iter_mut().find(|(s, _)| s.as_str() == status) {
                slot.1 = row.try_get("n")?;
            }
        }
        Ok(totals)
    }
}
