//! Who is calling: verifies an ACS3-HMAC-SHA256 or a v1 HMAC-SHA1 signature against the
//! platform's access keys, with a bounded clock skew and single-use nonces (kept in the
//! store, so a request replayed to another node is refused too). Failures are
//! 4xx with the platform's codes, which the SDKs raise as exceptions.
//!
//! Freshness is judged by the wall clock, not the platform clock: clients sign with their
//! wall clock, and a test server's adjustable clock moves platform time only.

use super::params::Params;
use super::{sign_acs3, sign_v1};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use ota_core::KeyCheck;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How far a request's time may be from the server's (15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    /// Signs the caller's upload policies (as OSS does with the access key secret).
    pub secret: String,
    /// The user and policies behind the key, for the policy check and the audit log.
    pub who: crate::authz::Caller,
}

/// Why a request was refused.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// The parts of a request a signature covers.
pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    /// Decoded pairs of the query string alone.
    pub query: &'a [(String, String)],
    /// Query and form body together.
    pub params: &'a Params,
    pub body: &'a [u8],
    pub extensions: &'a axum::http::Extensions,
}

fn wall_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a signature given the caller's secret.
type Verifier = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Verifies the request and names the caller.
pub async fn authenticate(state: &AppState, req: &Signed<'_>) -> Result<Caller, Refusal> {
    let bad = |m: &str| refuse(StatusCode::BAD_REQUEST, "IncompleteSignature", m);
    let mut string_to_sign = None;
    let (key_id, nonce, date, expected): (String, String, String, Verifier) = if let Some(auth) =
        header(req.headers, "authorization").filter(|a| a.starts_with(sign_acs3::SCHEME))
    {
        let auth = sign_acs3::parse_authorization(auth)
            .ok_or_else(|| bad("the Authorization header is malformed"))?;
        for needed in [
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ] {
            if !auth.signed_headers.iter().any(|h| h == needed) {
                return Err(bad(&format!("SignedHeaders must include {needed}")));
            }
        }
        let payload = header(req.headers, "x-acs-content-sha256").unwrap_or_default();
        if !payload.eq_ignore_ascii_case(&hex::encode(Sha256::digest(req.body))) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "SignatureDoesNotMatch",
                "x-acs-content-sha256 does not match the body",
            ));
        }
        let canonical = sign_acs3::canonical_request(
            req.method,
            req.path,
            req.query,
            req.headers,
            &auth.signed_headers,
            &payload.to_ascii_lowercase(),
        );
        let given = auth.signature.clone();
        (
            auth.key_id,
            header(req.headers, "x-acs-signature-nonce")
                .unwrap_or_default()
                .to_owned(),
            header(req.headers, "x-acs-date")
                .unwrap_or_default()
                .to_owned(),
            Box::new(move |secret: &str| check(&sign_acs3::signature(secret, &canonical), &given)),
        )
    } else if let Some(given) = req.params.get("Signature") {
        let p = req.params;
        if p.get("SignatureMethod").is_some_and(|m| m != "HMAC-SHA1") {
            return Err(bad("SignatureMethod must be HMAC-SHA1"));
        }
        let (given, all, method) = (given.to_owned(), p.all().clone(), req.method.to_owned());
        string_to_sign = Some(sign_v1::string_to_sign(&method, &all));
        (
            p.get("AccessKeyId").unwrap_or_default().to_owned(),
            p.get("SignatureNonce").unwrap_or_default().to_owned(),
            p.get("Timestamp").unwrap_or_default().to_owned(),
            Box::new(move |secret: &str| check(&sign_v1::signature(secret, &method, &all), &given)),
        )
    } else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "MissingSignature",
            "sign the request with ACS3-HMAC-SHA256 or signature v1 (HMAC-SHA1)",
        ));
    };
    if key_id.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "MissingAccessKeyId",
            "AccessKeyId is required",
        ));
    }
    if nonce.is_empty() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "MissingSignatureNonce",
            "a signature nonce is required",
        ));
    }
    let ts = time::OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            refuse(
                StatusCode::BAD_REQUEST,
                "InvalidTimeStamp.Format",
                "the timestamp must be ISO 8601 UTC, e.g. 2026-01-01T00:00:00Z",
            )
        })?;
    let now = wall_secs();
    if (now - ts.unix_timestamp()).abs() > MAX_SKEW_SECS {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "the timestamp is more than 15 minutes from the server time",
        ));
    }
    let unavailable = |_| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the key store is unavailable",
        )
    };
    let key = match state
        .core
        .teams()
        .signing_key(&key_id)
        .await
        .map_err(unavailable)?
    {
        KeyCheck::Active(key) => key,
        KeyCheck::Unknown => {
            return Err(refuse(
                StatusCode::NOT_FOUND,
                "InvalidAccessKeyId.NotFound",
                "the AccessKeyId does not exist",
            ));
        }
        KeyCheck::Inactive => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "InvalidAccessKeyId.Inactive",
                "the specified AccessKeyId is disabled",
            ));
        }
    };
    let secret = key.secret.clone();
    if !expected(&secret) {
        // As the platform does, v1 callers get the server's string to sign (never the
        // secret), which aliyun-python-sdk-core compares to tell a wrong secret apart.
        let message = match string_to_sign {
            Some(sts) => format!(
                "Specified signature is not matched with our calculation. server string to sign is:{sts}"
            ),
            None => "Specified signature is not matched with our calculation.".to_owned(),
        };
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "SignatureDoesNotMatch",
            message,
        ));
    }
    let fresh = crate::auth::use_nonce(
        state,
        &format!("rpc:{key_id}"),
        &nonce,
        now,
        ts.unix_timestamp(),
    )
    .await
    .map_err(|_| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the nonce store is unavailable",
        )
    })?;
    if !fresh {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            "the signature nonce has been used",
        ));
    }
    let source_ip = crate::authz::source_ip(req.extensions);
    state
        .core
        .teams()
        .key_used(&key, source_ip.as_deref().unwrap_or("unknown"))
        .await
        .map_err(unavailable)?;
    Ok(Caller {
        key_id,
        secret,
        who: crate::authz::Caller {
            principal: key.principal,
            session_id: None,
            source_ip,
            user_agent: crate::authz::user_agent(req.headers),
        },
    })
}

/// Whether `expected` equals `given`, in constant time.
fn check(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}
