//! Read-through caches of jobs and packages for the hot path, and the follower of what other
//! nodes announce (which also closes the connection of a device disabled through another
//! node). The store stays the truth:
//! every service that changes a job or package evicts it here in the same call, and the
//! store announces the change to the other nodes sharing it, whose [`Core::follow_changes`]
//! evicts it there (PostgreSQL LISTEN/NOTIFY, see `ota_store::ChangeWatcher`). An entry is
//! also dropped after [`MAX_AGE`], a bound on staleness should an announcement be lost
//! without the listener noticing (a half-open connection).

use crate::error::Found;
use crate::{Core, CoreResult};
use ota_domain::firmware::Firmware;
use ota_domain::job::Job;
use ota_domain::{FirmwareId, JobId};
use ota_store::{Announcement, Change, Store};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The longest an entry is used without reading the store again.
pub(crate) const MAX_AGE: Duration = Duration::from_secs(60);

/// One map of entries with their load time.
struct Entries<K, V>(RwLock<HashMap<K, (Arc<V>, Instant)>>);

impl<K: Eq + Hash + Clone, V> Default for Entries<K, V> {
    fn default() -> Self {
        Entries(RwLock::new(HashMap::new()))
    }
}

impl<K: Eq + Hash + Clone, V> Entries<K, V> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.get(key)
            .filter(|(_, at)| at.elapsed() < MAX_AGE)
            .map(|(v, _)| v.clone())
    }

    fn put(&self, key: K, value: Arc<V>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (value, Instant::now()));
    }

    fn evict(&self, key: &K) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    fn clear(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[derive(Default)]
pub(crate) struct Cache {
    jobs: Entries<JobId, Job>,
    firmwares: Entries<FirmwareId, Firmware>,
}

impl Cache {
    pub async fn job(&self, store: &Store, id: &JobId) -> CoreResult<Arc<Job>> {
        if let Some(job) = self.jobs.get(id) {
            return Ok(job);
        }
        let job = Arc::new(
            store
                .get_job(id)
                .await
                .found("JobId", format!("batch {id}"))?,
        );
        self.jobs.put(id.clone(), job.clone());
        Ok(job)
    }

    pub async fn firmware(&self, store: &Store, id: &FirmwareId) -> CoreResult<Arc<Firmware>> {
        if let Some(fw) = self.firmwares.get(id) {
            return Ok(fw);
        }
        let fw = Arc::new(
            store
                .get_firmware(id)
                .await
                .found("FirmwareId", format!("package {id}"))?,
        );
        self.firmwares.put(id.clone(), fw.clone());
        Ok(fw)
    }

    pub fn evict_job(&self, id: &JobId) {
        self.jobs.evict(id);
    }

    pub fn evict_firmware(&self, id: &FirmwareId) {
        self.firmwares.evict(id);
    }

    /// Drops every entry (announcements may have been missed).
    pub fn clear(&self) {
        self.jobs.clear();
        self.firmwares.clear();
    }
}

impl Core {
    /// Keeps this node's caches in step with changes committed by any node, until
    /// `shutdown` (on a store only this node uses, SQLite, there is nothing to follow).
    pub async fn follow_changes(&self, shutdown: &CancellationToken) -> CoreResult<()> {
        let Some(mut watcher) = self.store().watch_changes().await? else {
            // A store no other node shares announces nothing.
            shutdown.cancelled().await;
            return Ok(());
        };
        // Whatever was read before the listener was in place may be stale already.
        self.inner.cache.clear();
        loop {
            let announcement = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                a = watcher.next() => a,
            };
            self.apply_announcement(&announcement);
        }
    }

    /// Evicts what an announcement names; everything when some may have been missed.
    pub(crate) fn apply_announcement(&self, announcement: &Announcement) {
        let cache = &self.inner.cache;
        match announcement {
            Announcement::Changed(Change::Job(id)) => cache.evict_job(&JobId::from(id.as_str())),
            Announcement::Changed(Change::Firmware(id)) => {
                cache.evict_firmware(&FirmwareId::from(id.as_str()));
            }
            Announcement::Changed(Change::DeviceDisabled(key)) => {
                self.link().disconnect(key);
            }
            Announcement::Changed(Change::Webhooks) => self.inner.webhook_wants.forget(),
            Announcement::Missed => {
                metrics::counter!("ota_cache_announcements_missed_total").increment(1);
                cache.clear();
                self.inner.webhook_wants.forget();
            }
        }
    }
}

/// Follows the changes other nodes announce (a worker whose round lasts until shutdown; a
/// store that cannot be listened to makes the round fail, and the runner tries again).
pub(crate) struct ChangeFollower;

impl crate::engine::worker::Worker for ChangeFollower {
    const NAME: &'static str = "change-follower";

    async fn round(
        &mut self,
        core: &Core,
        shutdown: &CancellationToken,
    ) -> CoreResult<crate::engine::worker::Pace> {
        core.follow_changes(shutdown).await?;
        Ok(crate::engine::worker::Pace::Idle)
    }

    async fn until_next(&mut self, _core: &Core) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_evict_and_clear() {
        let entries: Entries<u32, &str> = Entries::default();
        entries.put(1, Arc::new("one"));
        entries.put(2, Arc::new("two"));
        assert_eq!(entries.get(&1).as_deref(), Some(&"one"));
        entries.evict(&1);
        assert_eq!(entries.get(&1), None);
        // An entry older than MAX_AGE is not served.
        if let Some(old) = Instant::now().checked_sub(MAX_AGE) {
            entries
                .0
                .write()
                .unwrap()
                .insert(3, (Arc::new("three"), old));
            assert_eq!(entries.get(&3), None);
        }
        entries.clear();
        assert_eq!(entries.get(&2), None);
    }
}
