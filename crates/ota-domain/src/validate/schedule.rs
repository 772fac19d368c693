//! `ScheduleTime` / `ScheduleFinishTime` of a static batch.
//!
//! Both are 13-digit millisecond timestamps. Bounds are inclusive and measured against the
//! `now` the caller passes, so a request is judged at the instant it arrived.

use crate::DomainError;
use crate::time::{DAY, HOUR, MINUTE, Millis};

/// 13-digit millisecond timestamps: 2001-09-09 .. 2286-11-20.
const THIRTEEN_DIGITS: std::ops::RangeInclusive<i64> = 1_000_000_000_000..=9_999_999_999_999;

/// `ScheduleTime`: absent starts the batch immediately; otherwise now+5 min ..= now+7 days.
pub fn schedule_time(value: Option<i64>, now: Millis) -> Result<Option<Millis>, DomainError> {
    let Some(at) = value else { return Ok(None) };
    if !THIRTEEN_DIGITS.contains(&at) || at < now + 5 * MINUTE || at > now + 7 * DAY {
        return Err(DomainError::invalid(
            "ScheduleTime",
            "must be a 13-digit millisecond timestamp from now+5 minutes to now+7 days",
        ));
    }
    Ok(Some(at))
}

/// `ScheduleFinishTime`: absent never ends the batch by force; otherwise start+1 h ..=
/// start+30 days.
///
/// The spec measures it from ScheduleTime. Without a ScheduleTime the batch starts at
/// once, so the start is `now`: the finish time is then now+1 h ..= now+30 days. This keeps
/// "a batch runs at least an hour" true in both cases instead of rejecting the parameter.
pub fn schedule_finish_time(
    value: Option<i64>,
    schedule_time: Option<Millis>,
    now: Millis,
) -> Result<Option<Millis>, DomainError> {
    let Some(at) = value else { return Ok(None) };
    let start = schedule_time.unwrap_or(now);
    if !THIRTEEN_DIGITS.contains(&at) || at < start + HOUR || at > start + 30 * DAY {
        return Err(DomainError::invalid(
            "ScheduleFinishTime",
            "must be a 13-digit millisecond timestamp from ScheduleTime (or now) +1 hour to +30 days",
        ));
    }
    Ok(Some(at))
}
