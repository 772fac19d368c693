//! Integration tests: real `rumqttc` clients (v3.1.1 and v5) over loopback against a
//! gateway bound to 127.0.0.1:0 with an in-memory handler.

mod acks;
mod auth;
mod broker;
mod isolation;
mod memory;
mod ota;
mod support;
mod support_v5;
