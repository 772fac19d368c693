//! CA certificates registered per product for X.509 device logins, and the serials of
//! device certificates revoked in it.
//!
//! They are read on every certificate CONNECT rather than cached, so a CA removed or a
//! serial revoked on one node refuses the next CONNECT on every node sharing the store.

use crate::error::touched;
use crate::{Result, Store};
use ota_domain::{Millis, ProductKey};
use sqlx::Row;

/// A CA certificate registered for a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCaRow {
    pub product_key: ProductKey,
    /// Lower-case hex SHA-256 of the certificate's DER.
    pub ca_id: String,
    pub certificate_pem: String,
    /// The certificate's subject, as text for people.
    pub subject: String,
    /// When the CA certificate expires, epoch ms.
    pub not_after: Millis,
    pub created_at: Millis,
}

/// A revoked device certificate serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedCertificateRow {
    /// Lower-case hex without leading zeros.
    pub serial: String,
    pub revoked_at: Millis,
}

fn ca_row(row: &sqlx::any::AnyRow) -> Result<DeviceCaRow> {
    Ok(DeviceCaRow {
        product_key: row.try_get::<String, _>("product_key")?.into(),
        ca_id: row.try_get("ca_id")?,
        certificate_pem: row.try_get("certificate_pem")?,
        subject: row.try_get("subject")?,
        not_after: row.try_get("not_after")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Registers a CA for its product; `Conflict` when the product has it already.
    pub async fn insert_device_ca(&self, ca: &DeviceCaRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_cas (product_key, ca_id, certificate_pem, subject, not_after, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ca.product_key.as_str())
        .bind(&ca.ca_id)
        .bind(&ca.certificate_pem)
        .bind(&ca.subject)
        .bind(ca.not_after)
        .bind(ca.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The product's CAs, oldest first.
    pub async fn list_device_cas(&self, pk: &ProductKey) -> Result<Vec<DeviceCaRow>> {
        let rows = sqlx::query(
            "SELECT product_key, ca_id, certificate_pem, subject, not_after, created_at \
             FROM device_cas WHERE product_key = $1 ORDER BY created_at, ca_id",
        )
        .bind(pk.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(ca_row).collect()
    }

    /// Removes a CA from its product; `NotFound` when the product does not have it.
    pub async fn delete_device_ca(&self, pk: &ProductKey, ca_id: &str) -> Result<()> {
        let n = sqlx::query("DELETE FROM device_cas WHERE product_key = $1 AND ca_id = $2")
            .bind(pk.as_str())
            .bind(ca_id)
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// Revokes a device certificate serial in a product (repeating it changes nothing).
    pub async fn revoke_certificate(
        &self,
        pk: &ProductKey,
        serial: &str,
        now: Millis,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO revoked_certificates (product_key, serial, revoked_at) \
             VALUES ($1, $2, $3) ON CONFLICT (product_key, serial) DO NOTHING",
        )
        .bind(pk.as_str())
        .bind(serial)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Takes a revocation back; `NotFound` when the serial is not revoked.
    pub async fn unrevoke_certificate(&self, pk: &ProductKey, serial: &str) -> Result<()> {
        let n =
            sqlx::query("DELETE FROM revoked_certificates WHERE product_key = $1 AND serial = $2")
                .bind(pk.as_str())
                .bind(serial)
                .execute(self.writer())
                .await?
                .rows_affected();
        touched(n)
    }

    /// The product's revoked serials, most recent first.
    pub async fn list_revoked_certificates(
        &self,
        pk: &ProductKey,
    ) -> Result<Vec<RevokedCertificateRow>> {
        let rows = sqlx::query(
            "SELECT serial, revoked_at FROM revoked_certificates WHERE product_key = $1 \
             ORDER BY revoked_at DESC, serial",
        )
        .bind(pk.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RevokedCertificateRow {
                    serial: r.try_get("serial")?,
                    revoked_at: r.try_get("revoked_at")?,
                })
            })
            .collect()
    }

    /// Whether the serial is revoked in the product (one primary-key lookup).
    pub async fn certificate_revoked(&self, pk: &ProductKey, serial: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM revoked_certificates WHERE product_key = $1 AND serial = $2",
        )
        .bind(pk.as_str())
        .bind(serial)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }
}
