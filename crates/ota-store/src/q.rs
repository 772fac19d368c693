//! A tiny builder for SQL whose shape depends on the input (IN lists, optional filters):
//! it appends placeholders and collects the arguments alongside.
//!
//! Its statements are not kept prepared (`persistent(false)`): nearly every list length is
//! a statement of its own, so a connection's statement cache would churn through them and
//! keep up to a hundred of the largest (a 200-row `VALUES` list is thousands of parameters)
//! for nothing: 15 MiB of a soak server's memory (docs/reliability.md, "Churn soak").
//!
//! Placeholders are `$n`, except in a builder made with [`Q::with`] for SQLite, which uses
//! anonymous `?`: the builder numbers its arguments in textual order anyway, and SQLite
//! resolves each *named* parameter (`$n`, `?n`) by a linear search, so binding a
//! multi-row statement with thousands of `$n` costs quadratic time (measured: 3× slower
//! task saves).

use crate::Dialect;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Executor, Type};

/// Dynamic SQL plus its arguments.
pub(crate) struct Q {
    sql: String,
    args: AnyArguments,
    n: usize,
    /// The engine, when built for one ([`Q::with`]); SQLite's builders use `?`.
    dialect: Option<Dialect>,
}

impl Q {
    /// A builder emitting `$n` placeholders (valid on both engines).
    pub(crate) fn new(sql: &str) -> Self {
        Q {
            sql: sql.to_owned(),
            args: AnyArguments::default(),
            n: 0,
            dialect: None,
        }
    }

    /// A builder emitting the dialect's cheapest placeholders. `sql` must not contain any.
    pub(crate) fn with(dialect: Dialect, sql: &str) -> Self {
        Q {
            dialect: Some(dialect),
            ..Q::new(sql)
        }
    }

    /// The engine it was built for, if any.
    pub(crate) fn dialect(&self) -> Option<Dialect> {
        self.dialect
    }

    /// Appends literal SQL.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(crate) fn bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        self.n += 1;
        if self.dialect == Some(Dialect::Sqlite) {
            self.sql.push('?');
        } else {
            self.sql.push('$');
            self.sql.push_str(&self.n.to_string());
        }
        // Encoding into AnyArguments only copies the value; it cannot fail for our types.
        self.args.add(value).expect("encode Any argument");
        self
    }

    /// Appends `$a, $b, …` bound to `values` (callers guarantee it is non-empty).
    pub(crate) fn bind_list<'t, T, I>(&mut self, values: I) -> &mut Self
    where
        T: Encode<'t, Any> + Type<Any>,
        I: IntoIterator<Item = T>,
    {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    pub(crate) async fn fetch_all<'e, E>(self, ex: E) -> sqlx::Result<Vec<AnyRow>>
    where
        E: Executor<'e, Database = Any>,
    {
        sqlx::query_with(AssertSqlSafe(self.sql), self.args)
            .persistent(false)
            .fetch_all(ex)
            .await
    }

    pub(crate) async fn fetch_one<'e, E>(self, ex: E) -> sqlx::Result<AnyRow>
    where
        E: Executor<'e, Database = Any>,
    {
        sqlx::query_with(AssertSqlSafe(self.sql), self.args)
            .persistent(false)
            .fetch_one(ex)
            .await
    }

    /// Runs the statement and returns the number of rows it changed.
    pub(crate) async fn execute<'e, E>(self, ex: E) -> sqlx::Result<u64>
    where
        E: Executor<'e, Database = Any>,
    {
        Ok(sqlx::query_with(AssertSqlSafe(self.sql), self.args)
            .persistent(false)
            .execute(ex)
            .await?
            .rows_affected())
    }
}

/// How many keys go into one IN list: far below both engines' parameter limits, and small
/// enough that one statement stays short.
pub(crate) const CHUNK: usize = 500;

/// How many rows go into one multi-row `VALUES` list (at most 16 columns each).
pub(crate) const ROWS: usize = 200;

/// Keeps the last item for each key — when a batch touches a row twice, the later change
/// wins, as it would applied one by one — sorted by key, so that concurrent batches lock
/// their rows in one global order and cannot deadlock.
pub(crate) fn last_per_key<'a, T, K: std::hash::Hash + Ord>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<&T> = items.iter().rev().filter(|t| seen.insert(key(t))).collect();
    out.sort_by_key(|t| key(t));
    out
}

impl Q {
    /// Appends `(VALUES (…), (…)) AS v`, one tuple per row written by `row`. Both engines
    /// name the columns `v.column1`, `v.column2`, …
    pub(crate) fn values<T>(&mut self, rows: &[T], mut row: impl FnMut(&mut Q, &T)) -> &mut Self {
        self.push("(VALUES ");
        for (i, r) in rows.iter().enumerate() {
            self.push(if i == 0 { "(" } else { ", (" });
            row(self, r);
            self.push(")");
        }
        self.push(") AS v")
    }

    /// Appends `, ` then a placeholder bound to `value` (for tuples after their first item).
    pub(crate) fn then<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        self.push(", ").bind(value)
    }
}
