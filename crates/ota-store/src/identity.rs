//! Device identity rows: the disabled flag, dynamic registration and connection tokens.
//!
//! Disabling a device is announced to every node in the writing transaction
//! ([`Change::DeviceDisabled`]), so the node holding its connection closes it. Registration
//! writes are conditional on the row still allowing them (enabled, never registered nor
//! connected), so of two nodes registering one device at once, one wins.

use crate::changes::Change;
use crate::error::touched;
use crate::{Dialect, Result, Store, StoreError};
use ota_domain::identity::RegistrationMethod;
use ota_domain::registry::Device;
use ota_domain::{DeviceKey, Millis};
use sqlx::Row;

/// What a device registered without pre-registration connects with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionToken {
    /// The MQTT client id issued with the token.
    pub client_id: String,
    /// Lower-case hex SHA-256 of the token (the token itself is never stored).
    pub token_sha256: String,
}

/// A registration to record on a device.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationRecord<'a> {
    pub method: RegistrationMethod,
    pub at: Millis,
    /// Issued with a connection token (`regnwl`).
    pub token: Option<&'a ConnectionToken>,
}

impl Store {
    /// Sets the device's disabled flag; a disable is announced to every node in the same
    /// transaction. `NotFound` for an unknown device.
    pub async fn set_device_disabled(
        &self,
        key: &DeviceKey,
        disabled: bool,
        now: Millis,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE devices SET disabled = $3, modified_at = $4 \
             WHERE product_key = $1 AND device_name = $2",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .bind(i64::from(disabled))
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        touched(n)?;
        if disabled {
            self.announce_in(&mut tx, Change::DeviceDisabled(key.clone()))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The client id and token digest of an enabled device registered without
    /// pre-registration; `None` for any other device.
    pub async fn connection_token(&self, key: &DeviceKey) -> Result<Option<ConnectionToken>> {
        let row = sqlx::query(
            "SELECT client_id, token_sha256 FROM devices WHERE product_key = $1 \
             AND device_name = $2 AND disabled = 0 AND token_sha256 IS NOT NULL",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(ConnectionToken {
                client_id: r
                    .try_get::<Option<String>, _>("client_id")?
                    .unwrap_or_default(),
                token_sha256: r.try_get("token_sha256")?,
            })
        })
        .transpose()
    }

    /// Records a dynamic registration on an existing device, if it still may register
    /// (enabled, not registered since its last reset, never connected since): `Stale`
    /// otherwise, `NotFound` for an unknown device.
    pub async fn record_registration(
        &self,
        key: &DeviceKey,
        record: RegistrationRecord<'_>,
    ) -> Result<()> {
        let n = sqlx::query(
            "UPDATE devices SET registered_via = $3, registered_at = $4, client_id = $5, \
             token_sha256 = $6, modified_at = $4 WHERE product_key = $1 AND device_name = $2 \
             AND disabled = 0 AND registered_via IS NULL AND online = 0 \
             AND last_online_at IS NULL",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .bind(record.method.as_str())
        .bind(record.at)
        .bind(record.token.map(|t| t.client_id.as_str()))
        .bind(record.token.map(|t| t.token_sha256.as_str()))
        .execute(self.writer())
        .await?
        .rows_affected();
        if n == 1 {
            return Ok(());
        }
        match self.get_device(key).await? {
            Some(_) => Err(StoreError::Stale),
            None => Err(StoreError::NotFound),
        }
    }

    /// Creates `device` registered by `record`, if its product holds fewer than `quota`
    /// devices registered without pre-registration: `Ok(false)` (nothing stored) when it is
    /// full, `Conflict` when the name exists. The product's row is locked meanwhile, so
    /// nodes creating devices at once cannot pass the quota together.
    pub async fn create_registered_device(
        &self,
        device: &Device,
        record: RegistrationRecord<'_>,
        quota: i64,
    ) -> Result<bool> {
        let pk = device.product_key.as_str();
        let mut tx = self.begin_write().await?;
        let lock = match self.dialect() {
            Dialect::Postgres => {
                "SELECT product_key FROM products WHERE product_key = $1 FOR UPDATE"
            }
            Dialect::Sqlite => "SELECT product_key FROM products WHERE product_key = $1",
        };
        crate::error::found(sqlx::query(lock).bind(pk).fetch_optional(&mut *tx).await?)?;
        let held: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM devices WHERE product_key = $1 AND registered_via = $2",
        )
        .bind(pk)
        .bind(RegistrationMethod::MqttNoPreregistration.as_str())
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if held >= quota {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO devices (iot_id, product_key, device_name, device_secret, nickname, \
             online, last_online_at, created_at, modified_at, registered_via, registered_at, \
             client_id, token_sha256) \
             VALUES ($1, $2, $3, $4, NULL, 0, NULL, $5, $5, $6, $7, $8, $9)",
        )
        .bind(device.iot_id.as_str())
        .bind(pk)
        .bind(device.device_name.as_str())
        .bind(device.device_secret.as_str())
        .bind(device.created_at)
        .bind(record.method.as_str())
        .bind(record.at)
        .bind(record.token.map(|t| t.client_id.as_str()))
        .bind(record.token.map(|t| t.token_sha256.as_str()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Forgets the device's dynamic registration and activation (`ResetThing`): it may
    /// register again, its connection token stops working, and it counts as never
    /// connected. `NotFound` for an unknown device.
    pub async fn reset_registration(&self, key: &DeviceKey, now: Millis) -> Result<()> {
        let n = sqlx::query(
            "UPDATE devices SET registered_via = NULL, registered_at = NULL, client_id = NULL, \
             token_sha256 = NULL, last_online_at = NULL, modified_at = $3 \
             WHERE product_key = $1 AND device_name = $2",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .bind(now)
        .execute(self.writer())
        .await?
        .rows_affected();
        touched(n)
    }
}
