//! The exponential ramp (as AWS IoT Jobs' `exponentialRate`): a batch starts at a base rate
//! and multiplies it by a factor each time a number of its devices have been notified (or
//! have succeeded), never above the rate the batch is otherwise allowed (its
//! `MaximumPerMinute`, or its stepped rate at the time).
//!
//! A pure function of the batch's counts: a restart, another node or a pause changes
//! nothing about the rate the counts give.

use crate::DomainError;
use serde::{Deserialize, Serialize};

/// What raises the rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RampCriterion {
    /// Every N devices notified (pushed) raise the rate once.
    NotifiedDevices(u32),
    /// Every N devices succeeded raise the rate once.
    SucceededDevices(u32),
}

/// An exponential ramp, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExponentialRate {
    pub base_rate_per_minute: u32,
    /// The factor in thousandths (1.5 = 1500), 1100..=5000.
    pub increment_factor_milli: u32,
    pub criterion: RampCriterion,
}

/// A ramp as requested, raw. `increment_factor` is a decimal text or number as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RampInput {
    pub base_rate_per_minute: Option<i64>,
    pub increment_factor: Option<f64>,
    pub notified_devices: Option<i64>,
    pub succeeded_devices: Option<i64>,
}

impl RampInput {
    /// Base 1..=10,000 a minute, factor 1.1..=5 (at most three decimals), and exactly one
    /// criterion of 1..=1,000,000 devices.
    pub fn validate(self, field: &str) -> Result<ExponentialRate, DomainError> {
        let base_rate_per_minute = self
            .base_rate_per_minute
            .and_then(|r| u32::try_from(r).ok())
            .filter(|r| (1..=10_000).contains(r))
            .ok_or_else(|| {
                DomainError::invalid(format!("{field}.BaseRatePerMinute"), "must be 1-10000")
            })?;
        let factor = self
            .increment_factor
            .filter(|f| f.is_finite())
            .ok_or_else(|| {
                DomainError::invalid(format!("{field}.IncrementFactor"), "is required")
            })?;
        let milli = (factor * 1000.0).round();
        if !(1100.0..=5000.0).contains(&milli) || (factor * 1000.0 - milli).abs() > 1e-6 {
            return Err(DomainError::invalid(
                format!("{field}.IncrementFactor"),
                "must be 1.1-5 with at most three decimals",
            ));
        }
        let count = |n: i64, name: &str| {
            u32::try_from(n)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    DomainError::invalid(
                        format!("{field}.IncreaseCriteria.{name}"),
                        "must be 1-1000000",
                    )
                })
        };
        let criterion = match (self.notified_devices, self.succeeded_devices) {
            (Some(n), None) => RampCriterion::NotifiedDevices(count(n, "NotifiedDevices")?),
            (None, Some(n)) => RampCriterion::SucceededDevices(count(n, "SucceededDevices")?),
            _ => {
                return Err(DomainError::invalid(
                    format!("{field}.IncreaseCriteria"),
                    "must give exactly one of notified_devices and succeeded_devices",
                ));
            }
        };
        Ok(ExponentialRate {
            base_rate_per_minute,
            increment_factor_milli: milli as u32,
            criterion,
        })
    }
}

impl ExponentialRate {
    /// The rate in force when `notified` devices have been notified and `succeeded` have
    /// succeeded, never above `ceiling`.
    pub fn rate(&self, ceiling: u32, notified: u64, succeeded: u64) -> u32 {
        let (count, every) = match self.criterion {
            RampCriterion::NotifiedDevices(n) => (notified, n),
            RampCriterion::SucceededDevices(n) => (succeeded, n),
        };
        let raises = count / u64::from(every.max(1));
        let factor = f64::from(self.increment_factor_milli) / 1000.0;
        // Past the ceiling there is nothing left to compute (and no float overflow).
        let raises = i32::try_from(raises.min(200)).unwrap_or(200);
        let rate = f64::from(self.base_rate_per_minute) * factor.powi(raises);
        (rate.min(f64::from(ceiling)).floor() as u32).max(1)
    }

