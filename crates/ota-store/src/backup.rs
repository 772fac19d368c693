//! What a backup needs from the store: a consistent copy of an embedded (SQLite) store taken
//! while the server runs, and the package-storage objects that copy refers to.
//!
//! `VACUUM INTO` writes a transaction-consistent copy through an ordinary read transaction:
//! in WAL mode the server keeps writing meanwhile, and the copy is compact and complete (no
//! WAL file beside it). PostgreSQL has its own tools (`pg_dump`, base backups); this is for
//! the embedded default.

use crate::{Dialect, Result, Store, StoreError};
use std::path::Path;

impl Store {
    /// Writes a consistent copy of the SQLite store to `path` (which must not exist).
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        if self.dialect != Dialect::Sqlite {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "only the embedded SQLite store is copied this way; back PostgreSQL up with \
                 pg_dump or a base backup"
                    .into(),
            )));
        }
        let target = path.to_str().ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                format!("backup path is not UTF-8: {}", path.display()).into(),
            ))
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Every package-storage key the store refers to: package files and delta patches.
    pub async fn referenced_blob_keys(&self) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let rows: Vec<(String,)> = sqlx::query_as("SELECT files_json FROM firmwares")
            .fetch_all(self.pool())
            .await?;
        for (files,) in rows {
            let files: Vec<ota_domain::firmware::FirmwareFile> = serde_json::from_str(&files)
                .map_err(|e| StoreError::Corrupt(format!("firmwares.files_json: {e}")))?;
            keys.extend(files.into_iter().map(|f| f.blob_key));
        }
        let patches: Vec<(String,)> = sqlx::query_as(
            "SELECT blob_key FROM package_deltas WHERE blob_key IS NOT NULL ORDER BY blob_key",
        )
        .fetch_all(self.pool())
        .await?;
        keys.extend(patches.into_iter().map(|(key,)| key));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }
}
