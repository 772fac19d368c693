//! Integration tests of the device SDK, in one binary (STYLE: one integration test binary
//! per crate).
//!
//! The platform is not ready yet, so the tests play it themselves: a `rumqttc` client on the
//! Mosquitto broker at 127.0.0.1:1883 (anonymous; it does not check Aliyun passwords) acts
//! as the OTA service, and a small axum server serves packages with `Range` support. Every
//! test uses its own product key so tests can share the broker in parallel.

mod auth;
mod blocks;
mod delta_limit;
mod pull;
mod resume;
mod signed;
mod sim;
mod support;
mod update;
