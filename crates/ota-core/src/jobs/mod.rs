//! Batch use cases: create, start, finish, cancel, change; and the task commands operators
//! issue (confirm, cancel, re-upgrade). Batch transitions come from `Job::apply`; their
//! effects are carried out here by applying task events, so every task still moves only
//! through its own state machine.
//!
//! By idea: [`create`] (a batch), [`creator`] (creating its tasks in the background), [`read`] (batches and their tasks as they
//! are), [`update`] (changing a running batch), [`lifecycle`] (batch events: start, finish,
//! cancel, and settling a batch whose tasks ended), [`control`] (pause, resume and the
//! failure gate), [`commands`] (operator commands on tasks).

mod commands;
mod control;
mod create;
mod creator;
mod lifecycle;
mod read;
mod update;

pub(crate) use creator::Creator;
pub use update::*;

use ota_domain::firmware::FirmwareType;
use ota_domain::task::Rejection;
use ota_domain::validate::{DynamicJobRequest, StaticJobRequest, VerifyJobRequest};
use ota_domain::{DomainError, ErrorCode};

/// A request for a new batch, as the faces received it; validated against its package.
#[derive(Debug, Clone)]
pub enum JobRequest {
    Verify(VerifyJobRequest),
    Static(StaticJobRequest),
    Dynamic(DynamicJobRequest),
}

/// Tasks are read and changed in chunks of this many, so a batch of a million devices
/// never sits in memory at once.
const CHUNK: i64 = 2_000;

fn rejected(field: &str, rejection: Rejection) -> DomainError {
    let message = match rejection {
        Rejection::Stale(m) | Rejection::Invalid(m) => m,
    };
    DomainError::new(ErrorCode::InvalidState, Some(field), message)
}

/// The source version a differential package requires of a device, if it is one.
pub(crate) fn required_src(firmware: &ota_domain::firmware::Firmware) -> Option<&str> {
    (firmware.firmware_type == FirmwareType::Differential)
        .then_some(firmware.src_version.as_deref())
        .flatten()
}
