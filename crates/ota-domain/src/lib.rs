//! The pure core of the OTA platform: identifiers, validated values, entities, the
//! task and batch state machines, and RAM-compatible access policies.
//!
//! Everything here is deterministic and free of IO: no async, no database, no clock (the
//! current time is always an argument). The store, the engine and the protocol faces build on
//! these types; this crate must not import any of them.

pub mod access;
pub mod certificate;
pub mod error;
pub mod firmware;
pub mod identity;
pub mod ids;
pub mod job;
pub mod registry;
pub mod rollout;
pub mod stats;
pub mod task;
pub mod time;
pub mod validate;
pub mod webhook;

pub use error::{DomainError, ErrorCode};
pub use ids::*;
pub use time::Millis;
