//! Task states and their reasons, with the stable strings they are stored and shown as.

use serde::{Deserialize, Serialize};

/// The states of spec §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TaskStatus {
    Confirm,
    Queued,
    Notified,
    InProgress,
    Succeeded,
    Failed,
    Canceled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::Confirm,
        TaskStatus::Queued,
        TaskStatus::Notified,
        TaskStatus::InProgress,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Confirm => "CONFIRM",
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Notified => "NOTIFIED",
            TaskStatus::InProgress => "IN_PROGRESS",
            TaskStatus::Succeeded => "SUCCEEDED",
            TaskStatus::Failed => "FAILED",
            TaskStatus::Canceled => "CANCELED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        TaskStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// SUCCEEDED, FAILED and CANCELED never change again, except by an explicit re-upgrade.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Canceled
        )
    }
}

/// Why a QUEUED task has not been pushed yet (the console's "To Be Pushed" sub-reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum QueuedReason {
    /// Eligible: it goes out with the next rate release.
    Ready,
    /// The device is offline; it is pushed when it connects.
    Offline,
    /// The batch has not reached its start time.
    Scheduled,
    /// Held back by the batch's push rate.
    RateLimited,
    /// A failed attempt waits for its retry interval (`retry_at`).
    RetryScheduled,
    /// The batch does not push (NeedPush=false): the device must ask.
    AwaitingPull,
}

impl QueuedReason {
    pub const ALL: [QueuedReason; 6] = [
        QueuedReason::Ready,
        QueuedReason::Offline,
        QueuedReason::Scheduled,
        QueuedReason::RateLimited,
        QueuedReason::RetryScheduled,
        QueuedReason::AwaitingPull,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueuedReason::Ready => "READY",
            QueuedReason::Offline => "OFFLINE",
            QueuedReason::Scheduled => "SCHEDULED",
            QueuedReason::RateLimited => "RATE_LIMITED",
            QueuedReason::RetryScheduled => "RETRY_SCHEDULED",
            QueuedReason::AwaitingPull => "AWAITING_PULL",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        QueuedReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Why a task FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FailureReason {
    /// Progress -1: the update failed.
    UpgradeFailed,
    /// Progress -2: the download failed.
    DownloadFailed,
    /// Progress -3: the checksum or signature did not verify.
    VerifyFailed,
    /// Progress -4: writing the image failed.
    BurnFailed,
    /// No success within TimeoutInMinutes of the first progress report. Never retried.
    Timeout,
    /// After updating, the device reported a version other than the destination.
    WrongVersion,
    /// The batch's ScheduleFinishTime passed before the device finished.
    ScheduleFinished,
}

impl FailureReason {
    pub const ALL: [FailureReason; 7] = [
        FailureReason::UpgradeFailed,
        FailureReason::DownloadFailed,
        FailureReason::VerifyFailed,
        FailureReason::BurnFailed,
        FailureReason::Timeout,
        FailureReason::WrongVersion,
        FailureReason::ScheduleFinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::UpgradeFailed => "UPGRADE_FAILED",
            FailureReason::DownloadFailed => "DOWNLOAD_FAILED",
            FailureReason::VerifyFailed => "VERIFY_FAILED",
            FailureReason::BurnFailed => "BURN_FAILED",
            FailureReason::Timeout => "TIMEOUT",
            FailureReason::WrongVersion => "WRONG_VERSION",
            FailureReason::ScheduleFinished => "SCHEDULE_FINISHED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        FailureReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Timeouts and forced ends are final; device-reported failures may be retried.
    pub fn is_retryable(self) -> bool {
        !matches!(
            self,
            FailureReason::Timeout | FailureReason::ScheduleFinished
        )
    }
}

/// Why a task was CANCELED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CancelReason {
    /// An operator cancelled this device's task.
    Operator,
    /// The whole batch was cancelled.
    JobCanceled,
    /// A newer batch with OverwriteMode=2 took its place.
    Overwritten,
}

impl CancelReason {
    pub const ALL: [CancelReason; 3] = [
        CancelReason::Operator,
        CancelReason::JobCanceled,
        CancelReason::Overwritten,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Operator => "OPERATOR",
            CancelReason::JobCanceled => "JOB_CANCELED",
            CancelReason::Overwritten => "OVERWRITTEN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        CancelReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}
