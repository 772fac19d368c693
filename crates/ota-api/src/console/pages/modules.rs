//! OTA modules of a product: add, change alias and description, delete. Packages and
//! batches name a module; `default` is the whole-device firmware and cannot be deleted.

use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, csrf, enc, field, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, State};
use maud::{Markup, html};
use ota_domain::ProductKey;

async fn render(
    c: &Console,
    ctx: &Ctx,
    pk: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let product = super::product(c, pk).await?;
    let modules = c
        .app
        .core
        .registry()
        .list_modules(&product.product_key)
        .await?;
    let base = format!("/console/products/{}/modules", enc(pk));
    let may_update = ctx.may_on_product("iot:UpdateOTAModule", pk);
    let may_delete = ctx.may_on_product("iot:DeleteOTAModule", pk);
    let body = html! {
        h1 { "OTA modules" }
        div.split {
            section.card.grow {
                table #modules {
                    thead { tr { th scope="col" { "Module" } th scope="col" { "Alias and description" } th scope="col" { "Changed" } th scope="col" { span.sr-only { "Delete" } } } }
                    tbody {
                        @for m in &modules {
                            @let id = format!("m-{}", m.module_name);
                            tr id=(id) {
                                td { code { (m.module_name) } }
                                td {
                                    @if may_update {
                                        form.inline method="post" action={ (base) "/" (enc(&m.module_name)) } {
                                            (csrf(ctx))
                                            label.sr-only for={ (id) "-alias" } { "Alias of " (m.module_name) }
                                            input id={ (id) "-alias" } name="alias_name" value=[m.alias_name.as_deref()] placeholder="alias" maxlength="64";
                                            label.sr-only for={ (id) "-desc" } { "Description of " (m.module_name) }
                                            input id={ (id) "-desc" } name="description" value=[m.description.as_deref()] placeholder="description" maxlength="100";
                                            button type="submit" { "Save" }
                                        }
                                    } @else {
                                        (m.alias_name.as_deref().unwrap_or("")) @if m.alias_name.is_some() && m.description.is_some() { " · " } span.muted { (m.description.as_deref().unwrap_or("")) }
                                    }
                                }
                                td { (time(m.modified_at)) }
                                td {
                                    @if may_delete && m.module_name != ota_domain::registry::DEFAULT_MODULE {
                                        form method="post" action={ (base) "/" (enc(&m.module_name)) "/delete" } data-confirm={ "Delete module " (m.module_name) "?" } {
                                            (csrf(ctx))
                                            button.danger type="submit" aria-label={ "Delete module " (m.module_name) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if ctx.may_on_product("iot:CreateOTAModule", pk) { section.card.side {
                h2 { "Add a module" }
                (layout::error_summary(err))
                form method="post" action=(base) data-validate {
                    (csrf(ctx))
                    (field("Module name", "module_name", "ModuleName", err, Some("1-64 letters, digits, '-', '_' and '.'"),
                        html! { input #module_name name="module_name" required maxlength="64" pattern="[A-Za-z0-9_.\\-]{1,64}" value=[form.get("module_name")]
                            data-msg="must be 1-64 characters of letters, digits, '-', '_' and '.'"; }))
                    (field("Alias", "alias_name", "AliasName", err, None,
                        html! { input #alias_name name="alias_name" maxlength="64" value=[form.get("alias_name")]; }))
                    (field("Description", "module_desc", "Desc", err, None,
                        html! { textarea #module_desc name="description" rows="2" maxlength="100" { (form.get("description").unwrap_or_default()) } }))
                    button.primary type="submit" { "Add module" }
                }
            } }
        }
    };
    Ok(layout::page(
        ctx,
        "OTA modules",
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Modules,
        },
        body,
    ))
}

/// `GET /console/products/{pk}/modules`.
pub async fn list(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &pk, &FormData::default(), None).await
}

/// `POST /console/products/{pk}/modules`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let name = form.get("module_name").unwrap_or_default();
    match c
        .app
        .core
        .registry()
        .create_module(
            &ProductKey(pk.clone()),
            name,
            form.text("alias_name"),
            form.text("description"),
        )
        .await
    {
        Ok(m) => Ok(redirect_with(
            &format!("/console/products/{}/modules", enc(&pk)),
            &format!("Module {} added.", m.module_name),
        )),
        Err(e) => Ok(refused(
            render(&c, &ctx, &pk, &form, Some(&e.into())).await?,
        )),
    }
}

/// `POST /console/products/{pk}/modules/{m}`: alias and description.
pub async fn update(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path((pk, m)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    // A blank input leaves the value as it is (the core treats an absent value so).
    match c
        .app
        .core
        .registry()
        .update_module(
            &ProductKey(pk.clone()),
            &m,
            form.text("alias_name"),
            form.text("description"),
        )
        .await
    {
        Ok(_) => Ok(redirect_with(
            &format!("/console/products/{}/modules", enc(&pk)),
            &format!("Module {m} saved."),
        )),
        Err(e) => Ok(refused(
            render(&c, &ctx, &pk, &FormData::default(), Some(&e.into())).await?,
        )),
    }
}

/// `POST /console/products/{pk}/modules/{m}/delete`.
pub async fn delete(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path((pk, m)): Path<(String, String)>,
) -> PageResult {
    match c
        .app
        .core
        .registry()
        .delete_module(&ProductKey(pk.clone()), &m)
        .await
    {
        Ok(()) => Ok(redirect_with(
            &format!("/console/products/{}/modules", enc(&pk)),
            &format!("Module {m} deleted."),
        )),
        Err(e) => Ok(refused(
            render(&c, &ctx, &pk, &FormData::default(), Some(&e.into())).await?,
        )),
    }
}