    /// How many more devices raise the rate once more (`None` at the ceiling).
    pub fn next_raise_after(&self, ceiling: u32, notified: u64, succeeded: u64) -> Option<u64> {
        if self.rate(ceiling, notified, succeeded) >= ceiling {
            return None;
        }
        let (count, every) = match self.criterion {
            RampCriterion::NotifiedDevices(n) => (notified, u64::from(n)),
            RampCriterion::SucceededDevices(n) => (succeeded, u64::from(n)),
        };
        Some(every - count % every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(base: u32, milli: u32, criterion: RampCriterion) -> ExponentialRate {
        ExponentialRate {
            base_rate_per_minute: base,
            increment_factor_milli: milli,
            criterion,
        }
    }

    #[test]
    fn the_rate_multiplies_every_n_devices_up_to_the_ceiling() {
        let by_notified = ramp(100, 2000, RampCriterion::NotifiedDevices(50));
        let by_succeeded = ramp(100, 1500, RampCriterion::SucceededDevices(10));
        let cases = [
            ("nothing yet", by_notified, 1000, 0, 0, 100),
            ("49 notified", by_notified, 1000, 49, 0, 100),
            ("50 notified", by_notified, 1000, 50, 0, 200),
            ("149 notified", by_notified, 1000, 149, 0, 400),
            ("150 notified", by_notified, 1000, 150, 0, 800),
            ("capped", by_notified, 1000, 200, 0, 1000),
            ("far past", by_notified, 1000, 1_000_000_000, 0, 1000),
            ("succeeded ignored", by_notified, 1000, 0, 500, 100),
            ("by succeeded", by_succeeded, 10_000, 500, 10, 150),
            ("1.5 twice", by_succeeded, 10_000, 500, 25, 225),
            ("ceiling below base", by_succeeded, 40, 0, 0, 40),
        ];
        for (name, r, ceiling, notified, succeeded, want) in cases {
            assert_eq!(r.rate(ceiling, notified, succeeded), want, "{name}");
        }
    }

    #[test]
    fn the_next_raise_is_counted_from_the_devices_so_far() {
        let r = ramp(100, 2000, RampCriterion::NotifiedDevices(50));
        assert_eq!(r.next_raise_after(1000, 0, 0), Some(50));
        assert_eq!(r.next_raise_after(1000, 120, 0), Some(30));
        assert_eq!(r.next_raise_after(1000, 200, 0), None);
    }

    #[test]
    fn requests_are_checked_naming_the_field() {
        let good = RampInput {
            base_rate_per_minute: Some(100),
            increment_factor: Some(1.5),
            notified_devices: Some(50),
            succeeded_devices: None,
        };
        assert_eq!(
            good.clone().validate("R").unwrap(),
            ramp(100, 1500, RampCriterion::NotifiedDevices(50))
        );
        let cases = [
            (
                RampInput {
                    base_rate_per_minute: Some(0),
                    ..good.clone()
                },
                "R.BaseRatePerMinute",
            ),
            (
                RampInput {
                    base_rate_per_minute: None,
                    ..good.clone()
                },
                "R.BaseRatePerMinute",
            ),
            (
                RampInput {
                    increment_factor: Some(1.05),
                    ..good.clone()
                },
                "R.IncrementFactor",
            ),
            (
                RampInput {
                    increment_factor: Some(5.5),
                    ..good.clone()
                },
                "R.IncrementFactor",
            ),
            (
                RampInput {
                    increment_factor: Some(1.2345),
                    ..good.clone()
                },
                "R.IncrementFactor",
            ),
            (
                RampInput {
                    increment_factor: None,
                    ..good.clone()
                },
                "R.IncrementFactor",
            ),
            (
                RampInput {
                    notified_devices: None,
                    ..good.clone()
                },
                "R.IncreaseCriteria",
            ),
            (
                RampInput {
                    succeeded_devices: Some(5),
                    ..good.clone()
                },
                "R.IncreaseCriteria",
            ),
            (
                RampInput {
                    notified_devices: Some(0),
                    ..good.clone()
                },
                "R.IncreaseCriteria.NotifiedDevices",
            ),
        ];
        for (given, field) in cases {
            let err = given.clone().validate("R").unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{given:?}");
        }
    }
}
