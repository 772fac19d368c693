//! When a wave has earned the next one (its success condition) and when it must stop the
//! rollout (its error conditions), as pure functions of its batch's task counts.
//!
//! The success condition is a share of *all* the wave's devices, not of those finished:
//! "90 % of wave 1 updated" means 90 % of wave 1. Its minimum of finished devices is capped
//! at the wave's size, so a wave smaller than the minimum can still succeed. Error
//! conditions follow AWS IoT Jobs' abort criteria: failures of the chosen causes (any by
//! default, or e.g. only timeouts) counted against the finished devices, after a minimum
//! number finished, and only those since the operator last resumed the rollout.

use crate::job::GateAction;
use crate::task::FailureReason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A wave's batch, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WaveCounts {
    /// Every task of the wave's batch.
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Not SUCCEEDED, FAILED or CANCELED.
    pub unfinished: u64,
    /// FAILED tasks by cause.
    pub failed_by: BTreeMap<FailureReason, u64>,
}

impl WaveCounts {
    /// SUCCEEDED and FAILED tasks (cancelled ones are an operator's verdict, not a device's).
    pub fn finished(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Failed tasks of these causes (any cause when empty).
    pub fn failed_of(&self, causes: &[FailureReason]) -> u64 {
        if causes.is_empty() {
            return self.failed;
        }
        causes
            .iter()
            .map(|c| self.failed_by.get(c).copied().unwrap_or(0))
            .sum()
    }
}

/// When a wave has succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuccessCondition {
    /// This share of the wave's devices SUCCEEDED (1..=100).
    pub succeeded_percent: u8,
    /// ...and at least this many of them finished (capped at the wave's size).
    pub min_finished: u32,
}

impl Default for SuccessCondition {
    /// Every device of the wave updated.
    fn default() -> Self {
        SuccessCondition {
            succeeded_percent: 100,
            min_finished: 1,
        }
    }
}

impl SuccessCondition {
    /// The finished devices the condition waits for in a wave of `total`.
    pub fn min_finished_of(&self, total: u64) -> u64 {
        u64::from(self.min_finished).min(total)
    }

    /// Whether `counts` meet the condition. An empty wave has nothing to wait for.
    pub fn is_met(&self, counts: &WaveCounts) -> bool {
        counts.finished() >= self.min_finished_of(counts.total)
            && counts.succeeded * 100 >= u64::from(self.succeeded_percent) * counts.total
    }
}

/// When a wave's failures stop the rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCondition {
    /// Failures of these causes count (`TIMEOUT` alone: timeouts only); empty: any.
    pub causes: Vec<FailureReason>,
    /// Trips when more than this share of the finished devices failed (0..=100)...
    pub max_failed_percent: Option<u8>,
    /// ...or when more than this many failed. Exactly one of the two is set.
    pub max_failed: Option<u64>,
    /// Finished devices (since the last resume) needed before it may trip (>= 1).
    pub min_finished: u32,
    pub action: GateAction,
}

impl ErrorCondition {
    /// Whether `now` (counted since `baseline`) breaks the condition.
    pub fn trips(&self, now: &WaveCounts, baseline: &WaveCounts) -> bool {
        let failed = now
            .failed_of(&self.causes)
            .saturating_sub(baseline.failed_of(&self.causes));
        let finished = now.finished().saturating_sub(baseline.finished());
        if finished < u64::from(self.min_finished.max(1)) {
            return false;
        }
        match (self.max_failed_percent, self.max_failed) {
            (Some(percent), _) => failed * 100 > u64::from(percent) * finished,
            (None, Some(max)) => failed > max,
            (None, None) => false,
        }
    }

