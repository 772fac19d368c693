//! Request bodies, query strings and path segments read into typed values, with refusals in
//! the API's own error shape.
//!
//! axum's `Json`, `Form`, `Query` and `Path` refuse input they cannot read with 400/415/422
//! and a bare plain-text message. Here every such refusal is a 400
//! `{code: "InvalidParameter", field, message}` like any other bad input: `field` is where
//! the problem is (`items[2].name`, the query parameter, or the missing field's name),
//! `message` what was wrong there.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// A JSON request body.
pub struct ApiJson<T>(pub T);

/// A `application/x-www-form-urlencoded` request body.
pub struct ApiForm<T>(pub T);

/// The query string.
pub struct ApiQuery<T>(pub T);

/// The path's parameters (`{product_key}`, …), percent-decoded.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default().as_bytes();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| refusal(e.path().to_string(), e.into_inner().to_string()))
    }
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|e| ApiError::invalid("path", e.body_text()))
    }
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if declared
            .as_deref()
            .is_some_and(|t| !t.starts_with("application/json"))
        {
            return Err(ApiError::invalid(
                "Content-Type",
                format!(
                    "must be application/json, not {}",
                    declared.unwrap_or_default()
                ),
            ));
        }
        let bytes = read(req, state).await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(ApiJson)
            .map_err(|e| refusal(e.path().to_string(), e.into_inner().to_string()))
    }
}

impl<S, T> FromRequest<S> for ApiForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read(req, state).await?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(de)
            .map(ApiForm)
            .map_err(|e| refusal(e.path().to_string(), e.into_inner().to_string()))
    }
}

async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|e| ApiError::invalid("body", e.body_text()))
}

/// The refusal of a body that did not read: at `path` (`.` for the whole body), `message`.
fn refusal(path: String, message: String) -> ApiError {
    let field = match path.as_str() {
        "." | "?" => missing_field(&message).unwrap_or("body").to_owned(),
        _ => path,
    };
    ApiError::invalid(&field, message)
}

/// The name in serde's "missing field `name`" (and "unknown field `name`, …").
fn missing_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split('`').next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Batch {
        maximum_per_minute: u32,
        #[serde(default)]
        device_names: Vec<String>,
        gate: Option<Gate>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Gate {
        min_finished: u32,
    }

    async fn refused(content_type: &str, body: &str) -> (StatusCode, String, Option<String>) {
        let req = Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let err = match ApiJson::<Batch>::from_request(req, &()).await {
            Ok(ok) => panic!("{body} was accepted: {:?}", ok.0),
            Err(err) => err,
        };
        (err.status, err.message, err.field)
    }

    #[tokio::test]
    async fn every_refusal_names_the_field_and_the_rule() {
        let json = "application/json";
        #[rustfmt::skip]
        let rows: &[(&str, &str, &str, &str)] = &[
            (json, r#"{"maximum_per_minute": "abc"}"#, "maximum_per_minute", "invalid type: string"),
            (json, r#"{"maximum_per_minute": -5}"#, "maximum_per_minute", "invalid value"),
            (json, r#"{}"#, "maximum_per_minute", "missing field"),
            (json, r#"{"maximum_per_minute": 5, "device_names": ["a", 7]}"#, "device_names[1]", "invalid type"),
            (json, r#"{"maximum_per_minute": 5, "gate": {"min_finished": true}}"#, "gate.min_finished", "invalid type"),
            (json, r#"{"maximum_per_minute": 5"#, "body", "EOF"),
            ("text/plain", r#"{"maximum_per_minute": 5}"#, "Content-Type", "must be application/json"),
        ];
        for (content_type, body, field, message) in rows {
            let (status, got_message, got_field) = refused(content_type, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(got_field.as_deref(), Some(*field), "{body}: {got_message}");
            assert!(got_message.contains(message), "{body}: {got_message}");
        }
    }

    #[tokio::test]
    async fn a_form_refusal_names_the_field() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Login {
            key_id: String,
            secret: String,
        }
        let req = Request::builder().body(Body::from("key_id=a")).unwrap();
        let Err(err) = ApiForm::<Login>::from_request(req, &()).await else {
            panic!("accepted");
        };
        assert_eq!(err.field.as_deref(), Some("secret"), "{}", err.message);
    }
}
