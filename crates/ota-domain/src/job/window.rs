//! Maintenance windows: recurring periods (a cron expression, a duration, an IANA time
//! zone) outside which a batch starts no device. Evaluated from the platform time alone,
//! so every node and every restart agrees on whether a window is open.
//!
//! Cron expressions have five fields (minute, hour, day of month, month, day of week) and
//! are read in the window's time zone, daylight-saving changes included: `0 2 * * *` with
//! `Europe/Berlin` opens at 02:00 Berlin time every day.

use crate::{DomainError, Millis};
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};

/// Windows a batch may have.
pub const MAX_WINDOWS: usize = 10;
/// Longest window: a week.
pub const MAX_DURATION_MINUTES: u32 = 7 * 24 * 60;

/// A recurring window, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    pub cron: String,
    pub duration_minutes: u32,
    pub time_zone: String,
}

/// Whether devices may be started now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// No window is set: always open.
    Always,
    /// A window is open until `closes_at`.
    Open { closes_at: Millis },
    /// Every window is closed; the next opens at `next_opens_at` (`None`: never again).
    Closed { next_opens_at: Option<Millis> },
}

impl WindowState {
    pub fn is_open(&self) -> bool {
        !matches!(self, WindowState::Closed { .. })
    }
}

/// A window as requested, raw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowInput {
    pub cron: Option<String>,
    pub duration_minutes: Option<i64>,
    pub time_zone: Option<String>,
}

fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Disallowed).build()
}

fn parse_cron(cron: &str) -> Option<Cron> {
    parser().parse(cron).ok()
}

impl WindowInput {
    /// Checks the window; `field` is how the request names it (`MaintenanceWindows.1`).
    pub fn validate(self, field: &str) -> Result<MaintenanceWindow, DomainError> {
        let cron = self
            .cron
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .ok_or_else(|| DomainError::invalid(format!("{field}.Cron"), "is required"))?;
        if let Err(err) = parser().parse(&cron) {
            return Err(DomainError::invalid(
                format!("{field}.Cron"),
                format!(
                    "must be a cron expression of five fields (minute hour day month weekday): {err}"
                ),
            ));
        }
        let duration_minutes = self
            .duration_minutes
            .and_then(|d| u32::try_from(d).ok())
            .filter(|d| (1..=MAX_DURATION_MINUTES).contains(d))
            .ok_or_else(|| {
                DomainError::invalid(
                    format!("{field}.DurationMinutes"),
                    format!("must be 1-{MAX_DURATION_MINUTES}"),
                )
            })?;
        let time_zone = self.time_zone.unwrap_or_else(|| "UTC".to_owned());
        if time_zone.parse::<Tz>().is_err() {
            return Err(DomainError::invalid(
                format!("{field}.TimeZone"),
                "must be an IANA time zone such as Europe/Berlin or UTC",
            ));
        }
        Ok(MaintenanceWindow {
            cron,
            duration_minutes,
            time_zone,
        })
    }
}

/// Checks a list of windows, naming each by its 1-based place.
pub fn validate_windows(
    field: &str,
    windows: Vec<WindowInput>,
) -> Result<Vec<MaintenanceWindow>, DomainError> {
    if windows.len() > MAX_WINDOWS {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_WINDOWS} windows"),
        ));
    }
    windows
        .into_iter()
        .enumerate()
        .map(|(i, w)| w.validate(&format!("{field}.{}", i + 1)))
        .collect()
}

fn at(tz: Tz, ms: Millis) -> Option<DateTime<Tz>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&tz))
}

impl MaintenanceWindow {
    /// When the window that is open at `now` closes, if one is.
    fn open_until(&self, now: Millis) -> Option<Millis> {
        let (cron, tz) = (parse_cron(&self.cron)?, self.time_zone.parse::<Tz>().ok()?);
        let started = cron.find_previous_occurrence(&at(tz, now)?, true).ok()?;
        let closes = started.timestamp_millis() + i64::from(self.duration_minutes) * 60_000;
        (now < closes).then_some(closes)
    }

