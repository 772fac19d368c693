//! Package verification math (spec §3.3): a verify batch's task counts decide the package's
//! status, so the store counts and this decides, identically on every node.

use crate::firmware::FirmwareStatus;
use crate::stats::TaskCounts;

/// The package status a verify batch's tasks imply: `Verified` once every device
/// succeeded, `VerifyFailed` once none is left running and any failed or was cancelled,
/// otherwise (including before any task exists) still `Verifying`.
pub fn verify_outcome(counts: &TaskCounts) -> FirmwareStatus {
    let total = counts.total();
    if total > 0 && counts.succeeded == total {
        FirmwareStatus::Verified
    } else if total > 0 && counts.unfinished() == 0 {
        FirmwareStatus::VerifyFailed
    } else {
        FirmwareStatus::Verifying
    }
}

/// `VerifyProgress` (0–100): the share of the verify batch's devices that succeeded,
/// rounded down so 100 means all of them.
pub fn verify_progress(counts: &TaskCounts) -> i32 {
    match counts.total() {
        0 => 0,
        total => (counts.succeeded * 100 / total) as i32,
    }
}
