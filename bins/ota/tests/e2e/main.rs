//! End-to-end tests: the real `ota serve` binary, driven through its signed REST API by an
//! operator and through MQTT and HTTP by SDK devices (single `Device`s for step-by-step
//! scenarios, the fleet simulator for rollouts). They check the rules of the Aliyun OTA
//! spec (§1.3–§3) where they meet: job creation, task states, pushes, retries, timeouts,
//! schedules, isolation, restart. One binary so the server build is shared and each
//! scenario starts its own server on ephemeral ports.

mod abuse;
mod api;
mod at_least_once;
mod backup;
mod balancer;
mod bench_batch;
mod bench_delta;
mod bench_download;
mod bench_rate;
mod bench_reads;
mod cancel;
mod cli;
mod creation;
mod delivery;
mod delta_defaults;
mod deltas;
mod disable;
mod dynamic;
mod external_broker;
mod failures;
mod fixtures;
mod gates;
mod hang_up;
mod harness;
mod isolation;
mod mtls;
mod nodes;
mod one_platform;
mod package_storage;
mod restart;
mod rmqtt;
mod rmqtt_broker;
mod rollout;
mod rollout_control;
mod schedule;
mod secure;
mod soak;
mod store_outage;
mod teams;
mod tls;
mod verify;
mod waves;
mod webhooks;
