//! `ota webhook`: signed webhook endpoints, their delivery logs and test events through the
//! native API.

use crate::client::ApiClient;
use clap::Subcommand;
use serde_json::{Value, json};

/// Webhook endpoints: every event is POSTed as `{"id","type","time","data"}`, signed with
/// `X-Ota-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint. The secret is never shown again.
    Create {
        /// `http://` or `https://` URL.
        url: String,
        /// The signing secret, 16-256 characters.
        #[arg(long)]
        secret: String,
        /// Event types, comma-separated (`batch.created,task.status_changed`), or `*`.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List endpoints.
    List,
    /// An endpoint's deliveries, newest first (status, attempts, last answer).
    Deliveries {
        id: String,
        /// Most deliveries printed.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Queue a `webhook.test` event to an endpoint.
    Test { id: String },
    /// Stop sending to an endpoint (pending deliveries wait).
    Disable { id: String },
    /// Send to an endpoint again.
    Enable { id: String },
    /// Delete an endpoint with its delivery log.
    Delete { id: String },
}

impl WebhookCommand {
    pub async fn run(self, api: &ApiClient) -> anyhow::Result<Value> {
        Ok(match self {
            WebhookCommand::Create {
                url,
                secret,
                events,
                description,
            } => {
                let mut body = json!({"url": url, "secret": secret, "events": events});
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                api.post("/webhooks", &body).await?
            }
            WebhookCommand::List => api.get("/webhooks").await?,
            WebhookCommand::Deliveries { id, limit } => {
                let size = limit.clamp(1, 500);
                api.get(&format!("/webhooks/{id}/deliveries?page_size={size}"))
                    .await?
            }
            WebhookCommand::Test { id } => {
                api.post(&format!("/webhooks/{id}/test"), &json!({}))
                    .await?
            }
            WebhookCommand::Disable { id } => {
                api.patch(&format!("/webhooks/{id}"), &json!({"enabled": false}))
                    .await?
            }
            WebhookCommand::Enable { id } => {
                api.patch(&format!("/webhooks/{id}"), &json!({"enabled": true}))
                    .await?
            }
            WebhookCommand::Delete { id } => {
                api.delete(&format!("/webhooks/{id}")).await?;
                json!({"deleted": id})
            }
        })
    }
}
