//! Users: the list, a new user (with a console password and policies at once), and one
//! user's page — switch them on or off, set or remove their password, delete them, and
//! manage their access keys ([`super::access_keys`]) and attached policies.
//!
//! Each list and control shows only when the viewer's policies allow its RAM action (the
//! one `authz::console` checks for the route), so a read-only viewer sees no form at all.

use super::access_keys;
use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, csrf, enc, field, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_core::{ADMIN_USER, NewAccessKey, PolicyRow, UserChange, UserRow};

/// Whether a user is switched on, as a badge.
pub fn state(enabled: bool) -> Markup {
    if enabled {
        html! { span.badge.ok { "enabled" } }
    } else {
        html! { span.badge.bad { "disabled" } }
    }
}

/// A form value as typed, untrimmed (passwords may start or end with a space); absent
/// when missing or empty.
fn raw<'a>(form: &'a FormData, name: &str) -> Option<&'a str> {
    form.pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn user_path(name: &str) -> String {
    format!("/console/users/{}", enc(name))
}

async fn render_list(
    c: &Console,
    ctx: &Ctx,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let teams = c.app.core.teams();
    let users = teams.list_users().await?;
    let see_keys = ctx.may("ram:ListAccessKeys");
    let see_policies = ctx.may("ram:ListPoliciesForUser");
    let keys = if see_keys {
        teams.list_access_keys(None).await?
    } else {
        Vec::new()
    };
    let mut attached = Vec::with_capacity(users.len());
    for u in &users {
        attached.push(if see_policies {
            teams.attached_policies(&u.user_name).await?
        } else {
            Vec::new()
        });
    }
    let may_create = ctx.may("ram:CreateUser");
    let attachable =
        if may_create && ctx.may("ram:AttachPolicyToUser") && ctx.may("ram:ListPolicies") {
            teams.list_policies().await?
        } else {
            Vec::new()
        };
    let chosen = form.all("policy");
    let body = html! {
        h1 { "Users" }
        div.split {
            section.card.grow {
                table #users {
                    thead { tr {
                        th scope="col" { "User name" } th scope="col" { "Display name" } th scope="col" { "State" }
                        @if see_keys { th scope="col" { "Access keys" } }
                        @if see_policies { th scope="col" { "Policies" } }
                        th scope="col" { "Created" }
                    } }
                    tbody {
                        @for (u, policies) in users.iter().zip(&attached) {
                            tr id={ "u-" (u.user_name) } {
                                td { a href=(user_path(&u.user_name)) { (u.user_name) } }
                                td { (u.display_name) }
                                td { (state(u.enabled)) }
                                @if see_keys { td.num { (keys.iter().filter(|k| k.user_name == u.user_name).count()) } }
                                @if see_policies { td {
                                    @if policies.is_empty() { span.muted { "none" } }
                                    @for (i, p) in policies.iter().enumerate() {
                                        @if i > 0 { ", " }
                                        (p.policy_name)
                                    }
                                } }
                                td { (time(u.created_at)) }
                            }
                        }
                    }
                }
            }
            @if may_create { section.card.side {
                h2 { "New user" }
                (layout::error_summary(err))
                form #user-form method="post" action="/console/users" data-validate {
                    (csrf(ctx))
                    (field("User name", "user_name", "UserName", err, Some("1-64 letters, digits, '.', '_', '-' and '@'"),
                        html! { input #user_name name="user_name" required maxlength="64" pattern="[A-Za-z0-9._@\\-]{1,64}" value=[form.get("user_name")]
                            autocomplete="off" data-msg="must be 1-64 characters of letters, digits, '.', '_', '-' and '@'"; }))
                    (field("Display name", "display_name", "DisplayName", err, Some("Blank: the user name."),
                        html! { input #display_name name="display_name" maxlength="128" value=[form.get("display_name")]; }))
                    (field("Console password", "user_password", "Password", err, Some("8-128 characters; blank: the user signs in with an access key only."),
                        html! { input #user_password type="password" name="password" minlength="8" maxlength="128" autocomplete="new-password"
                            data-msg="must be 8-128 characters"; }))
                    @if !attachable.is_empty() {
                        fieldset.field.invalid[err.is_some_and(|e| e.is_for("PolicyName"))] data-param="PolicyName" {
                            legend { "Policies" }
                            div.choices.column {
                                @for p in &attachable {
                                    label title=(p.description) {
                                        input type="checkbox" name="policy" value=(p.policy_name) checked[chosen.contains(&p.policy_name)];
                                        " " (p.policy_name)
                                    }
                                }
                            }
                        }
                    }
                    button.primary type="submit" { "Create user" }
                }
            } }
        }
    };
    Ok(layout::page(ctx, "Users", Nav::Users, body))
}

/// `GET /console/users`.
pub async fn list(State(c): State<Console>, Extension(ctx): Extension<Ctx>) -> PageResult<Markup> {
    render_list(&c, &ctx, &FormData::default(), None).await
}

/// `POST /console/users`: a new user, with the ticked policies attached.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let teams = c.app.core.teams();
    let result = async {
        let policies = form.all("policy");
        // Every policy first, so a wrong name leaves no half-made user behind.
        for p in &policies {
            teams.get_policy(p).await?;
        }
        let user = teams
            .create_user(
                form.get("user_name").unwrap_or_default(),
                form.get("display_name"),
                raw(&form, "password"),
            )
            .await?;
        for p in &policies {
            teams.attach_policy(&user.user_name, p).await?;
        }
        Ok::<_, FormError>(user)
    }
    .await;
    match result {
        Ok(user) => Ok(redirect_with(
            &user_path(&user.user_name),
            &format!("User {} created.", user.user_name),
        )),
        Err(err) => Ok(refused(render_list(&c, &ctx, &form, Some(&err)).await?)),
    }
}

