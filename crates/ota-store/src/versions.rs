//! Module versions reported by devices.

use crate::q::{Q, ROWS};
use crate::rows;
use crate::{Page, Result, Store};
use ota_domain::registry::ModuleVersion;
use ota_domain::{DeviceKey, DeviceName, ProductKey};
use sqlx::Row;
use std::collections::HashMap;

const MV_COLS: &str = "d.product_key, d.device_name, m.module_name, m.version, m.reported_at, \
                       m.delta_formats, m.delta_memory \
                       FROM module_versions m JOIN devices d ON d.id = m.device_id";

/// Stored as `2,3`.
fn formats_text(formats: &[u8]) -> String {
    formats
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Stored as BIGINT: a limit beyond `i64::MAX` bytes is no limit in practice, so it is kept
/// as `i64::MAX` rather than refused.
fn memory_limit(limit: Option<u64>) -> Option<i64> {
    limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX))
}

impl Store {
    /// Records reported versions (and the delta formats and memory limit the device
    /// announced) in one
    /// transaction. A report older than the stored one is
    /// ignored, so a late duplicate never rolls a version back; unknown devices are skipped.
    pub async fn upsert_module_versions(&self, reports: &[ModuleVersion]) -> Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        // One statement may not touch a row twice (PostgreSQL refuses): keep the newest
        // report per device and module.
        let mut newest: HashMap<(&str, &str, &str), &ModuleVersion> = HashMap::new();
        for r in reports {
            let k = (
                r.product_key.as_str(),
                r.device_name.as_str(),
                r.module_name.as_str(),
            );
            match newest.get(&k) {
                Some(old) if old.reported_at > r.reported_at => {}
                _ => {
                    newest.insert(k, r);
                }
            }
        }
        // Sorted, so that concurrent batches take row locks in one order.
        let mut reports: Vec<&ModuleVersion> = newest.into_values().collect();
        reports.sort_by(|a, b| {
            (&a.product_key, &a.device_name, &a.module_name).cmp(&(
                &b.product_key,
                &b.device_name,
                &b.module_name,
            ))
        });
        let mut tx = self.begin_write().await?;
        for chunk in reports.chunks(ROWS) {
            let mut q = Q::with(
                self.dialect(),
                "INSERT INTO module_versions (device_id, product_key, module_name, version, \
                 reported_at, delta_formats, delta_memory) \
                 SELECT d.id, d.product_key, v.column3, v.column4, v.column5, v.column6, v.column7 FROM ",
            );
            q.values(chunk, |q, r| {
                q.bind(r.product_key.as_str())
                    .then(r.device_name.as_str())
                    .then(r.module_name.as_str())
                    .then(r.version.as_str())
                    .then(r.reported_at)
                    .then(formats_text(&r.delta_formats))
                    .then(memory_limit(r.delta_memory));
            })
            .push(
                " JOIN devices d ON d.product_key = v.column1 AND d.device_name = v.column2 \
                 WHERE true ORDER BY v.column1, v.column2, v.column3 \
                 ON CONFLICT (device_id, module_name) DO UPDATE \
                 SET version = excluded.version, reported_at = excluded.reported_at, \
                 delta_formats = excluded.delta_formats, delta_memory = excluded.delta_memory \
                 WHERE module_versions.reported_at <= excluded.reported_at",
            );
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A device's reported versions, by module name.
    pub async fn module_versions(&self, key: &DeviceKey) -> Result<Vec<ModuleVersion>> {
        let mut q = Q::with(self.dialect(), "SELECT ");
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
        let mut q = Q::with(self.dialect(), "SELECT ");
        q.push(MV_COLS);
        filter(&mut q);
        q.push(" ORDER BY d.id, m.module_name LIMIT ")
            .bind(page.limit);
        q.push(" OFFSET ").bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::with(
            self.dialect(),
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
            "SELECT version, COUNT(*) AS n FROM module_versions \
             WHERE product_key = $1 AND module_name = $2 \
             GROUP BY version ORDER BY n DESC, version",
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
