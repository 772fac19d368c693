//! Products and OTA modules.

use crate::error::touched;
use crate::rows::{self, module_cols, product_cols};
use crate::{Page, Result, Store, StoreError};
use ota_domain::ProductKey;
use ota_domain::registry::{OtaModule, Product};
use sqlx::Row;

impl Store {
    /// Adds a product; `Conflict` if the key exists.
    pub async fn insert_product(&self, p: &Product) -> Result<()> {
        sqlx::query(
            "INSERT INTO products (product_key, product_name, product_secret, description, \
             dynamic_register, regnwl_quota, certificate_auto_create, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(p.product_key.as_str())
        .bind(&p.product_name)
        .bind(&p.product_secret)
        .bind(p.description.as_deref())
        .bind(i64::from(p.dynamic_register))
        .bind(p.regnwl_quota)
        .bind(i64::from(p.certificate_auto_create))
        .bind(p.created_at)
        .bind(p.modified_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_product(&self, pk: &ProductKey) -> Result<Option<Product>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            product_cols!(),
            " FROM products p WHERE p.product_key = $1"
        ))
        .bind(pk.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::product).transpose()
    }

    /// Products in creation order.
    pub async fn list_products(&self, page: Page) -> Result<(Vec<Product>, i64)> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            product_cols!(),
            " FROM products p ORDER BY p.created_at, p.product_key LIMIT $1 OFFSET $2"
        ))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(self.pool())
        .await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM products")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((rows::all(&rows, rows::product)?, total))
    }

    /// Updates name, secret, description, the dynamic registration settings, the
    /// certificate auto-create switch and modification time.
    pub async fn update_product(&self, p: &Product) -> Result<()> {
        let n = sqlx::query(
            "UPDATE products SET product_name = $2, product_secret = $3, description = $4, \
             modified_at = $5, dynamic_register = $6, regnwl_quota = $7, \
             certificate_auto_create = $8 WHERE product_key = $1",
        )
        .bind(p.product_key.as_str())
        .bind(&p.product_name)
        .bind(&p.product_secret)
        .bind(p.description.as_deref())
        .bind(p.modified_at)
        .bind(i64::from(p.dynamic_register))
        .bind(p.regnwl_quota)
        .bind(i64::from(p.certificate_auto_create))
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    /// Deletes a product, its OTA modules, device CAs and revoked certificate serials;
    /// `Conflict` while it still has devices.
    pub async fn delete_product(&self, pk: &ProductKey) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let devices: i64 = sqlx::query("SELECT COUNT(*) AS n FROM devices WHERE product_key = $1")
            .bind(pk.as_str())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if devices > 0 {
            return Err(StoreError::Conflict(format!(
                "product {pk} still has {devices} devices"
            )));
        }
        for table in ["device_cas", "revoked_certificates", "ota_modules"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE product_key = $1"
            )))
            .bind(pk.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let n = sqlx::query("DELETE FROM products WHERE product_key = $1")
            .bind(pk.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        touched(n)?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds an OTA module; `Conflict` if the product has one of that name in any case.
    pub async fn insert_module(&self, m: &OtaModule) -> Result<()> {
        sqlx::query(
            "INSERT INTO ota_modules (product_key, module_name, alias_name, description, \
             created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m.product_key.as_str())
        .bind(&m.module_name)
        .bind(m.alias_name.as_deref())
        .bind(m.description.as_deref())
        .bind(m.created_at)
        .bind(m.modified_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Updates alias, description and modification time of the module named (in any case)
    /// `m.module_name`.
    pub async fn update_module(&self, m: &OtaModule) -> Result<()> {
        let n = sqlx::query(
            "UPDATE ota_modules SET alias_name = $3, description = $4, modified_at = $5 \
             WHERE product_key = $1 AND lower(module_name) = lower($2)",
        )
        .bind(m.product_key.as_str())
        .bind(&m.module_name)
        .bind(m.alias_name.as_deref())
        .bind(m.description.as_deref())
        .bind(m.modified_at)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    pub async fn delete_module(&self, pk: &ProductKey, module_name: &str) -> Result<()> {
        let n = sqlx::query(
            "DELETE FROM ota_modules WHERE product_key = $1 AND lower(module_name) = lower($2)",
        )
        .bind(pk.as_str())
        .bind(module_name)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }

    /// A product's modules in creation order.
    pub async fn list_modules(&self, pk: &ProductKey) -> Result<Vec<OtaModule>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            module_cols!(),
            " FROM ota_modules m WHERE m.product_key = $1 ORDER BY m.created_at, m.module_name"
        ))
        .bind(pk.as_str())
        .fetch_all(self.pool())
        .await?;
        rows::all(&rows, rows::ota_module)
    }

    /// The module named `module_name` in any case.
    pub async fn get_module(
        &self,
        pk: &ProductKey,
        module_name: &str,
    ) -> Result<Option<OtaModule>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            module_cols!(),
            " FROM ota_modules m WHERE m.product_key = $1 AND lower(m.module_name) = lower($2)"
        ))
        .bind(pk.as_str())
        .bind(module_name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::ota_module).transpose()
    }
}
