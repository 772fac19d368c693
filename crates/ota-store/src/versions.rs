//! Module versions reported by devices.

use crate::q::Q;
use crate::rows;
use crate::{Page, Result, Store};
use ota_domain::registry::ModuleVersion;
use ota_domain::{DeviceKey, DeviceName, ProductKey};
use sqlx::Row;

const MV_COLS: &str = "d.product_key, d.device_name, m.module_name, m.version, m.reported_at \
                       FROM module_versions m JOIN devices d ON d.id = m.device_id";

impl Store {
    /// Records reported versions in one transaction. A report older than the stored one is
    /// ignored, so a late duplicate never rolls a version back; unknown devices are skipped.
    pub async fn upsert_module_versions(&self, reports: &[ModuleVersion]) -> Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for r in reports {
            sqlx::query(
                "INSERT INTO module_versions (device_id, module_name, version, reported_at) \
                 SELECT d.id, $3, $4, $5 FROM devices d \
                 WHERE d.product_key = $1 AND d.device_name = $2 \
                 ON CONFLICT (device_id, module_name) DO UPDATE \
                 SET version = excluded.version, reported_at = excluded.reported_at \
                 WHERE module_versions.reported_at <= excluded.reported_at",
            )
            .bind(r.product_key.as_str())
            .bind(r.device_name.as_str())
            .bind(&r.module_name)
            .bind(&r.version)
            .bind(r.reported_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A device's reported versions, by module name.
    pub async fn module_versions(&self, key: &DeviceKey) -> Result<Vec<ModuleVersion>> {
        let mut q = Q::new("SELECT ");
        q.push(MV_COLS)
            .push(" WHERE d.product_key = ")
            .bind(key.product_key.as_str())
            .push(" AND d.device_name = ")
            .bind(key.device_name.as_str())
            .push(" ORDER BY m.module_name");
        rows::all(&q.fetch_all(self.pool()).await?, rows::module_version)
    }

    /// Reported versions of a product's devices (optionally one device), by device and
    /// module.
    pub async fn list_module_versions(
        &self,
        pk: &ProductKey,
        device_name: Option<&DeviceName>,
        page: Page,
    ) -> Result<(Vec<ModuleVersion>, i64)> {
        let filter = |q: &mut Q| {
            q.push(" WHERE d.product_key = ").bind(pk.as_str());
            if let Some(dn) = device_name {
                q.push(" AND d.device_name = ").bind(dn.as_str());
            }
        };
        let mut q = Q::new("SELECT ");
        q.push(MV_COLS);
        filter(&mut q);
        q.push(" ORDER BY d.id, m.module_name LIMIT ")
            .bind(page.limit);
        q.push(" OFFSET ").bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::new(
            "SELECT COUNT(*) AS n FROM module_versions m JOIN devices d ON d.id = m.device_id",
        );
        filter(&mut count);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok((rows::all(&rows, rows::module_version)?, total))
    }

    /// How many of a product's devices report each version of `module`, most common first.
    pub async fn version_distribution(
        &self,
        pk: &ProductKey,
        module: &str,
    ) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT m.version AS version, COUNT(*) AS n FROM module_versions m \
             JOIN devices d ON d.id = m.device_id \
             WHERE d.product_key = $1 AND m.module_name = $2 \
             GROUP BY m.version ORDER BY n DESC, version",
        )
        .bind(pk.as_str())
        .bind(module)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("version")?, r.try_get("n")?)))
            .collect()
    }
}
