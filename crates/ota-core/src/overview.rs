//! Cheap reads for the console's overview and live pages: who is connected (from the
//! device link's memory, no query), online counts and a package's task tally (one
//! aggregate each), so a page about a large fleet never loads rows to count them.

use crate::{Core, CoreResult};
use ota_domain::{DeviceKey, FirmwareId, ProductKey};

/// A package's tasks over all its batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirmwareTally {
    pub succeeded: i64,
    pub failed: i64,
    pub total: i64,
}

impl Core {
    /// Whether the device is connected now (in memory; no store read).
    pub fn is_online(&self, key: &DeviceKey) -> bool {
        self.link().is_online(key)
    }

    /// Devices marked online in the store, of one product or all.
    pub async fn online_count(&self, pk: Option<&ProductKey>) -> CoreResult<i64> {
        Ok(self.store().count_online(pk).await?)
    }

    /// Success and failure counts of a package's tasks, over all its batches.
    pub async fn firmware_tally(&self, id: &FirmwareId) -> CoreResult<FirmwareTally> {
        let (succeeded, failed, total) = self.store().firmware_task_counts(id).await?;
        Ok(FirmwareTally {
            succeeded,
            failed,
            total,
        })
    }
}
