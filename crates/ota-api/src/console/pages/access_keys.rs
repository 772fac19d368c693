//! A user's access keys on their page: make one (its secret is shown on the answer to that
//! request and never again), switch one off or on, delete one.
//!
//! Why the new secret is rendered in the answer rather than after a redirect: the message
//! a redirect carries travels in a cookie, and a secret must not.

use super::users::{answer, render_detail};
use crate::console::Console;
use crate::console::form::{FormError, PageResult};
use crate::console::layout::{csrf, enc, time, time_opt};
use crate::console::session::Ctx;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use maud::{Markup, html};
use ota_core::{AccessKeyRow, MAX_KEYS_PER_USER, NewAccessKey, UserRow};

/// The access keys card of a user's page.
pub fn card(
    ctx: &Ctx,
    user: &UserRow,
    keys: &[AccessKeyRow],
    new_key: Option<&NewAccessKey>,
) -> Markup {
    let may_update = ctx.may("ram:UpdateAccessKey");
    let may_delete = ctx.may("ram:DeleteAccessKey");
    let full = keys.len() as i64 >= MAX_KEYS_PER_USER;
    html! {
        section.card #access-keys-card {
            h2 { "Access keys" }
            @if let Some(new) = new_key {
                div.alert #new-key role="alert" {
                    strong { "Save the secret now: it is not shown again." }
                    dl.props {
                        dt { "AccessKeyId" } dd { code #new-key-id { (new.key.key_id) } }
                        dt { "AccessKeySecret" } dd { code.secret #new-key-secret { (new.secret) } }
                    }
                }
            }
            @if keys.is_empty() { p.muted { "No access key: the user cannot call the APIs." } }
            @else {
                table #access-keys {
                    thead { tr {
                        th scope="col" { "AccessKeyId" } th scope="col" { "State" } th scope="col" { "Created" }
                        th scope="col" { "Last used" } th scope="col" { span.sr-only { "Actions" } }
                    } }
                    tbody {
                        @for k in keys {
                            @let base = format!("/console/access-keys/{}", enc(&k.key_id));
                            tr id={ "k-" (k.key_id) } {
                                td { code { (k.key_id) } }
                                td { (super::users::state(k.enabled)) }
                                td { (time(k.created_at)) }
                                td { (time_opt(k.last_used_at)) @if let Some(from) = &k.last_used_from { " " span.muted { "from " (from) } } }
                                td.row-actions {
                                    @if may_update {
                                        @if k.enabled {
                                            form.inline method="post" action={ (base) "/disable" } data-confirm={ "Disable key " (k.key_id) "? Requests it signs are refused at once." } {
                                                (csrf(ctx))
                                                button type="submit" aria-label={ "Disable " (k.key_id) } { "Disable" }
                                            }
                                        } @else {
                                            form.inline method="post" action={ (base) "/enable" } {
                                                (csrf(ctx))
                                                button type="submit" aria-label={ "Enable " (k.key_id) } { "Enable" }
                                            }
                                        }
                                    }
                                    @if may_delete {
                                        form.inline method="post" action={ (base) "/delete" } data-confirm={ "Delete key " (k.key_id) "?" } {
                                            (csrf(ctx))
                                            button.danger type="submit" aria-label={ "Delete " (k.key_id) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if ctx.may("ram:CreateAccessKey") {
                @if full {
                    p.muted { "A user holds at most " (MAX_KEYS_PER_USER) " access keys; delete one to make another." }
                } @else {
                    form #create-key-form method="post" action={ "/console/users/" (enc(&user.user_name)) "/access-keys" } {
                        (csrf(ctx))
                        button.primary type="submit" { "Create access key" }
                    }
                }
            }
        }
    }
}

/// `POST /console/users/{user}/access-keys`: the user's page with the new key's secret.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult {
    match c.app.core.teams().create_access_key(&name).await {
        Ok(new) => {
            let page = render_detail(&c, &ctx, &name, Some(&new), None).await?;
            let mut response = page.into_response();
            // The secret must not stay in a cache or come back with the browser's history.
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(e) => answer(&c, &ctx, &name, Err::<(), _>(FormError::from(e)), "").await,
    }
}

/// The key's user, then `act` on the key, then back to the user's page.
async fn on_key(c: &Console, ctx: &Ctx, key_id: &str, act: Act) -> PageResult {
    let teams = c.app.core.teams();
    let key = teams.get_access_key(key_id).await?;
    let (result, done) = match act {
        Act::Enable => (teams.set_access_key_enabled(key_id, true).await, "enabled"),
        Act::Disable => (
            teams.set_access_key_enabled(key_id, false).await,
            "disabled",
        ),
        Act::Delete => (teams.delete_access_key(key_id).await, "deleted"),
    };
    answer(
        c,
        ctx,
        &key.user_name,
        result.map_err(FormError::from),
        &format!("Access key {key_id} {done}."),
    )
    .await
}

enum Act {
    Enable,
    Disable,
    Delete,
}

/// `POST /console/access-keys/{key}/enable`.
pub async fn enable(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(key): Path<String>,
) -> PageResult {
    on_key(&c, &ctx, &key, Act::Enable).await
}

/// `POST /console/access-keys/{key}/disable`.
pub async fn disable(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(key): Path<String>,
) -> PageResult {
    on_key(&c, &ctx, &key, Act::Disable).await
}

/// `POST /console/access-keys/{key}/delete`.
pub async fn delete(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(key): Path<String>,
) -> PageResult {
    on_key(&c, &ctx, &key, Act::Delete).await
}
