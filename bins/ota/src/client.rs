//! A client of the native API that signs every request: used by the admin commands, the
//! simulator's setup, the benchmarks and the end-to-end tests.

use anyhow::{Context, bail};
use ota_api::sign;
use serde_json::Value;

/// Where the API is and which key signs for us.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key_id: String,
    secret: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// A failed call: the HTTP status and the API's JSON error.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.body)
    }
}

impl std::error::Error for ApiFailure {}

impl ApiClient {
    pub fn new(base: &str, key_id: &str, secret: &str) -> ApiClient {
        ApiClient {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            key_id: key_id.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// From `OTA_URL` (default `http://127.0.0.1:8080`), `OTA_ACCESS_KEY_ID` and
    /// `OTA_ACCESS_KEY_SECRET`.
    pub fn from_env() -> anyhow::Result<ApiClient> {
        let base = std::env::var("OTA_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
        let id = std::env::var("OTA_ACCESS_KEY_ID").context("OTA_ACCESS_KEY_ID is not set")?;
        let secret =
            std::env::var("OTA_ACCESS_KEY_SECRET").context("OTA_ACCESS_KEY_SECRET is not set")?;
        Ok(ApiClient::new(&base, &id, &secret))
    }

    /// The same client, giving up on a call (and hanging up) after `limit`.
    pub fn with_timeout(mut self, limit: std::time::Duration) -> ApiClient {
        self.http = reqwest::Client::builder()
            .timeout(limit)
            .build()
            .unwrap_or_default();
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The access key id and secret it signs with.
    pub fn credentials(&self) -> (&str, &str) {
        (&self.key_id, &self.secret)
    }

    fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&[u8]>,
    ) -> reqwest::RequestBuilder {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let nonce = format!("{:032x}", rand::random::<u128>());
        let path_and_query = format!("/api/v1{path}");
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.base));
        for (name, value) in sign::sign_headers(
            &self.key_id,
            &self.secret,
            method.as_str(),
            &path_and_query,
            body,
            now,
            &nonce,
        ) {
            request = request.header(name, value);
        }
        request
    }

    async fn finish(response: reqwest::Response) -> anyhow::Result<Value> {
        let status = response.status();
        let text = response.text().await?;
        let body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            Ok(body)
        } else {
            Err(ApiFailure {
                status: status.as_u16(),
                body,
            }
            .into())
        }
    }

    /// A signed JSON call; `path` is below `/api/v1`.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let mut request = self.signed(method, path, Some(bytes.as_deref().unwrap_or_default()));
        if let Some(bytes) = bytes {
            request = request
                .header("content-type", "application/json")
                .body(bytes);
        }
        Self::finish(request.send().await?).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// Streams a file to `/uploads/{name}`; `on_progress` sees the bytes sent so far.
    pub async fn upload(
        &self,
        path: &std::path::Path,
        on_progress: impl Fn(u64) + Send + Sync + 'static,
    ) -> anyhow::Result<Value> {
        use futures::StreamExt;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("file name is not UTF-8")?;
        let file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("opening {}", path.display()))?;
        let size = file.metadata().await?.len();
        let mut sent = 0u64;
        let stream =
            tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).map(move |chunk| {
                if let Ok(bytes) = &chunk {
                    sent += bytes.len() as u64;
                    on_progress(sent);
                }
                chunk
            });
        let request = self
            .signed(reqwest::Method::PUT, &format!("/uploads/{name}"), None)
            .header("content-length", size)
            .body(reqwest::Body::wrap_stream(stream));
        Self::finish(request.send().await?).await
    }

    /// Uploads bytes from memory.
    pub async fn upload_bytes(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        let request = self
            .signed(reqwest::Method::PUT, &format!("/uploads/{name}"), None)
            .body(bytes);
        Self::finish(request.send().await?).await
    }
}

/// Fails unless `value[field]` is a string, which it returns.
pub fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    match value[field].as_str() {
        Some(s) => Ok(s.to_owned()),
        None => bail!("response has no {field}: {value}"),
    }
}
