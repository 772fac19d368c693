//! Change announcements for the nodes' caches of batches and packages, and for the device
//! connections a node holds (a disabled device is disconnected by whichever node has it).
//!
//! Why: every node keeps read-through caches of jobs and packages for the hot path (pushes,
//! dispatch). A change made through one node must reach the others' caches without a
//! restart. On PostgreSQL each write of a job or package row sends `pg_notify` *in the
//! same transaction*, so the announcement is delivered exactly when the change is committed
//! and never for a change that was rolled back; every node LISTENs on a channel of its own
//! schema ([`ChangeWatcher`]) and evicts the named entry. A listener that lost its
//! connection may have missed announcements: it reports [`Announcement::Missed`], and the
//! node drops every cached entry. SQLite has one server, so nothing is announced there.

use crate::{Result, Store};
use ota_domain::DeviceKey;
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::postgres::PgListener;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Job(String),
    Firmware(String),
    /// An operator disabled the device: the node holding its connection closes it.
    DeviceDisabled(DeviceKey),
    /// A webhook endpoint was added, changed or removed: which events are wanted may differ.
    Webhooks,
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Job(id) => format!("job:{id}"),
            Change::Firmware(id) => format!("firmware:{id}"),
            // A ProductKey holds no ':', so the first one after it ends it.
            Change::DeviceDisabled(key) => {
                format!("device-disabled:{}:{}", key.product_key, key.device_name)
            }
            Change::Webhooks => "webhooks:".to_owned(),
        }
    }

    fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(':')? {
            ("job", id) => Some(Change::Job(id.to_owned())),
            ("firmware", id) => Some(Change::Firmware(id.to_owned())),
            ("device-disabled", key) => {
                let (pk, dn) = key.split_once(':')?;
                Some(Change::DeviceDisabled(DeviceKey::new(pk, dn)))
            }
            ("webhooks", "") => Some(Change::Webhooks),
            _ => None,
        }
    }
}

/// What a [`ChangeWatcher`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// One row changed on some node (this one included).
    Changed(Change),
    /// The listening connection was lost and is being re-established: announcements sent
    /// meanwhile are gone, so anything may have changed.
    Missed,
}

/// Where announcements go: the PostgreSQL channel of this store's schema, and how to open
/// a listening connection to it.
#[derive(Clone)]
pub(crate) struct ChangeChannel {
    /// The connection URL (may hold a password: never printed).
    url: String,
    channel: String,
}

impl std::fmt::Debug for ChangeChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeChannel")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl ChangeChannel {
    /// The channel of the schema `url` works in: platforms on other schemas of the same
    /// database do not hear each other.
    pub(crate) async fn for_schema(store_pool: &sqlx::AnyPool, url: &str) -> Result<Self> {
        use sqlx::Row;
        let schema: String = sqlx::query("SELECT CAST(current_schema() AS TEXT) AS s")
            .fetch_one(store_pool)
            .await?
            .try_get("s")?;
        Ok(ChangeChannel {
            url: url.to_owned(),
            // Channel names are identifiers: at most 63 bytes.
            channel: format!("ota_changes_{schema}").chars().take(63).collect(),
        })
    }
}

/// Receives the announcements of every node of the platform (PostgreSQL only).
pub struct ChangeWatcher {
    listener: Option<PgListener>,
    channel: ChangeChannel,
}

impl ChangeWatcher {
    /// The next announcement. Waits until one arrives; [`Announcement::Missed`] after the
    /// connection broke (then reconnects on the next call, returning `Missed` again while
    /// the database cannot be reached, at most about once a second).
    pub async fn next(&mut self) -> Announcement {
        loop {
            let listener = match &mut self.listener {
                Some(l) => l,
                None => match self.connect().await {
                    Ok(l) => self.listener.insert(l),
                    Err(err) => {
                        tracing::warn!(%err, "change listener cannot connect; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        return Announcement::Missed;
                    }
                },
            };
            match listener.try_recv().await {
                Ok(Some(note)) => match Change::parse(note.payload()) {
                    Some(change) => return Announcement::Changed(change),
                    None => tracing::warn!(payload = note.payload(), "unknown change announced"),
                },
                Ok(None) => return Announcement::Missed,
                Err(err) => {
                    tracing::warn!(%err, "change listener lost its connection");
                    self.listener = None;
                    return Announcement::Missed;
                }
            }
        }
    }

    async fn connect(&self) -> Result<PgListener> {
        let mut listener = PgListener::connect(&self.channel.url).await?;
        listener.listen(&self.channel.channel).await?;
        Ok(listener)
    }
}

impl Store {
    /// A watcher of the changes every node announces, listening already when this returns
    /// (so no change committed afterwards is missed); `None` on SQLite, which has one server.
    pub async fn watch_changes(&self) -> Result<Option<ChangeWatcher>> {
        let Some(channel) = self.changes.clone() else {
            return Ok(None);
        };
        let mut watcher = ChangeWatcher {
            listener: None,
            channel,
        };
        watcher.listener = Some(watcher.connect().await?);
        Ok(Some(watcher))
    }

    /// Announces `change` when `tx` commits (nothing on SQLite).
    pub(crate) async fn announce_in(
        &self,
        tx: &mut sqlx::Transaction<'static, Any>,
        change: Change,
    ) -> Result<()> {
        if let Some(channel) = &self.changes {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&channel.channel)
                .bind(change.payload())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Runs a write of a job or package row and, when it touched a row, announces `change`
    /// in the same transaction. Returns the rows affected.
    pub(crate) async fn write_announced(
        &self,
        write: sqlx::query::Query<'_, Any, AnyArguments>,
        change: Change,
    ) -> Result<u64> {
        self.write_announced_with_events(write, change, &[]).await
    }

    /// [`Store::write_announced`] that also appends `events` to the webhook outbox in the
    /// same transaction, only when the write touched a row.
    pub(crate) async fn write_announced_with_events(
        &self,
        write: sqlx::query::Query<'_, Any, AnyArguments>,
        change: Change,
        events: &[crate::webhooks::NewEvent],
    ) -> Result<u64> {
        if self.changes.is_none() && events.is_empty() {
            return Ok(write.execute(self.writer()).await?.rows_affected());
        }
        let mut tx = self.begin_write().await?;
        let n = write.execute(&mut *tx).await?.rows_affected();
        if n > 0 {
            self.announce_in(&mut tx, change).await?;
            self.enqueue_in(&mut tx, events).await?;
        }
        tx.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back() {
        for change in [
            Change::Job("j:1".into()),
            Change::Firmware("fw-2".into()),
            Change::DeviceDisabled(DeviceKey::new("pk1", "dn:with:colons")),
            Change::Webhooks,
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("task:1"), None);
        assert_eq!(Change::parse("job"), None);
    }
}
