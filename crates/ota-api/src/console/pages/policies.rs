//! RAM policies: the list (built-in first), a new custom policy from a JSON document, one
//! policy's document, and changing or deleting a custom one. Built-in policies are read
//! only. A refused document names the place at fault (`PolicyDocument.Statement[0].Effect`)
//! next to the document field.

use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, csrf, enc, field, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};

/// The document a new policy starts from.
const TEMPLATE: &str = r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["iot:Query*", "iot:List*"],
      "Resource": "*"
    }
  ]
}"#;

/// A stored document, indented for reading (as stored when it is not JSON).
fn pretty(document: &str) -> String {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_owned())
}

/// The refusal as the document field shows it: with the place inside the document, since
/// the field alone (`PolicyDocument`) would not say which statement is wrong.
fn document_error(err: Option<&FormError>) -> Option<FormError> {
    err.filter(|e| e.is_for("PolicyDocument"))
        .map(|e| FormError {
            field: Some("PolicyDocument".to_owned()),
            message: e.summary(),
        })
}

/// The description and document inputs shared by the new and the edit form.
fn document_fields(
    prefix: &str,
    description: &str,
    document: &str,
    err: Option<&FormError>,
) -> Markup {
    let doc_err = document_error(err);
    html! {
        (field("Description", &format!("{prefix}_description"), "Description", err, None,
            html! { input id={ (prefix) "_description" } name="description" maxlength="1024" value=(description); }))
        (field("Policy document (JSON)", &format!("{prefix}_document"), "PolicyDocument", doc_err.as_ref(),
            Some("Version \"1\"; statements with Effect, Action and Resource, as in Aliyun RAM."),
            html! { textarea.document id={ (prefix) "_document" } name="document" rows="14" required spellcheck="false"
                data-msg="write a policy document" { (document) } }))
    }
}

async fn render_list(
    c: &Console,
    ctx: &Ctx,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let policies = c.app.core.teams().list_policies().await?;
    let body = html! {
        h1 { "Policies" }
        div.split {
            section.card.grow {
                table #policies {
                    thead { tr { th scope="col" { "Policy" } th scope="col" { "Kind" } th scope="col" { "Description" } th scope="col" { "Created" } } }
                    tbody {
                        @for p in &policies {
                            tr id={ "p-" (p.policy_name) } {
                                td { a href={ "/console/policies/" (enc(&p.policy_name)) } { (p.policy_name) } }
                                td { @if p.builtin { "built-in" } @else { "custom" } }
                                td { (p.description) }
                                td { (time(p.created_at)) }
                            }
                        }
                    }
                }
            }
            @if ctx.may("ram:CreatePolicy") { section.card.side {
                h2 { "New policy" }
                (layout::error_summary(err))
                form #policy-form method="post" action="/console/policies" data-validate {
                    (csrf(ctx))
                    (field("Policy name", "policy_name", "PolicyName", err, Some("1-128 letters, digits and '-'"),
                        html! { input #policy_name name="policy_name" required maxlength="128" pattern="[A-Za-z0-9\\-]{1,128}" value=[form.get("policy_name")]
                            data-msg="must be 1-128 characters of letters, digits and '-'"; }))
                    (document_fields("new", form.get("description").unwrap_or_default(), form.get("document").unwrap_or(TEMPLATE), err))
                    button.primary type="submit" { "Create policy" }
                }
            } }
        }
    };
    Ok(layout::page(ctx, "Policies", Nav::Policies, body))
}

/// `GET /console/policies`.
pub async fn list(State(c): State<Console>, Extension(ctx): Extension<Ctx>) -> PageResult<Markup> {
    render_list(&c, &ctx, &FormData::default(), None).await
}

/// `POST /console/policies`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    match c
        .app
        .core
        .teams()
        .create_policy(
            form.get("policy_name").unwrap_or_default(),
            form.get("description").unwrap_or_default(),
            form.get("document").unwrap_or_default(),
        )
        .await
    {
        Ok(p) => Ok(redirect_with(
            &format!("/console/policies/{}", enc(&p.policy_name)),
            &format!("Policy {} created.", p.policy_name),
        )),
        Err(e) => Ok(refused(
            render_list(&c, &ctx, &form, Some(&e.into())).await?,
        )),
    }
}

