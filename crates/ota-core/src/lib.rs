//! The service layer: every use case of the platform, and the engine that moves tasks.
//!
//! Faces (REST, Aliyun RPC, console, device gateway) only parse input, call a use case of
//! one of [`Core`]'s services (`services.rs`: registry, firmwares, jobs, tasks, deltas,
//! signing, delivery, access) and render the result; all rules live in `ota-domain` and all transactions here.
//! Each use case loads state from the store, applies a pure domain transition and saves the
//! result. Device reports enter through [`Core::report`] and are committed in groups by the
//! ingest worker, so a burst of reports costs one transaction, not one per message; each
//! is acknowledged to its device only once stored.
//!
//! This crate must not import any face: no axum, no MQTT codec.

mod access;
mod applications;
mod audit;
mod block_grants;
mod cache;
mod clock;
mod config;
mod core;
mod deltas;
mod device_certificates;
pub mod engine;
mod error;
mod firmwares;
mod identity;
mod ids;
mod jobs;
mod link;
mod lookups;
pub mod nodes;
mod overview;
mod push;
mod registration;
mod registry;
mod resources;
mod rollouts;
pub mod sealing;
mod services;
mod signing;
mod task_commands;
mod teams;
mod uploads;
pub mod webhooks;

pub use crate::core::Core;
pub use applications::*;
pub use audit::{AuditRecord, MAX_AUDIT_PAGE};
pub use clock::{Clock, OffsetClock, SystemClock};
pub use config::CoreConfig;
pub use deltas::{DeltaView, PAYOFF_PERCENT};
pub use device_certificates::CertificateAdmission;
pub use engine::Ack;
pub use error::{CoreError, CoreResult};
pub use firmwares::*;
pub use jobs::*;
pub use link::{DeviceLink, NoDevices};
pub use lookups::*;
/// The dynamic registration request and answer, which the HTTPS face parses and renders.
pub use ota_protocol::{Issued, RegistrationRequest};
/// Store types the faces render or page with; the faces reach the store itself only
/// through [`Core`].
pub use ota_store::{AccessKeyRow, ApiTokenRow, AuditEventRow, AuditFilter, PolicyRow, UserRow};
pub use ota_store::{DeliveryRow, DeliveryStatus, WebhookRow};
pub use ota_store::{DeviceCaRow, JobCounts, NodeRow, Page, RevokedCertificateRow, TaskFilter};
pub use overview::FirmwareTally;
pub use registration::{RANDOM_MEMORY_MS, RegistrationChannel};
pub use registry::*;
pub use resources::NamedResources;
pub use services::{
    Access, Audit, Delivery, Deltas, Firmwares, Jobs, Registry, Rollouts, Signing, Tasks, Teams,
    Webhooks,
};
pub use signing::{DEFAULT_OVERLAP_MS, MANIFEST_TTL_MS, SigningKeyInfo};
pub use task_commands::*;
pub use teams::*;
pub use uploads::*;
pub use webhooks::{NewWebhook, WebhookChange, WebhookSender};
