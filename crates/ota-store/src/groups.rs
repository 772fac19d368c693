//! Device groups: static member lists and dynamic filters.

use crate::error::{found, touched};
use crate::filter::push_group;
use crate::q::{CHUNK, Q};
use crate::rows::{self, device_cols, group_cols, to_json};
use crate::{Page, Result, Store, StoreError};
use ota_domain::registry::{Device, Group, GroupKind};
use ota_domain::{DeviceName, GroupId, ProductKey};
use sqlx::Row;

impl Store {
    /// Adds a group; `Conflict` if the id exists.
    pub async fn insert_group(&self, g: &Group) -> Result<()> {
        let (kind, filter) = match &g.kind {
            GroupKind::Static => ("STATIC", None),
            GroupKind::Dynamic { filter } => ("DYNAMIC", Some(to_json(filter))),
        };
        sqlx::query(
            "INSERT INTO device_groups (group_id, group_name, product_key, description, kind, \
             filter_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(g.group_id.as_str())
        .bind(&g.group_name)
        .bind(g.product_key.as_ref().map(ProductKey::as_str))
        .bind(g.description.as_deref())
        .bind(kind)
        .bind(filter)
        .bind(g.created_at)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn get_group(&self, id: &GroupId) -> Result<Option<Group>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            group_cols!(),
            " FROM device_groups g WHERE g.group_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(rows::group).transpose()
    }

    /// Groups in creation order, optionally of one product.
    pub async fn list_groups(
        &self,
        pk: Option<&ProductKey>,
        page: Page,
    ) -> Result<(Vec<Group>, i64)> {
        let filter = |q: &mut Q| {
            if let Some(pk) = pk {
                q.push(" WHERE g.product_key = ").bind(pk.as_str());
            }
        };
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", group_cols!(), " FROM device_groups g"),
        );
        filter(&mut q);
        q.push(" ORDER BY g.created_at, g.group_id LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::with(self.dialect(), "SELECT COUNT(*) AS n FROM device_groups g");
        filter(&mut count);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok((rows::all(&rows, rows::group)?, total))
    }

    /// Deletes a group and its member list (not the devices).
    pub async fn delete_group(&self, id: &GroupId) -> Result<()> {
        let n = sqlx::query("DELETE FROM device_groups WHERE group_id = $1")
            .bind(id.as_str())
            .execute(self.writer())
            .await?
            .rows_affected();
        touched(n)
    }

    /// Adds the named devices of the group's product to a static group, in one transaction.
    /// Returns how many were added (unknown names and existing members are skipped).
    pub async fn add_group_members(&self, id: &GroupId, names: &[DeviceName]) -> Result<i64> {
        let pk = self.static_group_product(id).await?;
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for chunk in names.chunks(CHUNK) {
            let mut q = Q::with(
                self.dialect(),
                "INSERT INTO group_members (group_id, device_id) SELECT ",
            );
            q.bind(id.as_str())
                .push(", d.id FROM devices d WHERE d.product_key = ")
                .bind(pk.as_str())
                .push(" AND d.device_name IN (")
                .bind_list(chunk.iter().map(DeviceName::as_str))
                .push(") ON CONFLICT DO NOTHING");
            added += q.execute(&mut *tx).await? as i64;
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Removes the named devices from a static group; returns how many were members.
    pub async fn remove_group_members(&self, id: &GroupId, names: &[DeviceName]) -> Result<i64> {
        let pk = self.static_group_product(id).await?;
        let mut tx = self.begin_write().await?;
        let mut removed = 0;
        for chunk in names.chunks(CHUNK) {
            let mut q = Q::with(
                self.dialect(),
                "DELETE FROM group_members WHERE group_id = ",
            );
            q.bind(id.as_str())
                .push(" AND device_id IN (SELECT d.id FROM devices d WHERE d.product_key = ")
                .bind(pk.as_str())
                .push(" AND d.device_name IN (")
                .bind_list(chunk.iter().map(DeviceName::as_str))
                .push("))");
            removed += q.execute(&mut *tx).await? as i64;
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// The group's members in registration order; for a dynamic group, the devices its
    /// filter matches now.
    pub async fn list_group_members(&self, id: &GroupId, page: Page) -> Result<(Vec<Device>, i64)> {
        let group = found(self.get_group(id).await?)?;
        let mut q = Q::with(
            self.dialect(),
            concat!("SELECT ", device_cols!(), " FROM devices d WHERE 1 = 1"),
        );
        push_group(&mut q, &group);
        q.push(" ORDER BY d.id LIMIT ")
            .bind(page.limit)
            .push(" OFFSET ")
            .bind(page.offset);
        let rows = q.fetch_all(self.pool()).await?;
        let mut count = Q::with(
            self.dialect(),
            "SELECT COUNT(*) AS n FROM devices d WHERE 1 = 1",
        );
        push_group(&mut count, &group);
        let total = count.fetch_one(self.pool()).await?.try_get("n")?;
        Ok((self.devices_with_tags(&rows).await?, total))
    }

    async fn static_group_product(&self, id: &GroupId) -> Result<ProductKey> {
        let group = found(self.get_group(id).await?)?;
        match (&group.kind, group.product_key) {
            (GroupKind::Static, Some(pk)) => Ok(pk),
            (GroupKind::Dynamic { .. }, _) => Err(StoreError::Conflict(format!(
                "group {id} is dynamic: its members follow its filter"
            ))),
            (GroupKind::Static, None) => Err(StoreError::Conflict(format!(
                "group {id} has no product to take devices from"
            ))),
        }
    }
}
