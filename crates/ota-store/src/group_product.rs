//! Giving a product-less static group its product. Groups created through the Aliyun API
//! (CreateDeviceGroup) name no product; members come from one product, fixed by the first
//! devices added.

use crate::{Result, Store, StoreError};
use ota_domain::{GroupId, ProductKey};

impl Store {
    /// Sets the product of a group that has none. `Conflict` when the group already holds
    /// another product's devices; `NotFound` when it does not exist.
    pub async fn adopt_group_product(&self, id: &GroupId, pk: &ProductKey) -> Result<()> {
        sqlx::query(
            "UPDATE device_groups SET product_key = $1 \
             WHERE group_id = $2 AND product_key IS NULL",
        )
        .bind(pk.as_str())
        .bind(id.as_str())
        .execute(self.writer())
        .await?;
        match self.get_group(id).await? {
            None => Err(StoreError::NotFound),
            Some(g) if g.product_key.as_ref() == Some(pk) => Ok(()),
            Some(_) => Err(StoreError::Conflict(format!(
                "group {id} holds devices of another product"
            ))),
        }
    }
}