    /// The next time the window opens after `now`.
    fn next_open(&self, now: Millis) -> Option<Millis> {
        let (cron, tz) = (parse_cron(&self.cron)?, self.time_zone.parse::<Tz>().ok()?);
        cron.find_next_occurrence(&at(tz, now)?, false)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

/// Whether any of `windows` is open at `now`, and when that changes.
pub fn window_state(windows: &[MaintenanceWindow], now: Millis) -> WindowState {
    if windows.is_empty() {
        return WindowState::Always;
    }
    if let Some(closes_at) = windows.iter().filter_map(|w| w.open_until(now)).max() {
        return WindowState::Open { closes_at };
    }
    WindowState::Closed {
        next_opens_at: windows.iter().filter_map(|w| w.next_open(now)).min(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-05 00:00:00 UTC, a Monday (Berlin is UTC+1 in winter).
    const MONDAY: Millis = 1_767_571_200_000;
    const MIN: Millis = 60_000;
    const HOUR: Millis = 60 * MIN;

    fn window(cron: &str, minutes: u32, tz: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            cron: cron.to_owned(),
            duration_minutes: minutes,
            time_zone: tz.to_owned(),
        }
    }

    #[test]
    fn a_window_is_open_from_its_start_for_its_duration_in_its_time_zone() {
        let nightly = window("0 2 * * *", 120, "Europe/Berlin");
        // 02:00 Berlin is 01:00 UTC in January.
        let opens = MONDAY + HOUR;
        let cases = [
            (
                "before it opens",
                opens - MIN,
                WindowState::Closed {
                    next_opens_at: Some(opens),
                },
            ),
            (
                "as it opens",
                opens,
                WindowState::Open {
                    closes_at: opens + 2 * HOUR,
                },
            ),
            (
                "inside",
                opens + 90 * MIN,
                WindowState::Open {
                    closes_at: opens + 2 * HOUR,
                },
            ),
            (
                "as it closes",
                opens + 2 * HOUR,
                WindowState::Closed {
                    next_opens_at: Some(opens + 24 * HOUR),
                },
            ),
            (
                "next night",
                opens + 24 * HOUR + MIN,
                WindowState::Open {
                    closes_at: opens + 26 * HOUR,
                },
            ),
        ];
        for (name, now, want) in cases {
            assert_eq!(
                window_state(std::slice::from_ref(&nightly), now),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn daylight_saving_moves_the_window_in_utc() {
        // 2026-07-06 00:00 UTC, a Monday: Berlin is UTC+2, so 02:00 Berlin is 00:00 UTC.
        let summer = 1_783_296_000_000;
        let nightly = window("0 2 * * *", 60, "Europe/Berlin");
        assert_eq!(
            window_state(&[nightly], summer + MIN),
            WindowState::Open {
                closes_at: summer + HOUR
            }
        );
    }

    #[test]
    fn several_windows_open_when_any_is_and_close_when_all_are() {
        let windows = [
            window("0 2 * * *", 60, "UTC"),
            window("30 2 * * *", 60, "UTC"),
            window("0 12 * * 6", 30, "UTC"),
        ];
        let cases = [
            (
                MONDAY + HOUR,
                WindowState::Closed {
                    next_opens_at: Some(MONDAY + 2 * HOUR),
                },
            ),
            (
                MONDAY + 2 * HOUR + 45 * MIN,
                WindowState::Open {
                    closes_at: MONDAY + 3 * HOUR + 30 * MIN,
                },
            ),
            (
                MONDAY + 4 * HOUR,
                WindowState::Closed {
                    next_opens_at: Some(MONDAY + 26 * HOUR),
                },
            ),
        ];
        for (now, want) in cases {
            assert_eq!(window_state(&windows, now), want);
        }
        assert_eq!(window_state(&[], MONDAY), WindowState::Always);
    }

    #[test]
    fn bad_windows_are_refused_naming_the_field() {
        let input = |cron: Option<&str>, minutes: Option<i64>, tz: Option<&str>| WindowInput {
            cron: cron.map(str::to_owned),
            duration_minutes: minutes,
            time_zone: tz.map(str::to_owned),
        };
        let cases = [
            (input(None, Some(60), None), "W.1.Cron"),
            (input(Some("0 2 * *"), Some(60), None), "W.1.Cron"),
            (input(Some("0 0 2 * * *"), Some(60), None), "W.1.Cron"),
            (input(Some("61 2 * * *"), Some(60), None), "W.1.Cron"),
            (input(Some("0 2 * * *"), None, None), "W.1.DurationMinutes"),
            (
                input(Some("0 2 * * *"), Some(0), None),
                "W.1.DurationMinutes",
            ),
            (
                input(Some("0 2 * * *"), Some(10_081), None),
                "W.1.DurationMinutes",
            ),
            (
                input(Some("0 2 * * *"), Some(60), Some("Mars/Olympus")),
                "W.1.TimeZone",
            ),
        ];
        for (given, field) in cases {
            let err = validate_windows("W", vec![given.clone()]).unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{given:?}: {err:?}");
        }
        let ok = validate_windows("W", vec![input(Some(" 0 2 * * 1-5 "), Some(90), None)]).unwrap();
        assert_eq!(ok, vec![window("0 2 * * 1-5", 90, "UTC")]);
        let many = vec![input(Some("0 2 * * *"), Some(1), None); MAX_WINDOWS + 1];
        assert_eq!(
            validate_windows("W", many).unwrap_err().field.as_deref(),
            Some("W")
        );
    }
}
