//! ota-store: the persistent truth of the OTA platform — registry, packages, batches,
//! per-device tasks, their timers and housekeeping rows — behind one concrete [`Store`].
//!
//! # Decision: one implementation over `sqlx::any`, two dialects
//! [`Store`] wraps an `AnyPool`; the [`Dialect`] (SQLite or PostgreSQL) is chosen from the
//! URL (`sqlite://path` or `postgres://…`). SQL is written once with `$1..$n` placeholders:
//! PostgreSQL takes them natively and sqlx's SQLite driver binds `$NNN` to argument NNN itself
//! (`sqlx-sqlite` `arguments.rs`), so fixed statements need no rewriting — the conformance
//! suite proves it on both backends. Statements built at run time (`q::Q`, multi-row `VALUES`
//! lists with thousands of arguments) use anonymous `?` on SQLite instead, because SQLite
//! resolves named parameters by linear search (quadratic binding; 3× slower task saves).
//! Where the dialects really differ the code branches on [`Dialect`]:
//! DDL (`migrations/{sqlite,postgres}/`), connection setup (SQLite: WAL, `synchronous=NORMAL`,
//! `busy_timeout`, `foreign_keys`), write transactions (`BEGIN IMMEDIATE` on SQLite so a
//! reader never has to upgrade its lock), and claiming work (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite has a single writer). Upserts use `ON CONFLICT … DO UPDATE/NOTHING`,
//! identical on both.
//!
//! Storage conventions, chosen for the Any driver's small common type set: times are BIGINT
//! epoch milliseconds, booleans INTEGER 0/1, enums their stable strings (`as_str`/`parse`
//! of the domain types), structured values (policy, tags, files, filters) JSON text.
//!
//! Batch operations take slices and run in one transaction; bulk task creation is set-based
//! SQL (`INSERT … SELECT` in chunks), never a loop of single inserts.
//!
//! This crate may import `ota-domain` and sqlx; it must not import the engine, the protocol
//! crates or any operator face.

mod audit;
mod backup;
mod bulk_cancel;
mod changes;
mod counts;
mod deltas;
mod device_cas;
mod device_names;
mod devices;
mod error;
mod filter;
mod firmware;
mod group_product;
mod groups;
mod housekeeping;
mod identity;
mod job_pages;
mod job_tasks;
mod jobs;
mod migrate;
mod nodes;
mod nonces;
mod products;
mod pushable_jobs;
mod q;
mod rollouts;
mod rows;
mod signing_keys;
mod status_totals;
mod task_creation;
mod tasks;
mod teams;
mod told_tasks;
mod versions;
mod webhooks;

pub use audit::{AuditEventRow, AuditFilter};
pub use changes::{Announcement, Change, ChangeWatcher};
pub use counts::{JobCounts, QueuedCounts};
pub use deltas::DeltaRow;
pub use device_cas::{DeviceCaRow, RevokedCertificateRow};
pub use error::{Result, StoreError};
pub use housekeeping::UploadToken;
pub use identity::{ConnectionToken, RegistrationRecord};
pub use nodes::NodeRow;
pub use signing_keys::SigningKeyRow;
pub use task_creation::{TaskCreation, TaskTarget};
pub use tasks::TaskFilter;
pub use teams::{AccessKeyRow, ApiTokenRow, PolicyRow, UserRow};
pub use webhooks::{
    Attempt, AttemptThen, DeliveryRow, DeliveryStatus, DueDelivery, NewEvent, WebhookRow,
};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor, Transaction};
use std::time::Duration;

/// The SQL dialect behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    pub const fn new(offset: i64, limit: i64) -> Self {
        Self { offset, limit }
    }

    /// The same rows counted from the other end of `total`, when that skips fewer of them:
    /// a numbered page past the middle of a long listing is read in reverse order, so the
    /// last page skips nothing, as the first does. `None` for a page in the first half.
    pub(crate) fn counted_from_end(self, total: i64) -> Option<Page> {
        if self.offset * 2 <= total {
            return None;
        }
        let end = (self.offset + self.limit).min(total);
        Some(Page {
            offset: total - end,
            limit: (end - self.offset).max(0),
        })
    }
}

#[cfg(test)]
mod page_tests {
    use super::Page;

