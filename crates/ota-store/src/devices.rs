//! Devices: registration, lookup, tags, presence.

use crate::error::touched;
use crate::q::{CHUNK, Q, ROWS, last_per_key};
use crate::rows::{self, device_cols};
use crate::{Dialect, Page, Result, Store};
use ota_domain::registry::Device;
use ota_domain::{DeviceKey, IotId, Millis, ProductKey};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::{BTreeMap, HashMap};

impl Store {
    /// Registers devices in one transaction, a few hundred per statement; `Conflict` (and
    /// nothing stored) if any name or IotId exists, or its product does not.
    pub async fn insert_devices(&self, devices: &[Device]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in devices.chunks(ROWS) {
            let mut q = Q::with(
                self.dialect(),
                "INSERT INTO devices (iot_id, product_key, device_name, device_secret, nickname, \
                 online, last_online_at, created_at, modified_at) VALUES ",
            );
            for (i, d) in chunk.iter().enumerate() {
                q.push(if i == 0 { "(" } else { ", (" })
                    .bind(d.iot_id.as_str())
                    .then(d.product_key.as_str())
                    .then(d.device_name.as_str())
                    .then(d.device_secret.as_str())
                    .then(d.nickname.as_deref())
                    .then(i64::from(d.online))
                    .then(d.last_online_at)
                    .then(d.created_at)
                    .then(d.modified_at)
                    .push(")");
            }
            q.push(" RETURNING id, product_key, device_name");
            let mut ids = HashMap::new();
            for r in q.fetch_all(&mut *tx).await? {
                let pk: String = r.try_get("product_key")?;
                let dn: String = r.try_get("device_name")?;
                ids.insert((pk, dn), r.try_get::<i64, _>("id")?);
            }
            let tags: Vec<(i64, &String, &String)> = chunk
                .iter()
                .flat_map(|d| {
                    let id = ids[&(d.product_key.0.clone(), d.device_name.0.clone())];
                    d.tags.iter().map(move |(k, v)| (id, k, v))
                })
                .collect();
            insert_tags(self.dialect(), &mut tx, &tags).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_device(&self, key: &DeviceKey) -> Result<Option<Device>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM devices d WHERE d.product_key = $1 AND d.device_name = $2"
        ))
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .fetch_optional(self.pool())
        .await?;
        self.one_device(row).await
    }

    pub async fn get_device_by_iot_id(&self, iot_id: &IotId) -> Result<Option<Device>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM devices d WHERE d.iot_id = $1"
        ))
        .bind(iot_id.as_str())
        .fetch_optional(self.pool())
        .await?;
        self.one_device(row).await
    }

    /// Devices in registration order, optionally of one product and with a name prefix.
    pub async fn list_devices(
        &self,
        pk: Option<&ProductKey>,
        name_prefix: Option<&str>,
        page: Page,
    ) -> Result<(Vec<Device>, i64)> {
        self.device_page(pk, name_prefix, None, page).await
    }

    /// [`Store::list_devices`] of one product after its device `after` (keyset paging: as
    /// fast at the millionth device as at the first). An unknown `after` gives no devices.
    pub async fn list_devices_after(
        &self,
        pk: &ProductKey,
        name_prefix: Option<&str>,
        after: &str,
        limit: i64,
    ) -> Result<(Vec<Device>, i64)> {
        self.device_page(Some(pk), name_prefix, Some(after), Page::new(0, limit))
            .await
    }

    async fn device_page(
        &self,
        pk: Option<&ProductKey>,
        name_prefix: Option<&str>,
        after: Option<&str>,
        page: Page,
    ) -> Result<(Vec<Device>, i64)> {
        let filter = |q: &mut Q| {
            if let Some(pk) = pk {
                q.push(" AND d.product_key = ").bind(pk.as_str());
            }
            if let Some(prefix) = name_prefix {
                push_name_prefix(q, prefix);
            }
        };
        let mut count = Q::with(
            self.dialect(),
            "SELECT COUNT(*) AS n FROM devices d WHERE 1 = 1",
        );
        filter(&mut count);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        // The page's ids first, from the (product, id) index alone, then only their rows:
        // a deep page skips index entries, not whole rows, and a page past the middle
        // skips them from the end.
        let mut q = Q::with(
            self.dialect(),
            concat!(
                "SELECT ",
                device_cols!(),
                " FROM devices d WHERE d.id IN (SELECT d.id FROM devices d WHERE 1 = 1"
            ),
        );
        filter(&mut q);
        if let (Some(pk), Some(after)) = (pk, after) {
            q.push(" AND d.id > (SELECT a.id FROM devices a WHERE a.product_key = ")
                .bind(pk.as_str())
                .push(" AND a.device_name = ")
                .bind(after.to_owned())
                .push(")");
        }
        let from_end = after
            .is_none()
            .then(|| page.counted_from_end(total))
            .flatten();
        let (order, page) = match from_end {
            Some(page) => (" ORDER BY d.id DESC LIMIT ", page),
            None => (" ORDER BY d.id LIMIT ", page),
        };
        q.push(order).bind(page.limit);
        q.push(" OFFSET ").bind(page.offset);
        // (The inner `d` shadows the outer one, so the filter reads the inner.)
        q.push(") ORDER BY d.id");
        let rows = q.fetch_all(self.pool()).await?;
        Ok((self.devices_with_tags(&rows).await?, total))
    }

    /// Deletes a device with its tags, reported versions and group memberships. Its tasks
    /// stay as history; cancel unfinished ones first.
    pub async fn delete_device(&self, key: &DeviceKey) -> Result<()> {
        let n = sqlx::query("DELETE FROM devices WHERE product_key = $1 AND device_name = $2")
            .bind(key.product_key.as_str())
            .bind(key.device_name.as_str())
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// Replaces a device's tags.
    pub async fn set_device_tags(
        &self,
        key: &DeviceKey,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT id FROM devices WHERE product_key = $1 AND device_name = $2")
            .bind(key.product_key.as_str())
            .bind(key.device_name.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let id: i64 = crate::error::found(row)?.try_get("id")?;
        sqlx::query("DELETE FROM device_tags WHERE device_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let tags: Vec<(i64, &String, &String)> = tags.iter().map(|(k, v)| (id, k, v)).collect();
        insert_tags(self.dialect(), &mut tx, &tags).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The secret of an enabled device (`None` for an unknown or disabled one): one indexed
    /// lookup, the hot path of device authentication.
    pub async fn device_secret(&self, key: &DeviceKey) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT device_secret FROM devices WHERE product_key = $1 AND device_name = $2 \
             AND disabled = 0",
        )
        .bind(key.product_key.as_str())
        .bind(key.device_name.as_str())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("device_secret")).transpose()?)
    }

    /// Records presence changes in one transaction: `(device, online, at)`. `at` becomes
    /// `last_online_at` (the device was online until it went offline). The last change of a
    /// device in the batch wins; unknown devices are ignored. Returns the devices recorded
    /// online that are disabled: a device whose CONNECT passed just before an operator
    /// disabled it, which the disable's own disconnect may have missed.
    pub async fn set_presence(
        &self,
        changes: &[(DeviceKey, bool, Millis)],
    ) -> Result<Vec<DeviceKey>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let changes = last_per_key(changes, |c| &c.0);
        let mut tx = self.begin_write().await?;
        for chunk in changes.chunks(ROWS) {
            if self.dialect() == Dialect::Postgres {
                // Lock in key order first: the UPDATE's own order depends on its plan.
                let mut lock = Q::with(self.dialect(), "SELECT d.id FROM devices d JOIN ");
                lock.values(chunk, |q, (key, _, _)| {
                    q.bind(key.product_key.as_str())
                        .then(key.device_name.as_str());
                })
                .push(
                    " ON d.product_key = v.column1 AND d.device_name = v.column2 \
                     ORDER BY d.product_key, d.device_name FOR NO KEY UPDATE OF d",
                );
                lock.fetch_all(&mut *tx).await?;
            }
            let mut q = Q::with(
                self.dialect(),
                "UPDATE devices SET online = v.column3, last_online_at = v.column4 FROM ",
            );
            q.values(chunk, |q, (key, online, at)| {
                q.bind(key.product_key.as_str())
                    .then(key.device_name.as_str())
                    .then(i64::from(*online))
                    .then(*at);
            })
            .push(" WHERE devices.product_key = v.column1 AND devices.device_name = v.column2");
            q.execute(&mut *tx).await?;
        }
        let online: Vec<&(DeviceKey, bool, Millis)> =
            changes.iter().copied().filter(|c| c.1).collect();
        let mut disabled = Vec::new();
        for chunk in online.chunks(ROWS) {
            let mut q = Q::with(
                self.dialect(),
                "SELECT d.product_key, d.device_name FROM devices d JOIN ",
            );
            q.values(chunk, |q, (key, _, _)| {
                q.bind(key.product_key.as_str())
                    .then(key.device_name.as_str());
            })
            .push(
                " ON d.product_key = v.column1 AND d.device_name = v.column2 \
                 WHERE d.disabled = 1",
            );
            for r in q.fetch_all(&mut *tx).await? {
                let pk: String = r.try_get("product_key")?;
                let dn: String = r.try_get("device_name")?;
                disabled.push(DeviceKey::new(pk, dn));
            }
        }
        tx.commit().await?;
        Ok(disabled)
    }

    pub async fn count_devices(&self, pk: &ProductKey) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM devices WHERE product_key = $1")
                .bind(pk.as_str())
                .fetch_one(self.pool())
                .await?
                .try_get("n")?,
        )
    }

    /// Online devices, of one product or of all.
    pub async fn count_online(&self, pk: Option<&ProductKey>) -> Result<i64> {
        let mut q = Q::with(
            self.dialect(),
            "SELECT COUNT(*) AS n FROM devices d WHERE d.online = 1",
        );
        if let Some(pk) = pk {
            q.push(" AND d.product_key = ").bind(pk.as_str());
        }
        Ok(q.fetch_one(self.pool()).await?.try_get("n")?)
    }

    async fn one_device(&self, row: Option<AnyRow>) -> Result<Option<Device>> {
        match row {
            None => Ok(None),
            Some(row) => Ok(self.devices_with_tags(&[row]).await?.pop()),
        }
    }

    /// Decodes device rows (selected with `device_cols!`) and attaches their tags.
    pub(crate) async fn devices_with_tags(&self, rows: &[AnyRow]) -> Result<Vec<Device>> {
        let devices = rows::all(rows, rows::device)?;
        let mut tags: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
        let ids: Vec<i64> = devices.iter().map(|(id, _)| *id).collect();
        for chunk in ids.chunks(CHUNK) {
            let mut q = Q::with(
                self.dialect(),
                "SELECT device_id, tag_key, tag_value FROM device_tags WHERE device_id IN (",
            );
            q.bind_list(chunk.iter().copied()).push(")");
            for r in q.fetch_all(self.pool()).await? {
                tags.entry(r.try_get("device_id")?)
                    .or_default()
                    .insert(r.try_get("tag_key")?, r.try_get("tag_value")?);
            }
        }
        Ok(devices
            .into_iter()
            .map(|(id, mut d)| {
                d.tags = tags.remove(&id).unwrap_or_default();
                d
            })
            .collect())
    }
}