async fn render_detail(
    c: &Console,
    ctx: &Ctx,
    name: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let p = c.app.core.teams().get_policy(name).await?;
    let base = format!("/console/policies/{}", enc(name));
    let editable = !p.builtin && ctx.may("ram:CreatePolicyVersion");
    let document = pretty(&p.document);
    let body = html! {
        h1 { "Policy " (p.policy_name) }
        (layout::error_summary(err))
        div.split {
            section.card.grow {
                dl.props {
                    dt { "Kind" } dd { @if p.builtin { "built-in (cannot be changed)" } @else { "custom" } }
                    dt { "Description" } dd { (p.description) }
                    dt { "Created" } dd { (time(p.created_at)) }
                }
                @if editable {
                    form #policy-edit method="post" action=(base) data-validate {
                        (csrf(ctx))
                        (document_fields("edit", form.get("description").unwrap_or(&p.description), form.get("document").unwrap_or(&document), err))
                        button.primary type="submit" { "Save policy" }
                    }
                } @else {
                    h2 { "Document" }
                    pre.document #policy-document { (document) }
                }
            }
            @if !p.builtin && ctx.may("ram:DeletePolicy") {
                section.card.side {
                    h2 { "Delete" }
                    p.muted { "Only a policy attached to nobody can be deleted." }
                    form method="post" action={ (base) "/delete" } data-confirm={ "Delete policy " (p.policy_name) "?" } {
                        (csrf(ctx))
                        button.danger type="submit" { "Delete policy" }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        ctx,
        &format!("Policy {}", p.policy_name),
        Nav::Policies,
        body,
    ))
}

/// `GET /console/policies/{policy}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult<Markup> {
    render_detail(&c, &ctx, &name, &FormData::default(), None).await
}

/// `POST /console/policies/{policy}`: a custom policy's new description and document.
pub async fn update(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let description = form.get("description").unwrap_or_default();
    match c
        .app
        .core
        .teams()
        .update_policy(
            &name,
            Some(description),
            form.get("document").unwrap_or_default(),
        )
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/console/policies/{}", enc(&name)),
            &format!("Policy {name} saved."),
        )),
        Err(e) => Ok(refused(
            render_detail(&c, &ctx, &name, &form, Some(&e.into())).await?,
        )),
    }
}

/// `POST /console/policies/{policy}/delete`.
pub async fn delete(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(name): Path<String>,
) -> PageResult {
    match c.app.core.teams().delete_policy(&name).await {
        Ok(()) => Ok(redirect_with(
            "/console/policies",
            &format!("Policy {name} deleted."),
        )),
        Err(e) => Ok(refused(
            render_detail(&c, &ctx, &name, &FormData::default(), Some(&e.into())).await?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_error_names_its_place_at_the_document_field() {
        let err = FormError {
            field: Some("PolicyDocument.Statement[0].Effect".to_owned()),
            message: "must be Allow or Deny".to_owned(),
        };
        let shown = document_error(Some(&err)).expect("for the document");
        assert!(shown.is_for("PolicyDocument"));
        assert_eq!(
            shown.message,
            "PolicyDocument.Statement[0].Effect: must be Allow or Deny"
        );
        let other = FormError {
            field: Some("PolicyName".to_owned()),
            message: "taken".to_owned(),
        };
        assert!(document_error(Some(&other)).is_none());
    }

    #[test]
    fn the_template_is_a_valid_policy_and_documents_are_indented() {
        ota_domain::access::Policy::parse(TEMPLATE).expect("the template parses");
        assert_eq!(pretty(r#"{"Version":"1"}"#), "{\n  \"Version\": \"1\"\n}");
        assert_eq!(pretty("not json"), "not json");
    }
}
