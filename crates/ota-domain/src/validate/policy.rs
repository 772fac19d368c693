//! Rollout knobs shared by static and dynamic batches (and partly verify batches): retry,
//! timeout, push rate, overwrite, download protocol.

use super::indexed_sub;
use crate::DomainError;
use crate::Millis;
use crate::job::{DownloadProtocol, DynamicMode, OverwriteMode, RATE_RANGE, RateStep, RetryPolicy};

/// `RetryInterval` values, in minutes.
pub const RETRY_INTERVALS: [u32; 5] = [0, 10, 30, 60, 1440];
/// `RetryCount` values.
pub const RETRY_COUNTS: [u32; 3] = [1, 2, 5];
/// Largest single-file package that can be downloaded over MQTT: 16 MB.
pub const MAX_MQTT_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// `TimeoutInMinutes`: absent means no timeout, otherwise 1..=1440.
pub fn timeout_in_minutes(value: Option<i64>) -> Result<Option<u32>, DomainError> {
    value
        .map(|m| {
            u32::try_from(m)
                .ok()
                .filter(|m| (1..=1440).contains(m))
                .ok_or_else(|| DomainError::invalid("TimeoutInMinutes", "must be 1-1440"))
        })
        .transpose()
}

/// `RetryInterval` + `RetryCount`. No interval means no retry, and then a count is an
/// error rather than silently ignored. A retry must come before the attempt it repeats
/// could time out, so the interval must be below `TimeoutInMinutes` when both are set.
pub fn retry_policy(
    interval: Option<i64>,
    count: Option<i64>,
    timeout_minutes: Option<u32>,
) -> Result<Option<RetryPolicy>, DomainError> {
    let Some(interval) = interval else {
        return match count {
            Some(_) => Err(DomainError::invalid("RetryCount", "requires RetryInterval")),
            None => Ok(None),
        };
    };
    let interval_minutes = u32::try_from(interval)
        .ok()
        .filter(|i| RETRY_INTERVALS.contains(i))
        .ok_or_else(|| {
            DomainError::invalid("RetryInterval", "must be one of 0, 10, 30, 60, 1440")
        })?;
    let count = count.ok_or_else(|| {
        DomainError::invalid("RetryCount", "is required when RetryInterval is set")
    })?;
    let count = u32::try_from(count)
        .ok()
        .filter(|c| RETRY_COUNTS.contains(c))
        .ok_or_else(|| DomainError::invalid("RetryCount", "must be one of 1, 2, 5"))?;
    if timeout_minutes.is_some_and(|t| interval_minutes >= t) {
        return Err(DomainError::invalid(
            "RetryInterval",
            "must be less than TimeoutInMinutes",
        ));
    }
    Ok(Some(RetryPolicy {
        interval_minutes,
        count,
    }))
}

/// `MaximumPerMinute`: 10..=10,000, default 10,000.
pub fn maximum_per_minute(value: Option<i64>) -> Result<u32, DomainError> {
    let Some(rate) = value else {
        return Ok(*RATE_RANGE.end());
    };
    u32::try_from(rate)
        .ok()
        .filter(|r| RATE_RANGE.contains(r))
        .ok_or_else(|| DomainError::invalid("MaximumPerMinute", "must be 10-10000"))
}

/// One step of a variable push rate, raw. Not an Aliyun parameter: our REST face and
/// console offer it, reported as `RateStep.N.At` / `RateStep.N.PerMinute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateStepInput {
    pub at: i64,
    pub per_minute: i64,
}

/// A rate schedule: each rate 10..=10,000, times strictly increasing.
pub fn rate_steps(steps: Vec<RateStepInput>) -> Result<Vec<RateStep>, DomainError> {
    let mut out: Vec<RateStep> = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        let per_minute = u32::try_from(step.per_minute)
            .ok()
            .filter(|r| RATE_RANGE.contains(r))
            .ok_or_else(|| {
                DomainError::invalid(indexed_sub("RateStep", i, "PerMinute"), "must be 10-10000")
            })?;
        let at: Millis = step.at;
        if out.last().is_some_and(|prev| prev.at >= at) {
            return Err(DomainError::invalid(
                indexed_sub("RateStep", i, "At"),
                "must be later than the previous step",
            ));
        }
        out.push(RateStep { at, per_minute });
    }
    Ok(out)
}

/// `OverwriteMode`: 1 keep (default) or 2 overwrite; 2 cannot be combined with
/// `MultiModuleMode=true`, where same-module tasks are already overwritten.
pub fn overwrite_mode(
    value: Option<i64>,
    multi_module_mode: bool,
) -> Result<OverwriteMode, DomainError> {
    match value {
        None | Some(1) => Ok(OverwriteMode::Keep),
        Some(2) if multi_module_mode => Err(DomainError::invalid(
            "OverwriteMode",
            "must not be 2 when MultiModuleMode is true",
        )),
        Some(2) => Ok(OverwriteMode::Overwrite),
        Some(_) => Err(DomainError::invalid("OverwriteMode", "must be 1 or 2")),
    }
}

/// `DynamicMode`: 1 keep checking (default) or 2 only new reports.
pub fn dynamic_mode(value: Option<i64>) -> Result<DynamicMode, DomainError> {
    match value {
        None | Some(1) => Ok(DynamicMode::KeepChecking),
        Some(2) => Ok(DynamicMode::OnlyNewReports),
        Some(_) => Err(DomainError::invalid("DynamicMode", "must be 1 or 2")),
    }
}

/// `DownloadProtocol`: HTTPS (default) or MQTT, any case.
pub fn download_protocol(value: Option<&str>) -> Result<DownloadProtocol, DomainError> {
    match value {
        None => Ok(DownloadProtocol::Https),
        Some(p) if p.eq_ignore_ascii_case("HTTPS") => Ok(DownloadProtocol::Https),
        Some(p) if p.eq_ignore_ascii_case("MQTT") => Ok(DownloadProtocol::Mqtt),
        Some(_) => Err(DomainError::invalid(
            "DownloadProtocol",
            "must be HTTPS or MQTT",
        )),
    }
}
