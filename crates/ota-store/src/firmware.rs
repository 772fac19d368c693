//! Packages ("firmware").

use crate::changes::Change;
use crate::error::touched;
use crate::q::Q;
use crate::rows::{self, firmware_cols, firmware_type_str, to_json};
use crate::{Page, Result, Store};
use ota_domain::firmware::Firmware;
use ota_domain::{FirmwareId, ProductKey};
use sqlx::Row;

impl Store {
    /// Adds a package; `Conflict` if the id exists.
    pub async fn insert_firmware(&self, f: &Firmware) -> Result<()> {
        sqlx::query(
            "INSERT INTO firmwares (firmware_id, product_key, firmware_name, firmware_desc, \
             module_name, firmware_type, src_version, dest_version, sign_method, status, \
             verify_progress, udi, multi_file, files_json, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(f.firmware_id.as_str())
        .bind(f.product_key.as_str())
        .bind(&f.firmware_name)
        .bind(f.firmware_desc.as_deref())
        .bind(&f.module_name)
        .bind(firmware_type_str(f.firmware_type))
        .bind(f.src_version.as_deref())
        .bind(&f.dest_version)
        .bind(f.sign_method.api_literal())
        .bind(i64::from(f.status.code()))
        .bind(i64::from(f.verify_progress))
        .bind(f.udi.as_deref())
        .bind(i64::from(f.multi_file))
        .bind(to_json(&f.files))
        .bind(f.created_at)
        .bind(f.modified_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_firmware(&self, id: &FirmwareId) -> Result<Option<Firmware>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            firmware_cols!(),
            " FROM firmwares f WHERE f.firmware_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::firmware).transpose()
    }

    /// Packages newest first, optionally of one product and one destination version.
    pub async fn list_firmwares(
        &self,
        pk: Option<&ProductKey>,
        dest_version: Option<&str>,
        page: Page,
    ) -> Result<(Vec<Firmware>, i64)> {
        let filter = |q: &mut Q| {
            if let Some(pk) = pk {
                q.push(" AND f.product_key = ").bind(pk.as_str());
            }
            if let Some(v) = dest_version {
                q.push(" AND f.dest_version = ").bind(v);
            }
        };
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", firmware_cols!(), " FROM firmwares f WHERE 1 = 1"),
        );
        filter(&mut q);
        q.push(" ORDER BY f.created_at DESC, f.firmware_id LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::with(
            self.dialect(),
            "SELECT COUNT(*) AS n FROM firmwares f WHERE 1 = 1",
        );
        filter(&mut count);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok((rows::all(&rows, rows::firmware)?, total))
    }

    /// Rewrites every field but the id, product and creation time, and announces the
    /// change to the other nodes' caches.
    pub async fn update_firmware(&self, f: &Firmware) -> Result<()> {
        self.update_firmware_with_events(f, &[]).await
    }

    /// [`Store::update_firmware`] with the webhook events the change causes, appended in
    /// the same transaction.
    pub async fn update_firmware_with_events(
        &self,
        f: &Firmware,
        events: &[crate::webhooks::NewEvent],
    ) -> Result<()> {
        let write = sqlx::query(
            "UPDATE firmwares SET firmware_name = $2, firmware_desc = $3, module_name = $4, \
             firmware_type = $5, src_version = $6, dest_version = $7, sign_method = $8, \
             status = $9, verify_progress = $10, udi = $11, multi_file = $12, files_json = $13, \
             modified_at = $14 WHERE firmware_id = $1",
        )
        .bind(f.firmware_id.as_str())
        .bind(&f.firmware_name)
        .bind(f.firmware_desc.as_deref())
        .bind(&f.module_name)
        .bind(firmware_type_str(f.firmware_type))
        .bind(f.src_version.as_deref())
        .bind(&f.dest_version)
        .bind(f.sign_method.api_literal())
        .bind(i64::from(f.status.code()))
        .bind(i64::from(f.verify_progress))
        .bind(f.udi.as_deref())
        .bind(i64::from(f.multi_file))
        .bind(to_json(&f.files))
        .bind(f.modified_at);
        let change = Change::Firmware(f.firmware_id.as_str().to_owned());
        touched(
            self.write_announced_with_events(write, change, events)
                .await?,
        )
    }

    /// Deletes a package row and announces it to the other nodes' caches.
    pub async fn delete_firmware(&self, id: &FirmwareId) -> Result<()> {
        let write = sqlx::query("DELETE FROM firmwares WHERE firmware_id = $1").bind(id.as_str());
        let n = self
            .write_announced(write, Change::Firmware(id.as_str().to_owned()))
            .await?;
        touched(n)
    }

    /// All packages (for the per-account quota).
    pub async fn count_firmwares(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM firmwares")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?)
    }

    pub async fn firmware_name_exists(&self, name: &str) -> Result<bool> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM firmwares WHERE firmware_name = $1 LIMIT 1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }
}
