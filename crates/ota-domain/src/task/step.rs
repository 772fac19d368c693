//! A progress report's `step` (spec §2.4) and the one rule for what it means to a task.
//!
//! The specification names 0..=100 (percent done) and -1..=-4 (failed, and where). Devices
//! send other values too: vendor error codes below -4, buggy counters above 100, numbers
//! that do not fit in 32 bits. The rule, applied by the task machine:
//! - 0..=100 is progress;
//! - every negative step is a failure the device reports: -1..=-4 name their cause, any
//!   other negative value is a general failure (`UPGRADE_FAILED`, retried like -1) whose
//!   code is kept in the task's description — a device that says it failed is never left
//!   waiting for its timeout;
//! - a step above 100 is not a percentage: the report is refused and changes nothing (the
//!   device's version report still concludes the task).

use super::FailureReason;

/// A progress step as a device sent it, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgressStep {
    /// 0..=100 percent done.
    Percent(u8),
    /// `-1`: the update failed (general).
    UpgradeFailed,
    /// `-2`: downloading failed.
    DownloadFailed,
    /// `-3`: checksum or signature verification failed.
    VerifyFailed,
    /// `-4`: programming (burning) the image failed.
    BurnFailed,
    /// Any other value: below -4 a failure in the device's own numbering, above 100 not a
    /// step at all.
    Other(i64),
}

impl ProgressStep {
    /// Classifies a wire value.
    pub fn from_code(code: i64) -> Self {
        match code {
            0..=100 => ProgressStep::Percent(code as u8),
            -1 => ProgressStep::UpgradeFailed,
            -2 => ProgressStep::DownloadFailed,
            -3 => ProgressStep::VerifyFailed,
            -4 => ProgressStep::BurnFailed,
            other => ProgressStep::Other(other),
        }
    }

    /// The wire value.
    pub fn code(self) -> i64 {
        match self {
            ProgressStep::Percent(p) => i64::from(p),
            ProgressStep::UpgradeFailed => -1,
            ProgressStep::DownloadFailed => -2,
            ProgressStep::VerifyFailed => -3,
            ProgressStep::BurnFailed => -4,
            ProgressStep::Other(code) => code,
        }
    }

    /// True for every negative step: the device reports that its update failed.
    pub fn is_failure(self) -> bool {
        self.code() < 0
    }

    /// The failure a negative step reports: its named cause for -1..=-4, a general failure
    /// for any other negative value; `None` for progress and for steps above 100.
    pub fn failure(self) -> Option<FailureReason> {
        Some(match self {
            ProgressStep::UpgradeFailed => FailureReason::UpgradeFailed,
            ProgressStep::DownloadFailed => FailureReason::DownloadFailed,
            ProgressStep::VerifyFailed => FailureReason::VerifyFailed,
            ProgressStep::BurnFailed => FailureReason::BurnFailed,
            ProgressStep::Other(code) if code < 0 => FailureReason::UpgradeFailed,
            ProgressStep::Percent(_) | ProgressStep::Other(_) => return None,
        })
    }

    /// The percentage, for 0..=100.
    pub fn percent(self) -> Option<u8> {
        match self {
            ProgressStep::Percent(p) => Some(p),
            _ => None,
        }
    }

    /// The description a task keeps for this step: the device's own, and for a failure code
    /// outside -1..=-4 that code in front, since the failure reason alone would hide it.
    pub fn describe(self, desc: Option<String>) -> Option<String> {
        match self {
            ProgressStep::Other(code) if code < 0 => Some(match desc {
                Some(desc) if !desc.is_empty() => format!("step {code}: {desc}"),
                _ => format!("step {code}"),
            }),
            _ => desc,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureReason as F;

    #[test]
    fn every_kind_of_step() {
        #[rustfmt::skip]
        let rows: &[(i64, ProgressStep, Option<u8>, Option<FailureReason>)] = &[
            (0, ProgressStep::Percent(0), Some(0), None),
            (1, ProgressStep::Percent(1), Some(1), None),
            (100, ProgressStep::Percent(100), Some(100), None),
            (-1, ProgressStep::UpgradeFailed, None, Some(F::UpgradeFailed)),
            (-2, ProgressStep::DownloadFailed, None, Some(F::DownloadFailed)),
            (-3, ProgressStep::VerifyFailed, None, Some(F::VerifyFailed)),
            (-4, ProgressStep::BurnFailed, None, Some(F::BurnFailed)),
            (-5, ProgressStep::Other(-5), None, Some(F::UpgradeFailed)),
            (-1000, ProgressStep::Other(-1000), None, Some(F::UpgradeFailed)),
            (i64::MIN, ProgressStep::Other(i64::MIN), None, Some(F::UpgradeFailed)),
            (101, ProgressStep::Other(101), None, None),
            (i64::MAX, ProgressStep::Other(i64::MAX), None, None),
        ];
        for &(code, step, percent, failure) in rows {
            assert_eq!(ProgressStep::from_code(code), step, "{code}");
            assert_eq!(step.code(), code, "{code} round trip");
            assert_eq!(step.percent(), percent, "{code} percent");
            assert_eq!(step.failure(), failure, "{code} failure");
            assert_eq!(step.is_failure(), code < 0, "{code} is_failure");
        }
    }

    #[test]
    fn a_failure_code_outside_the_spec_is_kept_in_the_description() {
        let rows: &[(i64, Option<&str>, Option<&str>)] = &[
            (-5, Some("flash locked"), Some("step -5: flash locked")),
            (-5, None, Some("step -5")),
            (-5, Some(""), Some("step -5")),
            (-2, Some("timeout"), Some("timeout")),
            (-2, None, None),
            (50, Some("half"), Some("half")),
        ];
        for &(code, desc, want) in rows {
            let got = ProgressStep::from_code(code).describe(desc.map(str::to_owned));
            assert_eq!(got.as_deref(), want, "{code} {desc:?}");
        }
    }
}
