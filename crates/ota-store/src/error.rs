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
    /// A conditional write found a row changed since it was read (by another node or
    /// request); nothing was written. Read again and retry.
    #[error("a row changed since it was read (a task, a creation's progress); nothing was saved")]
    Stale,
    /// Any other database failure.
    #[error("database: {0}")]
    Database(sqlx::Error),
    /// A stored row could not be decoded into a domain value.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the same work may succeed if tried again: the database was busy or locked,
    /// a connection broke or none was free, PostgreSQL gave up a transaction for a conflict
    /// or was restarting, or a conditional write found its row changed (read again first).
    /// Refusals, corrupt rows and other errors are final.
    pub fn is_transient(&self) -> bool {
        let err = match self {
            StoreError::Stale => return true,
            StoreError::Database(err) => err,
            _ => return false,
        };
        match err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => db.code().is_some_and(|code| transient_code(&code)),
            _ => false,
        }
    }
}

/// SQLite's busy and locked results (primary codes 5 and 6, extended codes included) and
/// PostgreSQL's connection exceptions (class 08), serialization failure, deadlock, shutdown
/// and out-of-connections states. PostgreSQL's codes are five-character SQLSTATEs; SQLite's
/// are decimal numbers below 10,000.
fn transient_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || matches!(
                code,
                "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300"
            );
    }
    code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
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

#[cfg(test)]
mod tests {
    use super::transient_code;

    #[test]
    fn busy_locked_and_connection_codes_are_transient() {
        let rows = [
            ("5", true),     // SQLITE_BUSY
            ("517", true),   // SQLITE_BUSY_SNAPSHOT
            ("6", true),     // SQLITE_LOCKED
            ("262", true),   // SQLITE_LOCKED_SHAREDCACHE
            ("19", false),   // SQLITE_CONSTRAINT
            ("2067", false), // SQLITE_CONSTRAINT_UNIQUE
            ("1", false),    // SQLITE_ERROR
            ("08006", true), // connection failure
            ("08P01", true),
            ("40001", true),  // serialization failure
            ("40P01", true),  // deadlock
            ("57P01", true),  // admin shutdown
            ("53300", true),  // too many connections
            ("23505", false), // unique violation
            ("42P01", false), // undefined table
            ("22P02", false), // invalid text representation
        ];
        for (code, want) in rows {
            assert_eq!(transient_code(code), want, "{code}");
        }
    }
}