/// Inserts `(device_id, key, value)` rows.
async fn insert_tags(
    dialect: Dialect,
    tx: &mut Transaction<'_, Any>,
    tags: &[(i64, &String, &String)],
) -> Result<()> {
    for chunk in tags.chunks(ROWS) {
        let mut q = Q::with(
            dialect,
            "INSERT INTO device_tags (device_id, tag_key, tag_value) VALUES ",
        );
        for (i, (id, k, v)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .bind(*id)
                .then(k.as_str())
                .then(v.as_str())
                .push(")");
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `AND d.device_name` starts with `prefix`, compared exactly (SQLite's LIKE ignores case).
pub(crate) fn push_name_prefix(q: &mut Q, prefix: &str) {
    // In bytewise order the names with a prefix are one range of an index on (product,
    // name): a search at a million devices reads only its matches. SQLite compares text
    // bytewise; PostgreSQL is asked to (its own order follows the database's collation,
    // where a prefix need not be a range) and has an index in that order.
    let column = match q.dialect() {
        Some(crate::Dialect::Postgres) => Some(" AND d.device_name COLLATE \"C\""),
        Some(crate::Dialect::Sqlite) => Some(" AND d.device_name"),
        None => None,
    };
    if let Some(column) = column {
        q.push(column)
            .push(" >= ")
            .bind(prefix.to_owned())
            .push(column)
            .push(" < ")
            .bind(format!("{prefix}\u{10FFFF}"));
    }
    q.push(" AND substr(d.device_name, 1, length(")
        .bind(prefix.to_owned())
        .push(")) = ")
        .bind(prefix.to_owned());
}
