//! The `ota` binary's library: the composition root (`serve`), the admin commands over the
//! native API, the fleet simulator, the benchmarks and the fault suite (`chaos`). `main.rs` only parses the command
//! line and calls in here, so end-to-end tests can reuse the same client and launcher.

pub mod address;
pub mod admin;
pub mod admin_certs;
pub mod admin_rollouts;
pub mod admin_teams;
pub mod admin_webhooks;
pub mod backup;
pub mod bench;
pub mod bench_batch;
pub mod bench_delta;
pub mod bench_download;
pub mod bench_rate;
pub mod bench_reads;
pub mod bridge;
pub mod chaos;
pub mod client;
pub mod config;
pub mod endpoint;
pub mod heap;
pub mod https;
pub mod job_watch;
pub mod launch;
pub mod mqtt_auth;
pub mod outage;
pub mod report_probe;
pub mod serve;
pub mod sim;
pub mod soak;
pub mod webhook_sender;
