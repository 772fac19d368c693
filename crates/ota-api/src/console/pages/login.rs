//! Sign-in with an access key id and secret (the same keys that sign API requests), and
//! sign-out.

use crate::console::Console;
use crate::console::session;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use subtle::ConstantTimeEq;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    /// Hex-encoded path to return to after sign-in.
    next: Option<String>,
}

/// Only paths inside the console, so sign-in can never redirect elsewhere.
fn safe_next(next: Option<&str>) -> String {
    next.and_then(|h| hex::decode(h).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|p| p.starts_with("/console") && !p.contains("//") && !p.contains('\\'))
        .unwrap_or_else(|| "/console".to_owned())
}

fn render(next: Option<&str>, key_id: &str, error: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Sign in · OTA console" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body.narrow {
                main #main.card.login {
                    h1 { span.logo aria-hidden="true" { "⟳" } " OTA console" }
                    p.muted { "Sign in with an access key. The key that signs API requests works here too." }
                    @if let Some(e) = error { div.alert role="alert" { (e) } }
                    form method="post" action="/console/login" {
                        input type="hidden" name="next" value=[next];
                        div.field {
                            label for="key_id" { "Access key ID" }
                            input #key_id name="key_id" value=(key_id) required autocomplete="username" autofocus;
                        }
                        div.field {
                            label for="secret" { "Access key secret" }
                            input #secret type="password" name="secret" required autocomplete="current-password";
                        }
                        button.primary type="submit" { "Sign in" }
                    }
                }
            }
        }
    }
}

/// `GET /console/login`.
pub async fn form(Query(q): Query<NextQuery>) -> Markup {
    render(q.next.as_deref(), "", None)
}

#[derive(Deserialize)]
pub struct Credentials {
    key_id: String,
    secret: String,
    next: Option<String>,
}

/// `POST /console/login`: checks the key against the store and sets the session cookie.
pub async fn submit(
    State(c): State<Console>,
    crate::body::ApiForm(f): crate::body::ApiForm<Credentials>,
) -> Response {
    let refuse = |msg: &str| {
        (
            StatusCode::UNAUTHORIZED,
            render(f.next.as_deref(), &f.key_id, Some(msg)),
        )
            .into_response()
    };
    let stored = match c.app.core.access().access_key_secret(f.key_id.trim()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            return refuse("The server could not check the key; see its log.");
        }
    };
    // Compare even when the key is unknown, so timing does not reveal which keys exist.
    let expected = stored.as_deref().unwrap_or("\u{0}no key");
    let ok = bool::from(expected.as_bytes().ct_eq(f.secret.as_bytes())) && stored.is_some();
    if !ok {
        return refuse("Unknown access key or wrong secret.");
    }
    let key = match c.key().await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let cookie = key.issue(f.key_id.trim(), c.app.core.now());
    (
        [(
            header::SET_COOKIE,
            session::session_cookie(Some(&cookie), c.secure()),
        )],
        Redirect::to(&safe_next(f.next.as_deref())),
    )
        .into_response()
}

/// `POST /console/logout`: forgets the session cookie.
pub async fn logout(State(c): State<Console>) -> Response {
    (
        [(
            header::SET_COOKIE,
            session::session_cookie(None, c.secure()),
        )],
        Redirect::to("/console/login"),
    )
        .into_response()
}
