//! How failures look on the native API: a JSON body with a stable `code`, the `field` at
//! fault and a `message` stating the rule, with a 4xx status for the caller's mistakes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ota_core::CoreError;
use ota_domain::{DomainError, ErrorCode};
use serde::Serialize;

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub field: Option<String>,
    pub message: String,
}

/// The body of every native API error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable error code (`InvalidParameter`, `NotFound`, `InvalidState`, …).
    pub code: String,
    /// The parameter or body field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule that was broken, in words.
    pub message: String,
}

/// The error answers any native route may give, for its OpenAPI description.
#[derive(utoipa::IntoResponses)]
pub enum ErrorResponses {
    /// Bad input, unknown entity or wrong state.
    #[response(status = "4XX")]
    Refused(ErrorBody),
    /// The store cannot answer now; retry.
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &str,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.to_owned(),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, None, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParameter.as_str(),
            Some(field),
            message,
        )
    }
}

/// The HTTP status of a domain error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::AlreadyExists | ErrorCode::InvalidState | ErrorCode::DeviceInTask => {
            StatusCode::CONFLICT
        }
        ErrorCode::FirmwareNotVerified => StatusCode::CONFLICT,
        ErrorCode::QuotaExceeded => StatusCode::FORBIDDEN,
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError {
            status: status_of(e.code),
            code: e.code.as_str().to_owned(),
            field: e.field,
            message: e.message,
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Domain(d) => d.into(),
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    other.code(),
                    None,
                    "internal error; see the server log",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            field: self.field,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
