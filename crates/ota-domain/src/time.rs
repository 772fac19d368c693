//! Time as milliseconds since the Unix epoch: the unit the Aliyun API speaks (13-digit
//! `ScheduleTime`) and the one the store persists, so no conversion happens at the edges.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// One minute in milliseconds.
pub const MINUTE: Millis = 60_000;
/// One hour in milliseconds.
pub const HOUR: Millis = 60 * MINUTE;
/// One day in milliseconds.
pub const DAY: Millis = 24 * HOUR;
