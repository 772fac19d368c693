//! `ota admin product ca|revocation|certificates`: a product's X.509 device certificate
//! settings through the native API (registered CAs, revoked serials, creation of devices on
//! their first certificate connect).

use crate::client::ApiClient;
use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The CA certificates whose device certificates log a product's devices in.
#[derive(Subcommand)]
pub enum CaCommand {
    /// Register a CA certificate (a PEM file holding one CERTIFICATE block).
    Add {
        product_key: String,
        pem_file: PathBuf,
    },
    /// List a product's CAs.
    List { product_key: String },
    /// Remove a CA by its id (the SHA-256 `ca_id` the list shows).
    Remove { product_key: String, ca_id: String },
}

/// Device certificate serials refused whatever their CA says.
#[derive(Subcommand)]
pub enum RevocationCommand {
    /// Revoke a serial (hexadecimal, `:` between bytes allowed).
    Add { product_key: String, serial: String },
    /// List a product's revoked serials.
    List { product_key: String },
    /// Take a revocation back.
    Remove { product_key: String, serial: String },
}

impl CaCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        match self {
            CaCommand::Add {
                product_key,
                pem_file,
            } => {
                let pem = std::fs::read_to_string(&pem_file)
                    .with_context(|| format!("reading {}", pem_file.display()))?;
                let body = json!({"certificate": pem});
                api.post(&format!("/products/{product_key}/device-cas"), &body)
                    .await
            }
            CaCommand::List { product_key } => {
                api.get(&format!("/products/{product_key}/device-cas"))
                    .await
            }
            CaCommand::Remove { product_key, ca_id } => {
                api.delete(&format!("/products/{product_key}/device-cas/{ca_id}"))
                    .await
            }
        }
    }
}

impl RevocationCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        let path = |pk: &str| format!("/products/{pk}/revoked-certificates");
        match self {
            RevocationCommand::Add {
                product_key,
                serial,
            } => {
                api.post(&path(&product_key), &json!({"serial": serial}))
                    .await
            }
            RevocationCommand::List { product_key } => api.get(&path(&product_key)).await,
            RevocationCommand::Remove {
                product_key,
                serial,
            } => {
                let serial: String = serial.chars().filter(|c| *c != ':').collect();
                api.delete(&format!("{}/{serial}", path(&product_key)))
                    .await
            }
        }
    }
}

/// Turns creating devices on their first certificate connect on or off.
pub async fn set_auto_create(
    api: &ApiClient,
    product_key: &str,
    on: bool,
) -> anyhow::Result<Value> {
    let body = json!({"certificate_auto_create": on});
    api.patch(&format!("/products/{product_key}"), &body).await
}
