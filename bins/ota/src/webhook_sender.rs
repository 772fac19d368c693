//! The webhook port of the core (`ota_core::WebhookSender`) over an HTTP client: one POST
//! per delivery, with the request's timeout, keeping only the answer's status.

use futures::future::BoxFuture;
use ota_core::webhooks::worker::WebhookRequest;

/// Sends webhook deliveries with reqwest.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    http: reqwest::Client,
}

impl HttpWebhookSender {
    pub fn new() -> anyhow::Result<HttpWebhookSender> {
        let http = reqwest::Client::builder()
            // An endpoint's redirect is an answer, not an instruction to post elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ota-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpWebhookSender { http })
    }
}

impl ota_core::WebhookSender for HttpWebhookSender {
    fn post(&self, request: WebhookRequest) -> BoxFuture<'static, Result<u16, String>> {
        let mut builder = self
            .http
            .post(&request.url)
            .timeout(request.timeout)
            .body(request.body);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        Box::pin(async move {
            // The body is dropped unread: an endpoint's answer costs no memory.
            let answer = builder.send().await.map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    format!("could not connect: {e}")
                } else {
                    e.to_string()
                }
            })?;
            Ok(answer.status().as_u16())
        })
    }
}
