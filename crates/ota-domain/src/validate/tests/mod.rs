//! Validation tests: for every rule a valid edge, an invalid edge, and the field the error
//! names. Rows are `(label, result, expected)` where `expected` is `None` for success or
//! `Some((field, words the message must contain))`.

mod firmware;
mod job;
mod rules;
mod text;

use crate::{DomainError, ErrorCode};

pub(super) type Row = (
    &'static str,
    Result<(), DomainError>,
    Option<(&'static str, &'static str)>,
);

pub(super) fn ok<T>(r: Result<T, DomainError>) -> Result<(), DomainError> {
    r.map(drop)
}

pub(super) fn check_rows(rows: Vec<Row>) {
    for (label, got, want) in rows {
        match (got, want) {
            (Ok(()), None) => {}
            (Err(e), Some((field, words))) => {
                assert_eq!(e.field.as_deref(), Some(field), "{label}: field ({e})");
                assert_eq!(e.code, ErrorCode::InvalidParameter, "{label}: code");
                assert!(
                    e.message.contains(words),
                    "{label}: message {:?} lacks {words:?}",
                    e.message
                );
            }
            (got, want) => panic!("{label}: got {got:?}, want {want:?}"),
        }
    }
}
