//! Console sign-in state without a session table: a cookie carrying who signed in (a user,
//! `u:<name>`, or an access key, `k:<id>`), an expiry and a random nonce, signed with HMAC-SHA256 under a secret kept in the store's
//! `kv` (so every node and every restart accepts it, like signed download URLs). The CSRF
//! token is derived from the cookie, so it is per session and needs no storage either; every
//! state-changing request must present it (form field `_csrf` or header `X-CSRF-Token`).
//! Each request also re-checks that the user or key is still there and enabled, so
//! disabling or removing one ends its sessions, and reads its policies afresh.

use super::Console;
use axum::body::{Body, to_bytes};
use axum::extract::{Form, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "ota_console";
/// The one-shot message shown on the next page.
const FLASH: &str = "ota_flash";
/// How long a sign-in lasts.
const SESSION_MS: i64 = 12 * 60 * 60 * 1000;
/// Largest form body read to find the CSRF field (the device-list CSV is at most 5 MB).
const MAX_FORM_BODY: usize = 6 * 1024 * 1024;

/// What every console page knows about the request: who is signed in, the CSRF token for
/// its forms, and a message left by the previous action.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who is signed in, with their policies.
    pub caller: crate::authz::Caller,
    pub csrf: String,
    pub flash: Option<String>,
}

impl Ctx {
    /// Whether the signed-in user may perform `action` on a request naming no particular
    /// resource (`Resource: "*"`), as the console's check does for such routes. Pages use
    /// it to leave out forms and buttons the user could only be refused at.
    pub fn may(&self, action: &str) -> bool {
        self.caller.principal.may(action)
    }

    /// Whether the signed-in user may perform `action` on product `pk` (and on what belongs
    /// to it: its devices, packages and batches).
    pub fn may_on_product(&self, action: &str, pk: &str) -> bool {
        self.caller
            .principal
            .decide(action, &[ota_domain::access::product_arn(pk)])
            .allowed()
    }

    /// Whether the signed-in user may perform `action` on device group `group_id`.
    pub fn may_on_group(&self, action: &str, group_id: &str) -> bool {
        self.caller
            .principal
            .decide(action, &[ota_domain::access::group_arn(group_id)])
            .allowed()
    }
}

/// A session subject for a user.
pub fn user_subject(user_name: &str) -> String {
    format!("u:{user_name}")
}

/// A session subject for an access key.
pub fn key_subject(key_id: &str) -> String {
    format!("k:{key_id}")
}

/// The signing secret: the platform's one ([`ota_core::Access::console_session_secret`]), so
/// a session made on one node is valid on every other.
pub struct SessionKey(Vec<u8>);

impl SessionKey {
    pub fn new(secret: String) -> SessionKey {
        SessionKey(secret.into_bytes())
    }

