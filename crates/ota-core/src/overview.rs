//! Cheap reads for the console's overview and live pages: who is connected (from the
//! device link's memory, no query), online counts, a package's counts by batch and a batch's
//! counts by state (one aggregate each), and a page of a batch's tasks in index order, so
//! a page about a batch of 100,000 devices never loads or sorts rows to show 50.

use crate::{CoreResult, Firmwares, Registry, Tasks};
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, FirmwareId, JobId, ProductKey, TaskId};
use ota_store::Page;
use std::collections::HashMap;

/// A package's tasks over all its batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirmwareTally {
    pub succeeded: i64,
    pub failed: i64,
    pub total: i64,
}

impl Registry<'_> {
    /// Whether the device is connected now (in memory; no store read).
    pub fn is_online(&self, key: &DeviceKey) -> bool {
        self.link().is_online(key)
    }

    /// Devices marked online in the store, of one product or all.
    pub async fn online_count(&self, pk: Option<&ProductKey>) -> CoreResult<i64> {
        Ok(self.store().count_online(pk).await?)
    }
}

impl Firmwares<'_> {
    /// A package's tasks by batch and state, from the batches' index in one query: the
    /// package's tally and its batches' bars from one read.
    pub async fn status_counts_by_batch(
        &self,
        id: &FirmwareId,
    ) -> CoreResult<HashMap<JobId, HashMap<TaskStatus, i64>>> {
        Ok(self.store().firmware_status_counts(id).await?)
    }
}

impl FirmwareTally {
    /// The tally of a package from its batches' counts by state.
    pub fn of<'a>(batches: impl IntoIterator<Item = &'a HashMap<TaskStatus, i64>>) -> Self {
        let mut tally = FirmwareTally::default();
        for by_status in batches {
            for (status, n) in by_status {
                tally.total += n;
                match status {
                    TaskStatus::Succeeded => tally.succeeded += n,
                    TaskStatus::Failed => tally.failed += n,
                    _ => {}
                }
            }
        }
        tally
    }
}

impl Tasks<'_> {
    /// A batch's tasks by status, from an index only: cheap enough for every page view.
    pub async fn job_status_counts(&self, id: &JobId) -> CoreResult<HashMap<TaskStatus, i64>> {
        Ok(self.store().job_status_counts(id).await?)
    }

    /// One page of a batch's tasks (in `statuses`, all when empty) in device order.
    pub async fn job_task_page(
        &self,
        id: &JobId,
        statuses: &[TaskStatus],
        page: Page,
    ) -> CoreResult<Vec<Task>> {
        Ok(self.store().job_task_page(id, statuses, page).await?)
    }

    /// Tasks by id (for a live view that follows the rows it shows).
    pub async fn tasks_by_ids(&self, ids: &[TaskId]) -> CoreResult<Vec<Task>> {
        Ok(self.store().tasks_by_ids(ids).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_tally_adds_its_batches() {
        let a = HashMap::from([
            (TaskStatus::Succeeded, 5),
            (TaskStatus::Failed, 2),
            (TaskStatus::Queued, 3),
        ]);
        let b = HashMap::from([(TaskStatus::Succeeded, 1), (TaskStatus::Canceled, 4)]);
        let cases = [
            (vec![], FirmwareTally::default()),
            (
                vec![&a],
                FirmwareTally {
                    succeeded: 5,
                    failed: 2,
                    total: 10,
                },
            ),
            (
                vec![&a, &b],
                FirmwareTally {
                    succeeded: 6,
                    failed: 2,
                    total: 15,
                },
            ),
        ];
        for (batches, tally) in cases {
            assert_eq!(FirmwareTally::of(batches), tally);
        }
    }
}