    #[test]
    fn pages_past_the_middle_are_counted_from_the_end() {
        // (offset, limit, total) -> the page from the end, if any.
        let cases = [
            (0, 50, 1_000, None),
            (500, 50, 1_000, None),
            (501, 50, 1_000, Some(Page::new(449, 50))),
            (950, 50, 1_000, Some(Page::new(0, 50))),
            (980, 50, 1_000, Some(Page::new(0, 20))),
            (1_000, 50, 1_000, Some(Page::new(0, 0))),
            (2_000, 50, 1_000, Some(Page::new(0, 0))),
            (0, 50, 0, None),
            (1, 50, 1, Some(Page::new(0, 0))),
        ];
        for (offset, limit, total, expected) in cases {
            let page = Page::new(offset, limit);
            assert_eq!(
                page.counted_from_end(total),
                expected,
                "{page:?} of {total}"
            );
        }
    }
}

/// The store: a pool of connections to one SQLite file or one PostgreSQL database.
/// Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Where writes go. On SQLite, one connection: SQLite has a single writer anyway, and
    /// queueing on the pool is first-come first-served, whereas contending for the file lock
    /// sleeps in the busy handler. On PostgreSQL, the same pool as reads.
    writer: AnyPool,
    dialect: Dialect,
    /// Where changes of jobs and packages are announced to the other nodes (PostgreSQL).
    changes: Option<changes::ChangeChannel>,
}

/// SQLite waits this long for the writer lock before reporting `database is locked`.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;
/// Page cache of the SQLite writer connection, which walks every index a write touches.
const SQLITE_WRITER_CACHE_KIB: u32 = 64 * 1024;
/// Page cache of each SQLite reader connection.
const SQLITE_READER_CACHE_KIB: u32 = 16 * 1024;

impl Store {
    /// Connects to `url` (`sqlite://path[?mode=rwc]`, `sqlite::memory:` or `postgres://…`),
    /// creating a missing SQLite file, and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        let store = Self::attach(url).await?;
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Connects to `url` as [`Store::connect`] does but leaves the schema as it is: for
    /// tools that read a store a running server owns (a backup), which must not change it.
    pub async fn attach(url: &str) -> Result<Store> {
        install_default_drivers();
        let (dialect, url) = if url.starts_with("sqlite:") {
            let url = if url.contains("mode=") || url.contains(":memory:") {
                url.to_owned()
            } else if url.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Dialect::Sqlite, url)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            (Dialect::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                format!("unsupported database URL scheme: {url}").into(),
            )));
        };
        // SQLite has one writer whatever the pool size; a few connections let reads run
        // beside it (WAL) without piling up waiters on the lock.
        // An in-memory SQLite database lives and dies with its one connection.
        let memory = dialect == Dialect::Sqlite && url.contains(":memory:");
        let max = match dialect {
            Dialect::Sqlite if memory => 1,
            Dialect::Sqlite => 4,
            Dialect::Postgres => 16,
        };
        // SQLite's page cache per connection (KiB; it grows only as pages are used). The
        // default 2 MiB made a million-task batch re-read its index pages through system
        // calls for every row (docs/benchmarks.md, "Batch creation").
        let connect = |max: u32, cache_kib: u32| {
            let mut options = AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30));
            if memory {
                options = options
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .min_connections(1);
            }
            let url = url.clone();
            async move {
                options
                    .after_connect(move |conn, _meta| {
                        Box::pin(async move {
                            if dialect == Dialect::Sqlite {
                                let pragmas = format!(
                                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                     PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys=ON; \
                                     PRAGMA cache_size=-{cache_kib};"
                                );
                                conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(pragmas)))
                                    .await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await
            }
        };
        let pool = connect(max, SQLITE_READER_CACHE_KIB).await?;
        let writer = match dialect {
            Dialect::Sqlite if !memory => connect(1, SQLITE_WRITER_CACHE_KIB).await?,
            _ => pool.clone(),
        };
        let changes = match dialect {
            Dialect::Postgres => Some(changes::ChangeChannel::for_schema(&pool, &url).await?),
            Dialect::Sqlite => None,
        };
        let store = Store {
            pool,
            writer,
            dialect,
            changes,
        };
        Ok(store)
    }

    /// Which SQL dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether other nodes may work on this store at the same time, so that work must be
    /// claimed with leases: true on PostgreSQL; a SQLite file has one server.
    pub fn is_shared(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Closes every connection; pending operations finish first. On SQLite the planner's
    /// statistics are refreshed first (`PRAGMA optimize`, as SQLite recommends).
    pub async fn close(&self) {
        if self.dialect == Dialect::Sqlite
            && let Err(e) = sqlx::query("PRAGMA optimize").execute(&self.pool).await
        {
            tracing::warn!(error = %e, "PRAGMA optimize failed");
        }
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Begins a transaction that will write. On SQLite it takes the writer lock up front
    /// (`BEGIN IMMEDIATE`), so it waits on `busy_timeout` instead of failing when a
    /// deferred read lock cannot be upgraded.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer.begin().await?,
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool for statements that write.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }
}