    fn mac(&self, parts: &[&str]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// A new session cookie value for `subject` ([`user_subject`], [`key_subject`]), valid
    /// until `now + 12 h`.
    pub fn issue(&self, subject: &str, now: i64) -> String {
        let id = hex::encode(subject);
        let expiry = (now + SESSION_MS).to_string();
        let nonce = random_hex(16);
        let mac = hex::encode(self.mac(&["v1", &id, &expiry, &nonce]));
        format!("v1.{id}.{expiry}.{nonce}.{mac}")
    }

    /// The subject of a valid, unexpired cookie, and its CSRF token.
    pub fn verify(&self, cookie: &str, now: i64) -> Option<(String, String)> {
        let mut it = cookie.split('.');
        let (v, id, expiry, nonce, mac) =
            (it.next()?, it.next()?, it.next()?, it.next()?, it.next()?);
        if v != "v1" || it.next().is_some() {
            return None;
        }
        let expected = self.mac(&["v1", id, expiry, nonce]);
        let given = hex::decode(mac).ok()?;
        if !bool::from(expected.ct_eq(&given)) || expiry.parse::<i64>().ok()? < now {
            return None;
        }
        let key_id = String::from_utf8(hex::decode(id).ok()?).ok()?;
        let csrf = hex::encode(&self.mac(&["csrf", nonce, mac])[..16]);
        Some((key_id, csrf))
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The value of cookie `name`, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for the session (or its removal with `None`). `Secure` when the public URL
/// is HTTPS.
pub fn session_cookie(value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!(
            "{COOKIE}={v}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_MS / 1000
        ),
        None => format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// A redirect that leaves `message` for the next page.
pub fn redirect_with(to: &str, message: &str) -> Response {
    let value = hex::encode(message);
    (
        [(
            header::SET_COOKIE,
            format!("{FLASH}={value}; Path=/console; HttpOnly; SameSite=Strict"),
        )],
        Redirect::to(to),
    )
        .into_response()
}

/// Middleware for every console route but sign-in and assets: a valid session, and on
/// state-changing methods a valid CSRF token.
pub async fn require_session(State(c): State<Console>, request: Request, next: Next) -> Response {
    let now = c.app.core.now();
    let key = match c.key().await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let session = cookie(request.headers(), COOKIE).and_then(|v| key.verify(v, now));
    let Some((subject, csrf)) = session else {
        return to_login(&request);
    };
    let principal = match signed_in(&c, &subject).await {
        Ok(Some(p)) => p,
        Ok(None) => return to_login(&request),
        Err(e) => return super::form::ConsoleError::from(e).into_response(),
    };
    let caller = crate::authz::Caller {
        principal,
        session_id: cookie(request.headers(), COOKIE).map(session_id),
        source_ip: crate::authz::source_ip(request.extensions()),
        user_agent: crate::authz::user_agent(request.headers()),
    };
    let flash = cookie(request.headers(), FLASH)
        .and_then(|v| hex::decode(v).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let request = if matches!(*request.method(), Method::GET | Method::HEAD) {
        request
    } else {
        match check_csrf(request, &csrf).await {
            Ok(r) => r,
            Err(response) => return response,
        }
    };
    let had_flash = flash.is_some();
    let mut request = request;
    request.extensions_mut().insert(caller.clone());
    request.extensions_mut().insert(Ctx {
        caller,
        csrf,
        flash,
    });
    let mut response = next.run(request).await;
    if had_flash && !response.status().is_redirection() {
        response.headers_mut().append(
            header::SET_COOKIE,
            format!("{FLASH}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0")
                .parse()
                .expect("valid header"),
        );
    }
    response
}

/// The principal behind a session subject, if the user or key is still enabled.
async fn signed_in(
    c: &Console,
    subject: &str,
) -> ota_core::CoreResult<Option<ota_core::Principal>> {
    let teams = c.app.core.teams();
    if let Some(user) = subject.strip_prefix("u:") {
        return teams.user_principal(user).await;
    }
    let key_id = subject.strip_prefix("k:").unwrap_or(subject);
    Ok(match teams.signing_key(key_id).await? {
        ota_core::KeyCheck::Active(key) => Some(key.principal),
        _ => None,
    })
}

/// A short name for a session in the audit log: not the cookie, which would sign in.
fn session_id(cookie: &str) -> String {
    use sha2::Digest;
    format!(
        "console:{}",
        &hex::encode(Sha256::digest(cookie.as_bytes()))[..16]
    )
}

fn to_login(request: &Request) -> Response {
    if request.method() == Method::GET {
        let uri = request
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map_or_else(|| request.uri().clone(), |o| o.0.clone());
        let next = uri.path_and_query().map_or("/console/", |p| p.as_str());
        let next = hex::encode(next);
        Redirect::to(&format!("/console/login?next={next}")).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "sign in first").into_response()
    }
}

/// Accepts the token from the `X-CSRF-Token` header, or from the `_csrf` field of a form
/// body (buffered, then handed on unchanged).
async fn check_csrf(request: Request, csrf: &str) -> Result<Request, Response> {
    let forbidden = || (StatusCode::FORBIDDEN, "missing or invalid CSRF token").into_response();
    let matches = |t: &str| bool::from(t.as_bytes().ct_eq(csrf.as_bytes()));
    if let Some(t) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if matches(t) {
            Ok(request)
        } else {
            Err(forbidden())
        };
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BODY)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response())?;
    let probe = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let token = if content_type.starts_with("application/x-www-form-urlencoded") {
        Form::<Vec<(String, String)>>::from_request(probe, &())
            .await
            .ok()
            .and_then(|Form(pairs)| pairs.into_iter().find(|(k, _)| k == "_csrf"))
            .map(|(_, v)| v)
    } else if content_type.starts_with("multipart/form-data") {
        multipart_field(probe, "_csrf").await
    } else {
        None
    };
    match token {
        Some(t) if matches(&t) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(forbidden()),
    }
}

pub(crate) async fn multipart_field(request: Request, name: &str) -> Option<String> {
    let mut multipart = Multipart::from_request(request, &()).await.ok()?;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name() == Some(name) {
            return field.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey(b"test secret".to_vec())
    }

    #[test]
    fn a_session_verifies_until_it_expires() {
        let cookie = key().issue("admin", 1_000);
        let (id, csrf) = key().verify(&cookie, 2_000).expect("valid");
        assert_eq!(id, "admin");
        assert_eq!(csrf.len(), 32);
        assert!(
            key().verify(&cookie, 1_000 + SESSION_MS + 1).is_none(),
            "expired"
        );
    }

    #[test]
    fn tampering_or_another_secret_is_refused() {
        let cookie = key().issue("admin", 0);
        let other = SessionKey(b"other".to_vec());
        assert!(other.verify(&cookie, 1).is_none());
        let forged = cookie.replacen(&hex::encode("admin"), &hex::encode("root"), 1);
        assert!(key().verify(&forged, 1).is_none());
        let longer = cookie.replacen(".", ".9", 2);
        assert!(key().verify(&longer, 1).is_none());
        assert!(key().verify("v1.x.y", 1).is_none());
    }

    #[test]
    fn each_session_has_its_own_csrf_token() {
        let a = key().verify(&key().issue("admin", 0), 1).unwrap().1;
        let b = key().verify(&key().issue("admin", 0), 1).unwrap().1;
        assert_ne!(a, b);
    }

    fn ctx(documents: &[&str]) -> Ctx {
        let policies = documents
            .iter()
            .map(|d| ota_domain::access::Policy::parse(d).expect("valid policy"))
            .collect();
        Ctx {
            caller: crate::authz::Caller {
                principal: ota_core::Principal {
                    user_name: "u".to_owned(),
                    access_key_id: None,
                    token_id: None,
                    policies,
                },
                session_id: None,
                source_ip: None,
                user_agent: None,
            },
            csrf: String::new(),
            flash: None,
        }
    }

    #[test]
    fn pages_ask_the_same_question_as_the_route_check() {
        let read_only = ota_domain::access::builtin("ReadOnlyAccess")
            .unwrap()
            .document;
        let viewer = ctx(&[read_only]);
        assert!(viewer.may("iot:QueryProductList"));
        assert!(viewer.may("ram:ListUsers"));
        assert!(!viewer.may("iot:CreateProduct"));
        assert!(!viewer.may_on_product("iot:CreateOTAVerifyJob", "P1"));
        assert!(viewer.may_on_product("iot:QueryOTAJob", "P1"));
        assert!(
            !viewer.may_on_product(crate::authz::READ_SECRETS, "P1"),
            "read-only users see no device secret"
        );

        // Scoped to one product: allowed there, not on "*" nor on another product, and a
        // Deny on a group wins over the Allow on everything.
        let scoped = ctx(&[r#"{"Version": "1", "Statement": [
                {"Effect": "Allow", "Action": "iot:*", "Resource": "acs:iot:*:*:product/P1"},
                {"Effect": "Allow", "Action": "iot:BatchAddDeviceGroupRelations", "Resource": "*"},
                {"Effect": "Deny", "Action": "iot:BatchAddDeviceGroupRelations", "Resource": "acs:iot:*:*:group/G2"}]}"#]);
        assert!(scoped.may_on_product("iot:CreateOTAVerifyJob", "P1"));
        assert!(scoped.may_on_product(crate::authz::READ_SECRETS, "P1"));
        assert!(!scoped.may_on_product("iot:CreateOTAVerifyJob", "P2"));
        assert!(!scoped.may("iot:CreateProduct"));
        assert!(scoped.may_on_group("iot:BatchAddDeviceGroupRelations", "G1"));
        assert!(!scoped.may_on_group("iot:BatchAddDeviceGroupRelations", "G2"));
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; ota_console=v1.x; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("v1.x"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
