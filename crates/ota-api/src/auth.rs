//! Verifies signed requests on `/api/v1`: known, enabled key of an enabled user, fresh
//! timestamp (±15 minutes), unused nonce (in the store, shared by every node), matching body
//! digest and signature. Or, for scripts that cannot sign, a personal access token
//! (`Authorization: Bearer otapat_…`). Either way the request carries a
//! [`Caller`] onward; failures are 401 with a stable code and never echo a secret.

use crate::authz::Caller;
use crate::error::ApiError;
use crate::sign::{self, HEADER_CONTENT_SHA256, HEADER_KEY_ID, HEADER_NONCE, HEADER_TIMESTAMP};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ota_core::{KeyCheck, TokenCheck};
use subtle::ConstantTimeEq;

/// How far a request's timestamp may be from the server clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
/// Largest signed (buffered) request body.
pub const MAX_SIGNED_BODY: usize = 8 * 1024 * 1024;

/// Records a request's nonce in the store every node shares, so a request replayed to any
/// node of the platform is refused. The nonce is kept until the request's timestamp
/// (`timestamp`, Unix seconds) leaves the accepted window; after that the timestamp alone
/// refuses a replay. False for a nonce already used.
pub async fn use_nonce(
    state: &AppState,
    scope: &str,
    nonce: &str,
    now: i64,
    timestamp: i64,
) -> ota_core::CoreResult<bool> {
    let expires_at = (timestamp + MAX_SKEW_SECS + 1) * 1000;
    state
        .core
        .access()
        .use_nonce(scope, nonce, now * 1000, expires_at)
        .await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "MissingAuthentication",
                format!("header {name} is required"),
            )
        })
}

/// Middleware: rejects unsigned or badly signed requests.
pub async fn require_signature(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    let source_ip = crate::authz::source_ip(&parts.extensions);
    let user_agent = crate::authz::user_agent(&parts.headers);
    if let Some(token) = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let principal = bearer(&state, token.trim()).await?;
        let session_id = principal.token_id.clone();
        parts.extensions.insert(Caller {
            principal,
            session_id,
            source_ip,
            user_agent,
        });
        return Ok(next.run(Request::from_parts(parts, body)).await);
    }
    let headers = &parts.headers;
    let key_id = header(headers, HEADER_KEY_ID)?.to_owned();
    let timestamp = header(headers, HEADER_TIMESTAMP)?.to_owned();
    let nonce = header(headers, HEADER_NONCE)?.to_owned();
    let content = header(headers, HEADER_CONTENT_SHA256)?.to_owned();
    let authorization = header(headers, "authorization")?;
    let given = authorization
        .strip_prefix(sign::SCHEME)
        .map(str::trim)
        .and_then(|rest| rest.strip_prefix("Signature="))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "MissingAuthentication",
                format!("Authorization must be `{} Signature=<hex>`", sign::SCHEME),
            )
        })?
        .to_owned();

    // Freshness is judged by real time, as the client signs with its wall clock: a server
    // whose platform clock was moved forward (tests, demos) must not lock clients out.
    let now = ota_core::Clock::now(&ota_core::SystemClock) / 1000;
    let ts: i64 = timestamp.parse().map_err(|_| {
        ApiError::unauthorized(
            "InvalidTimeStamp.Format",
            "x-ota-timestamp must be Unix seconds",
        )
    })?;
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            "InvalidTimeStamp.Expired",
            "timestamp is more than 15 minutes from the server time",
        ));
    }
    let key = match state.core.teams().signing_key(&key_id).await? {
        KeyCheck::Active(key) => key,
        KeyCheck::Unknown => {
            return Err(ApiError::unauthorized(
                "InvalidAccessKeyId.NotFound",
                "unknown access key",
            ));
        }
        KeyCheck::Inactive => {
            return Err(ApiError::unauthorized(
                "InvalidAccessKeyId.Inactive",
                "the access key or its user is disabled",
            ));
        }
    };
    let secret = key.secret.clone();

    // Nested routers see a stripped path; the signature covers the one the client sent.
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let expected = sign::signature(
        &secret,
        &sign::canonical(
            parts.method.as_str(),
            &path,
            &query,
            &timestamp,
            &nonce,
            &content,
        ),
    );
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(given.to_ascii_lowercase().as_bytes()),
    ) {
        return Err(ApiError::unauthorized(
            "SignatureDoesNotMatch",
            "the request signature does not match",
        ));
    }
    let fresh = use_nonce(&state, &format!("api:{key_id}"), &nonce, now, ts).await?;
    if !fresh {
        return Err(ApiError::unauthorized(
            "SignatureNonceUsed",
            "this nonce was already used",
        ));
    }

    let body = if content == sign::UNSIGNED_PAYLOAD {
        if !path.starts_with("/api/v1/uploads/") {
            return Err(ApiError::unauthorized(
                "SignatureDoesNotMatch",
                "only uploads may use UNSIGNED-PAYLOAD",
            ));
        }
        body
    } else {
        let bytes = axum::body::to_bytes(body, MAX_SIGNED_BODY)
            .await
            .map_err(|_| {
                ApiError::invalid("body", format!("must be at most {MAX_SIGNED_BODY} bytes"))
            })?;
        if sign::body_sha256(&bytes) != content.to_ascii_lowercase() {
            return Err(ApiError::unauthorized(
                "ContentDigestMismatch",
                "x-ota-content-sha256 does not match the body",
            ));
        }
        Body::from(bytes)
    };
    state
        .core
        .teams()
        .key_used(&key, source_ip.as_deref().unwrap_or("unknown"))
        .await?;
    parts.extensions.insert(Caller {
        principal: key.principal,
        session_id: None,
        source_ip,
        user_agent,
    });
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The user behind a personal access token, or why it is refused.
async fn bearer(state: &AppState, token: &str) -> Result<ota_core::Principal, ApiError> {
    let refused = |code: &str, message: &str| Err(ApiError::unauthorized(code, message));
    match state.core.teams().check_token(token).await? {
        TokenCheck::Active(principal) => Ok(principal),
        TokenCheck::Unknown => refused("InvalidToken.NotFound", "unknown access token"),
        TokenCheck::Expired => refused("InvalidToken.Expired", "the access token has expired"),
        TokenCheck::Revoked => refused("InvalidToken.Revoked", "the access token was revoked"),
        TokenCheck::Inactive => refused("InvalidToken.Inactive", "the token's user is disabled"),
    }
}
