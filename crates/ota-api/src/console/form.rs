//! Form input and failure display. Forms arrive as ordered `(name, value)` pairs (repeated
//! names allowed) and are re-rendered with what the user typed when the core refuses them;
//! the refusal's `field` (the Aliyun parameter name) places the message next to the input.

use super::layout;
use axum::extract::Multipart;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use ota_core::CoreError;
use ota_domain::{DomainError, ErrorCode};

/// A submitted form.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pub pairs: Vec<(String, String)>,
    /// Uploaded files: (field name, file name, bytes).
    pub files: Vec<(String, String, Bytes)>,
}

impl FormData {
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        FormData {
            pairs,
            files: Vec::new(),
        }
    }

    /// Reads a multipart form, keeping file fields' bytes.
    pub async fn multipart(mut m: Multipart) -> Result<FormData, FormError> {
        let mut form = FormData::default();
        let bad = |e: axum::extract::multipart::MultipartError| FormError::general(e.body_text());
        while let Some(field) = m.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file) => {
                    let bytes = field.bytes().await.map_err(bad)?;
                    if !bytes.is_empty() {
                        form.files.push((name, file, bytes));
                    }
                }
                None => form.pairs.push((name, field.text().await.map_err(bad)?)),
            }
        }
        Ok(form)
    }

    /// The trimmed value of `name`, absent when missing or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `get` as an owned string.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }

    /// Every non-blank value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// Whether a checkbox was ticked.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An integer field; a non-number is reported against `field` (the Aliyun name).
    pub fn int(&self, name: &str, field: &str) -> Result<Option<i64>, DomainError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| DomainError::invalid(field, "must be a whole number"))
            })
            .transpose()
    }

    /// The uploaded file of field `name`.
    pub fn file(&self, name: &str) -> Option<&(String, String, Bytes)> {
        self.files.iter().find(|(k, _, _)| k == name)
    }
}

/// Why a form was refused: the parameter at fault (if any) and the rule.
#[derive(Debug, Clone)]
pub struct FormError {
    pub field: Option<String>,
    pub message: String,
}

impl FormError {
    pub fn general(message: impl Into<String>) -> Self {
        FormError {
            field: None,
            message: message.into(),
        }
    }

    /// Whether the error belongs to an input naming parameter `name` (`TargetDeviceName`
    /// also owns `TargetDeviceName.3`).
    pub fn is_for(&self, name: &str) -> bool {
        self.field.as_deref().is_some_and(|f| {
            f == name
                || f.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    }

    /// `Field: rule`, as the error summary shows it.
    pub fn summary(&self) -> String {
        match &self.field {
            Some(f) => format!("{f}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

impl From<DomainError> for FormError {
    fn from(e: DomainError) -> Self {
        FormError {
            field: e.field,
            message: e.message,
        }
    }
}

impl From<CoreError> for FormError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Domain(d) => d.into(),
            other => {
                tracing::error!(error = %other, "console request failed");
                FormError::general("internal error; see the server log")
            }
        }
    }
}

/// A page that cannot be shown (unknown entity, server failure).
#[derive(Debug)]
pub struct ConsoleError {
    pub status: StatusCode,
    pub message: String,
}

impl From<CoreError> for ConsoleError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Domain(d) => ConsoleError {
                status: crate::error::status_of(d.code),
                message: match d.field {
                    Some(f) if d.code != ErrorCode::NotFound => format!("{f}: {}", d.message),
                    _ => d.message,
                },
            },
            other => {
                tracing::error!(error = %other, "console page failed");
                ConsoleError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "internal error; see the server log".to_owned(),
                }
            }
        }
    }
}

impl From<DomainError> for ConsoleError {
    fn from(e: DomainError) -> Self {
        CoreError::Domain(e).into()
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        (self.status, layout::error_page(self.status, &self.message)).into_response()
    }
}

/// Result of a page handler.
pub type PageResult<T = Response> = Result<T, ConsoleError>;
