//! Existence checks for lists of device names: one query per chunk instead of one per name,
//! for batches that name up to 200 devices (or 10,000 from a device-list file).

use crate::q::{CHUNK, Q};
use crate::{Result, Store};
use ota_domain::ProductKey;
use sqlx::Row;
use std::collections::HashSet;

impl Store {
    /// The names among `names` that are not devices of product `pk`, in the given order.
    pub async fn missing_device_names(
        &self,
        pk: &ProductKey,
        names: &[String],
    ) -> Result<Vec<String>> {
        let mut found = HashSet::with_capacity(names.len());
        for chunk in names.chunks(CHUNK) {
            let mut q = Q::with(
                self.dialect(),
                "SELECT device_name FROM devices WHERE product_key = ",
            );
            q.bind(pk.as_str())
                .push(" AND device_name IN (")
                .bind_list(chunk.iter().map(String::as_str))
                .push(")");
            for row in q.fetch_all(self.pool()).await? {
                found.insert(row.try_get::<String, _>("device_name")?);
            }
        }
        Ok(names
            .iter()
            .filter(|n| !found.contains(n.as_str()))
            .cloned()
            .collect())
    }
}
