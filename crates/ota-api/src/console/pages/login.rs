//! Sign-in with a user name and password, or an access key id and secret (the same keys
//! that sign API requests), and sign-out.

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
                    p.muted { "Sign in with your user name and password, or with an access key: the key that signs API requests works here too." }
                    @if let Some(e) = error { div.alert role="alert" { (e) } }
                    form method="post" action="/console/login" {
                        input type="hidden" name="next" value=[next];
                        div.field {
                            label for="key_id" { "User name or access key ID" }
                            input #key_id name="key_id" value=(key_id) required autocomplete="username" autofocus;
                        }
                        div.field {
                            label for="secret" { "Password or access key secret" }
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
    let name = f.key_id.trim();
    let subject = match sign_in(&c, name, &f.secret).await {
        Ok(Some(subject)) => subject,
        Ok(None) => return refuse("Unknown user or access key, or a wrong password or secret."),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            return refuse("The server could not check the sign-in; see its log.");
        }
    };
    let key = match c.key().await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let cookie = key.issue(&subject, c.app.core.now());
    (
        [(
            header::SET_COOKIE,
            session::session_cookie(Some(&cookie), c.secure()),
        )],
        Redirect::to(&safe_next(f.next.as_deref())),
    )
        .into_response()
}

/// The session subject for a user name and password, or an access key id and secret.
async fn sign_in(c: &Console, name: &str, secret: &str) -> ota_core::CoreResult<Option<String>> {
    let teams = c.app.core.teams();
    if let ota_core::KeyCheck::Active(key) = teams.signing_key(name).await? {
        if bool::from(key.secret.as_bytes().ct_eq(secret.as_bytes())) {
            return Ok(Some(session::key_subject(name)));
        }
        return Ok(None);
    }
    Ok(teams
        .check_password(name, secret)
        .await?
        .map(|p| session::user_subject(&p.user_name)))
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
