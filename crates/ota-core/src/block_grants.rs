//! Which package file a device may read by MQTT block download, remembered for a few
//! seconds.
//!
//! A download is tens to thousands of block requests. Checking the device's unfinished
//! tasks (and whether its delta applies) for every block would cost a store query per
//! block, more than the rest of the update together. The first block looks them up; later
//! blocks of the same stream and file within [`GRANT_MS`] reuse the answer. When one of the
//! device's tasks ends on this node its grants are forgotten at once; a task ended on
//! another node stops further blocks within [`GRANT_MS`].

use ota_domain::{DeviceKey, Millis};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long an answer is reused.
pub(crate) const GRANT_MS: Millis = 10_000;
/// Above this many grants, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 50_000;

/// A file a device may read: its object key and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub blob_key: String,
    pub size: u64,
}

/// One remembered answer: the stream and file asked for, the grant, and until when.
type Entry = (u64, u64, Grant, Millis);

/// Grants by device, so forgetting a device's grants costs one removal.
#[derive(Default)]
pub(crate) struct BlockGrants {
    grants: Mutex<HashMap<DeviceKey, Vec<Entry>>>,
}

impl BlockGrants {
    /// The grant for `device`'s `stream` and `file_id`, if one was given less than
    /// [`GRANT_MS`] before `now`.
    pub fn get(&self, device: &DeviceKey, stream: u64, file_id: u64, now: Millis) -> Option<Grant> {
        let grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        grants
            .get(device)?
            .iter()
            .find(|(s, f, _, until)| *s == stream && *f == file_id && *until > now)
            .map(|(_, _, grant, _)| grant.clone())
    }

    pub fn put(&self, device: &DeviceKey, stream: u64, file_id: u64, grant: Grant, now: Millis) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if grants.len() >= SWEEP_ABOVE {
            grants.retain(|_, entries| {
                entries.retain(|(_, _, _, until)| *until > now);
                !entries.is_empty()
            });
        }
        let entries = grants.entry(device.clone()).or_default();
        entries.retain(|(s, f, _, until)| (*s, *f) != (stream, file_id) && *until > now);
        entries.push((stream, file_id, grant, now + GRANT_MS));
    }

    /// Forgets every grant (tasks ended in bulk, devices not listed).
    pub fn clear(&self) {
        self.grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Forgets every grant of `devices` (one of their tasks ended).
    pub fn forget<'a>(&self, devices: impl IntoIterator<Item = &'a DeviceKey>) {
        let mut grants = self.grants.lock().unwrap_or_else(|e| e.into_inner());
        if grants.is_empty() {
            return;
        }
        for device in devices {
            grants.remove(device);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(name: &str) -> DeviceKey {
        DeviceKey::new("pk", name)
    }

    fn grant(key: &str) -> Grant {
        Grant {
            blob_key: key.to_owned(),
            size: 10,
        }
    }

    #[test]
    fn a_grant_lasts_its_time_for_its_file_only() {
        let grants = BlockGrants::default();
        grants.put(&device("a"), 7, 1, grant("k"), 1_000);
        assert_eq!(grants.get(&device("a"), 7, 1, 1_000), Some(grant("k")));
        assert_eq!(
            grants.get(&device("a"), 7, 1, 1_000 + GRANT_MS - 1),
            Some(grant("k"))
        );
        assert_eq!(grants.get(&device("a"), 7, 1, 1_000 + GRANT_MS), None);
        assert_eq!(grants.get(&device("a"), 7, 2, 1_000), None, "another file");
        assert_eq!(
            grants.get(&device("a"), 8, 1, 1_000),
            None,
            "another stream"
        );
        assert_eq!(
            grants.get(&device("b"), 7, 1, 1_000),
            None,
            "another device"
        );
    }

    #[test]
    fn an_ended_task_forgets_its_device_grants() {
        let grants = BlockGrants::default();
        grants.put(&device("a"), 7, 1, grant("k"), 0);
        grants.put(&device("a"), 7, 2, grant("d"), 0);
        grants.put(&device("b"), 7, 1, grant("k"), 0);
        grants.forget([&device("a")]);
        assert_eq!(grants.get(&device("a"), 7, 1, 1), None);
        assert_eq!(grants.get(&device("a"), 7, 2, 1), None);
        assert_eq!(grants.get(&device("b"), 7, 1, 1), Some(grant("k")));
    }

    #[test]
    fn expired_grants_are_swept_when_many() {
        let grants = BlockGrants::default();
        for i in 0..SWEEP_ABOVE {
            grants.put(&device(&format!("d{i}")), 1, 1, grant("k"), 0);
        }
        grants.put(&device("late"), 1, 1, grant("k"), GRANT_MS);
        let held = grants.grants.lock().unwrap().len();
        assert_eq!(held, 1, "only the live grant is kept");
    }
}
