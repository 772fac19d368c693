//! The engine: what moves tasks. Three loops, all driven by the store:
//! - [`ingest`] commits device reports in groups, applies them to tasks and acknowledges
//!   them to the devices once stored;
//! - [`dispatch`] releases pushes at each batch's rate to online devices;
//! - [`timers`] fires due retries, timeouts and batch schedules.
//!
//! Every deadline is a column in the store, so after a restart the loops pick up exactly
//! where they stopped.

pub(crate) mod apply;
pub mod dispatch;
pub mod ingest;
pub(crate) mod presence;
pub(crate) mod report;
pub(crate) mod repush;
pub mod timers;

pub use report::Ack;
