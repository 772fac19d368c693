//! A small migration runner: numbered scripts per dialect, applied once each inside one
//! transaction, recorded in `schema_version`.

use crate::{Dialect, Result, Store};
use sqlx::{AssertSqlSafe, Row};

/// (version, SQLite script, PostgreSQL script), in order. Never edit a shipped script:
/// append a new version.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../migrations/sqlite/0002_signing_keys.sql"),
        include_str!("../migrations/postgres/0002_signing_keys.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_package_deltas.sql"),
        include_str!("../migrations/postgres/0003_package_deltas.sql"),
    ),
    (
        4,
        include_str!("../migrations/sqlite/0004_delta_progress.sql"),
        include_str!("../migrations/postgres/0004_delta_progress.sql"),
    ),
    (
        5,
        include_str!("../migrations/sqlite/0005_delta_formats.sql"),
        include_str!("../migrations/postgres/0005_delta_formats.sql"),
    ),
    (
        6,
        include_str!("../migrations/sqlite/0006_delta_memory.sql"),
        include_str!("../migrations/postgres/0006_delta_memory.sql"),
    ),
    (
        7,
        include_str!("../migrations/sqlite/0007_job_control.sql"),
        include_str!("../migrations/postgres/0007_job_control.sql"),
    ),
    (
        8,
        include_str!("../migrations/sqlite/0008_nodes_and_nonces.sql"),
        include_str!("../migrations/postgres/0008_nodes_and_nonces.sql"),
    ),
    (
        9,
        include_str!("../migrations/sqlite/0009_task_nudges.sql"),
        include_str!("../migrations/postgres/0009_task_nudges.sql"),
    ),
    (
        10,
        include_str!("../migrations/sqlite/0010_leases.sql"),
        include_str!("../migrations/postgres/0010_leases.sql"),
    ),
    (
        11,
        include_str!("../migrations/sqlite/0011_job_creation.sql"),
        include_str!("../migrations/postgres/0011_job_creation.sql"),
    ),
    (
        12,
        include_str!("../migrations/sqlite/0012_devices_by_product_id.sql"),
        include_str!("../migrations/postgres/0012_devices_by_product_id.sql"),
    ),
    (
        13,
        include_str!("../migrations/sqlite/0013_tasks_by_device_id.sql"),
        include_str!("../migrations/postgres/0013_tasks_by_device_id.sql"),
    ),
    (
        14,
        include_str!("../migrations/sqlite/0014_batch_reads.sql"),
        include_str!("../migrations/postgres/0014_batch_reads.sql"),
    ),
    (
        15,
        include_str!("../migrations/sqlite/0015_versions_by_product.sql"),
        include_str!("../migrations/postgres/0015_versions_by_product.sql"),
    ),
    (
        16,
        include_str!("../migrations/sqlite/0016_device_identity.sql"),
        include_str!("../migrations/postgres/0016_device_identity.sql"),
    ),
    (
        17,
        include_str!("../migrations/sqlite/0017_device_certificates.sql"),
        include_str!("../migrations/postgres/0017_device_certificates.sql"),
    ),
    (
        18,
        include_str!("../migrations/sqlite/0018_teams.sql"),
        include_str!("../migrations/postgres/0018_teams.sql"),
    ),
    (
        19,
        include_str!("../migrations/sqlite/0019_webhooks.sql"),
        include_str!("../migrations/postgres/0019_webhooks.sql"),
    ),
    (
        20,
        include_str!("../migrations/sqlite/0020_rollouts.sql"),
        include_str!("../migrations/postgres/0020_rollouts.sql"),
    ),
    (
        21,
        include_str!("../migrations/sqlite/0021_slimmer_tasks.sql"),
        include_str!("../migrations/postgres/0021_slimmer_tasks.sql"),
    ),
];

/// Applies every migration newer than the recorded schema version.
pub(crate) async fn run(store: &Store) -> Result<()> {
    let mut tx = store.begin_write().await?;
    if store.dialect() == Dialect::Postgres {
        // Nodes starting together must not both create the schema.
        sqlx::query("SELECT pg_advisory_xact_lock(7061736501)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .execute(&mut *tx)
        .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    for &(version, sqlite, postgres) in MIGRATIONS {
        if version <= current {
            continue;
        }
        let script = match store.dialect() {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        };
        sqlx::raw_sql(AssertSqlSafe(script))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied store migration");
    }
    tx.commit().await?;
    Ok(())
}