/// One user's page; `new_key` is shown once, right after it was made.
pub(super) async fn render_detail(
    c: &Console,
    ctx: &Ctx,
    name: &str,
    new_key: Option<&NewAccessKey>,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let teams = c.app.core.teams();
    let user = teams.get_user(name).await?;
    let keys = if ctx.may("ram:ListAccessKeys") {
        Some(teams.list_access_keys(Some(name)).await?)
    } else {
        None
    };
    let attached = if ctx.may("ram:ListPoliciesForUser") {
        Some(teams.attached_policies(name).await?)
    } else {
        None
    };
    let attachable: Vec<PolicyRow> =
        if ctx.may("ram:AttachPolicyToUser") && ctx.may("ram:ListPolicies") {
            let have = attached.as_deref().unwrap_or_default();
            teams
                .list_policies()
                .await?
                .into_iter()
                .filter(|p| !have.iter().any(|a| a.policy_name == p.policy_name))
                .collect()
        } else {
            Vec::new()
        };
    let base = user_path(name);
    let body = html! {
        h1 { "User " (user.user_name) }
        (layout::error_summary(err))
        div.split {
            div.grow {
                @if let Some(keys) = &keys {
                    (access_keys::card(ctx, &user, keys, new_key))
                }
                @if let Some(attached) = &attached {
                    section.card #policies-card {
                        h2 { "Policies" }
                        @if attached.is_empty() { p.muted { "No policy attached: the user may do nothing." } }
                        @else {
                            table #user-policies {
                                thead { tr { th scope="col" { "Policy" } th scope="col" { "Description" } th scope="col" { span.sr-only { "Detach" } } } }
                                tbody {
                                    @for p in attached {
                                        tr {
                                            td { a href={ "/console/policies/" (enc(&p.policy_name)) } { (p.policy_name) } }
                                            td { (p.description) }
                                            td {
                                                @if ctx.may("ram:DetachPolicyFromUser") {
                                                    form.inline method="post" action={ (base) "/policies/" (enc(&p.policy_name)) "/detach" }
                                                        data-confirm={ "Detach " (p.policy_name) " from " (user.user_name) "?" } {
                                                        (csrf(ctx))
                                                        button.danger type="submit" aria-label={ "Detach " (p.policy_name) } { "Detach" }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        @if !attachable.is_empty() {
                            form.inline #attach-form method="post" action={ (base) "/policies" } {
                                (csrf(ctx))
                                label for="attach_policy" { "Attach" }
                                select #attach_policy name="policy_name" {
                                    @for p in &attachable { option value=(p.policy_name) { (p.policy_name) } }
                                }
                                button type="submit" { "Attach policy" }
                            }
                        }
                    }
                }
            }
            div.side {
                (settings_card(ctx, &user, err))
            }
        }
    };
    Ok(layout::page(
        ctx,
        &format!("User {}", user.user_name),
        Nav::Users,
        body,
    ))
}

/// The user's settings with the switch, password and delete forms the viewer may use.
fn settings_card(ctx: &Ctx, user: &UserRow, err: Option<&FormError>) -> Markup {
    let base = user_path(&user.user_name);
    let may_update = ctx.may("ram:UpdateUser");
    let is_admin = user.user_name == ADMIN_USER;
    html! {
        section.card #user-settings {
            h2 { "Settings" }
            dl.props {
                dt { "User name" } dd { code { (user.user_name) } }
                dt { "Display name" } dd { (user.display_name) }
                dt { "State" } dd #user-state { (state(user.enabled)) }
                dt { "Console password" } dd #user-password { @if user.password_hash.is_some() { "set" } @else { span.muted { "none" } } }
                dt { "Created" } dd { (time(user.created_at)) }
            }
            @if may_update {
                @if user.enabled {
                    @if !is_admin {
                        form.inline method="post" action={ (base) "/disable" }
                            data-confirm={ "Disable " (user.user_name) "? Their keys, tokens and sessions stop working at once." } {
                            (csrf(ctx))
                            button.danger type="submit" { "Disable user" }
                        }
                    }
                } @else {
                    form.inline method="post" action={ (base) "/enable" } {
                        (csrf(ctx))
                        button type="submit" { "Enable user" }
                    }
                }
                form #password-form method="post" action={ (base) "/password" } data-validate {
                    (csrf(ctx))
                    (field("New console password", "new_password", "Password", err, Some("8-128 characters."),
                        html! { input #new_password type="password" name="password" required minlength="8" maxlength="128" autocomplete="new-password"
                            data-msg="must be 8-128 characters"; }))
                    button type="submit" { "Set password" }
                }
                @if user.password_hash.is_some() {
                    form.inline method="post" action={ (base) "/password" } data-confirm={ "Remove the console password of " (user.user_name) "?" } {
                        (csrf(ctx))
                        input type="hidden" name="remove" value="1";
                        button type="submit" { "Remove password" }
                    }
                }
            }
            @if ctx.may("ram:DeleteUser") && !is_admin {
                form method="post" action={ (base) "/delete" }
                    data-confirm={ "Delete " (user.user_name) " with their access keys and tokens?" } {
                    (csrf(ctx))
                    button.danger type="submit" { "Delete user" }
                }
            }
        }
    }
}

/// `GET /console/users/{user}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult<Markup> {
    render_detail(&c, &ctx, &name, None, None).await
}

/// Back to the user's page with `done`, or the page again with the refusal.
pub(super) async fn answer<T>(
    c: &Console,
    ctx: &Ctx,
    name: &str,
    result: Result<T, FormError>,
    done: &str,
) -> PageResult {
    match result {
        Ok(_) => Ok(redirect_with(&user_path(name), done)),
        Err(err) => Ok(refused(
            render_detail(c, ctx, name, None, Some(&err)).await?,
        )),
    }
}

async fn switch(c: &Console, ctx: &Ctx, name: &str, enabled: bool) -> PageResult {
    let change = UserChange {
        enabled: Some(enabled),
        ..UserChange::default()
    };
    let result = c.app.core.teams().update_user(name, change).await;
    let done = if enabled { "enabled" } else { "disabled" };
    answer(
        c,
        ctx,
        name,
        result.map_err(FormError::from),
        &format!("User {name} {done}."),
    )
    .await
}

/// `POST /console/users/{user}/enable`.
pub async fn enable(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult {
    switch(&c, &ctx, &name, true).await
}

/// `POST /console/users/{user}/disable`.
pub async fn disable(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult {
    switch(&c, &ctx, &name, false).await
}

/// `POST /console/users/{user}/password`: a new console password, or none (`remove`).
pub async fn set_password(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let remove = form.flag("remove");
    let password = if remove {
        None
    } else {
        Some(raw(&form, "password").unwrap_or_default().to_owned())
    };
    let change = UserChange {
        password: Some(password),
        ..UserChange::default()
    };
    let result = c.app.core.teams().update_user(&name, change).await;
    let done = if remove {
        format!("The console password of {name} was removed.")
    } else {
        format!("The console password of {name} was set.")
    };
    answer(&c, &ctx, &name, result.map_err(FormError::from), &done).await
}

/// `POST /console/users/{user}/delete`.
pub async fn delete(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult {
    match c.app.core.teams().delete_user(&name).await {
        Ok(()) => Ok(redirect_with(
            "/console/users",
            &format!("User {name} deleted."),
        )),
        Err(e) => Ok(refused(
            render_detail(&c, &ctx, &name, None, Some(&e.into())).await?,
        )),
    }
}

/// `POST /console/users/{user}/policies`: attaches the chosen policy.
pub async fn attach(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let policy = form.get("policy_name").unwrap_or_default().to_owned();
    let result = c.app.core.teams().attach_policy(&name, &policy).await;
    answer(
        &c,
        &ctx,
        &name,
        result.map_err(FormError::from),
        &format!("Policy {policy} attached to {name}."),
    )
    .await
}

/// `POST /console/users/{user}/policies/{policy}/detach`.
pub async fn detach(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path((name, policy)): Path<(String, String)>,
) -> PageResult {
    let result = c.app.core.teams().detach_policy(&name, &policy).await;
    answer(
        &c,
        &ctx,
        &name,
        result.map_err(FormError::from),
        &format!("Policy {policy} detached from {name}."),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_taken_as_typed() {
        let form = FormData::new(vec![
            ("password".to_owned(), " spaced out ".to_owned()),
            ("blank".to_owned(), String::new()),
        ]);
        assert_eq!(raw(&form, "password"), Some(" spaced out "));
        assert_eq!(raw(&form, "blank"), None);
        assert_eq!(raw(&form, "missing"), None);
    }
}