    /// The condition in words, for the wave's note and the waiting reason.
    pub fn describe(&self) -> String {
        let what = if self.causes.is_empty() {
            "failures".to_owned()
        } else {
            let names: Vec<&str> = self.causes.iter().map(|c| c.as_str()).collect();
            format!("{} failures", names.join("/"))
        };
        let limit = match (self.max_failed_percent, self.max_failed) {
            (Some(p), _) => format!("more than {p} % of finished devices"),
            (None, Some(n)) => format!("more than {n} devices"),
            (None, None) => "never".to_owned(),
        };
        format!(
            "{what} above {limit} after {} finished, action {}",
            self.min_finished,
            self.action.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(total: u64, succeeded: u64, failed: u64) -> WaveCounts {
        WaveCounts {
            total,
            succeeded,
            failed,
            unfinished: total - succeeded - failed,
            failed_by: BTreeMap::from([(FailureReason::UpgradeFailed, failed)]),
        }
    }

    #[test]
    fn the_success_condition_is_a_share_of_the_whole_wave() {
        let cond = |succeeded_percent, min_finished| SuccessCondition {
            succeeded_percent,
            min_finished,
        };
        #[rustfmt::skip]
        let rows = [
            ("90 % of 10 updated", cond(90, 1), counts(10, 9, 0), true),
            ("80 % of 10 is short of 90 %", cond(90, 1), counts(10, 8, 0), false),
            ("failures do not count", cond(90, 1), counts(10, 8, 2), false),
            ("all of them", cond(100, 1), counts(10, 10, 0), true),
            ("one short of all", cond(100, 1), counts(10, 9, 1), false),
            ("share met, too few finished", cond(50, 8), counts(10, 6, 0), false),
            ("share met, enough finished", cond(50, 8), counts(10, 6, 2), true),
            ("minimum capped at the wave's size", cond(100, 50), counts(3, 3, 0), true),
            ("an empty wave has nothing to wait for", cond(100, 10), counts(0, 0, 0), true),
            ("1 % of 1,000", cond(1, 1), counts(1000, 10, 0), true),
            ("just under 1 %", cond(1, 1), counts(1000, 9, 0), false),
        ];
        for (name, cond, counts, met) in rows {
            assert_eq!(cond.is_met(&counts), met, "{name}");
        }
    }

    #[test]
    fn error_conditions_count_causes_since_the_baseline() {
        let pct = |p, min| ErrorCondition {
            causes: Vec::new(),
            max_failed_percent: Some(p),
            max_failed: None,
            min_finished: min,
            action: GateAction::Pause,
        };
        let count = |n, min| ErrorCondition {
            max_failed_percent: None,
            max_failed: Some(n),
            ..pct(0, min)
        };
        let timeouts = |n| ErrorCondition {
            causes: vec![FailureReason::Timeout],
            ..count(n, 1)
        };
        let with_timeouts = |total, succeeded, timeouts, other| WaveCounts {
            total,
            succeeded,
            failed: timeouts + other,
            unfinished: total - succeeded - timeouts - other,
            failed_by: BTreeMap::from([
                (FailureReason::Timeout, timeouts),
                (FailureReason::DownloadFailed, other),
            ]),
        };
        let zero = WaveCounts::default();
        #[rustfmt::skip]
        let rows = [
            ("share above", pct(10, 5), counts(20, 8, 2), zero.clone(), true),
            ("share at the limit holds", pct(20, 5), counts(20, 8, 2), zero.clone(), false),
            ("too few finished", pct(10, 20), counts(20, 8, 2), zero.clone(), false),
            ("0 %: first failure", pct(0, 1), counts(20, 0, 1), zero.clone(), true),
            ("count above", count(2, 1), counts(20, 0, 3), zero.clone(), true),
            ("count at the limit holds", count(3, 1), counts(20, 0, 3), zero.clone(), false),
            ("count 0: first failure", count(0, 1), counts(20, 5, 1), zero.clone(), true),
            ("timeouts only: other causes ignored", timeouts(0), with_timeouts(20, 0, 0, 5), zero.clone(), false),
            ("timeouts only: a timeout trips", timeouts(0), with_timeouts(20, 0, 1, 5), zero.clone(), true),
            ("baseline forgives what was seen", count(1, 1), counts(20, 5, 3), counts(20, 4, 2), false),
            ("new failures after the baseline", count(1, 1), counts(20, 5, 5), counts(20, 4, 2), true),
            ("minimum counted since the baseline", pct(10, 5), counts(20, 10, 4), counts(20, 10, 2), false),
        ];
        for (name, cond, now, baseline, trips) in rows {
            assert_eq!(cond.trips(&now, &baseline), trips, "{name}");
        }
    }

    #[test]
    fn conditions_read_in_words() {
        let cond = ErrorCondition {
            causes: vec![FailureReason::Timeout],
            max_failed_percent: Some(5),
            max_failed: None,
            min_finished: 20,
            action: GateAction::Cancel,
        };
        assert_eq!(
            cond.describe(),
            "TIMEOUT failures above more than 5 % of finished devices after 20 finished, \
             action CANCEL"
        );
    }
}
