//! The store's conformance suite: every test runs against a fresh SQLite file and a fresh
//! PostgreSQL schema (`OTA_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! `OTA_TEST_SKIP_PG=1` skips PostgreSQL).

#[path = "conformance/support.rs"]
#[macro_use]
mod support;

#[path = "conformance/audit.rs"]
mod audit;
#[path = "conformance/backup.rs"]
mod backup;
#[path = "conformance/bulk_cancel.rs"]
mod bulk_cancel;
#[path = "conformance/catalog.rs"]
mod catalog;
#[path = "conformance/concurrency.rs"]
mod concurrency;
#[path = "conformance/creation.rs"]
mod creation;
#[path = "conformance/creation_progress.rs"]
mod creation_progress;
#[path = "conformance/deltas.rs"]
mod deltas;
#[path = "conformance/device_cas.rs"]
mod device_cas;
#[path = "conformance/housekeeping.rs"]
mod housekeeping;
#[path = "conformance/identity.rs"]
mod identity;
#[path = "conformance/lookups.rs"]
mod lookups;
#[path = "conformance/nodes.rs"]
mod nodes;
#[path = "conformance/perf.rs"]
mod perf;
#[path = "conformance/registry.rs"]
mod registry;
#[path = "conformance/rollouts.rs"]
mod rollouts;
#[path = "conformance/signing_keys.rs"]
mod signing_keys;
#[path = "conformance/targets.rs"]
mod targets;
#[path = "conformance/tasks.rs"]
mod tasks;
#[path = "conformance/teams.rs"]
mod teams;
#[path = "conformance/webhooks.rs"]
mod webhooks;
