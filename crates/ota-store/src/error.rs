//! The store's one error type.

use sqlx::error::ErrorKind;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist.
    #[error("not found")]
    NotFound,
    /// A unique or referential constraint refused the write (duplicate name, id, or a row
    /// still referenced by others).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other database failure.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// A stored row could not be decoded into a domain value.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => {
                    StoreError::Conflict(db.message().to_owned())
                }
                _ => StoreError::Database(err),
            },
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(err.to_string())
            }
            _ => StoreError::Database(err),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// `Ok(Some(x))` → `Ok(x)`, `Ok(None)` → `NotFound`.
pub(crate) fn found<T>(v: Option<T>) -> Result<T> {
    v.ok_or(StoreError::NotFound)
}

/// An UPDATE/DELETE that touched nothing addressed a missing row.
pub(crate) fn touched(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
