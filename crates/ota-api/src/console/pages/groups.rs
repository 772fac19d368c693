//! Static device groups of a product: create, list, and add members by name. A group is a
//! batch target ("a group" in the batch wizard).

use super::page_of;
use super::products::refused;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, Tab, csrf, enc, field, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Path, Query, State};
use maud::{Markup, html};
use ota_domain::registry::GroupKind;
use ota_domain::{DeviceName, GroupId, ProductKey};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct DetailQuery {
    page: Option<i64>,
}

async fn render(
    c: &Console,
    ctx: &Ctx,
    pk: &str,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let product = super::product(c, pk).await?;
    let (groups, _) = c
        .app
        .core
        .registry()
        .list_groups(Some(&product.product_key), ota_core::Page::new(0, 200))
        .await?;
    let body = html! {
        h1 { "Groups" }
        div.split {
            section.card.grow {
                @if groups.is_empty() { p.muted { "No group yet. A static group collects devices by name and can be the target of a batch." } }
                @else {
                    table #groups {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Kind" } th scope="col" { "Description" } th scope="col" { "Created" } } }
                        tbody {
                            @for g in &groups {
                                tr {
                                    td { a href={ "/console/groups/" (enc(g.group_id.as_str())) } { (g.group_name) } }
                                    td { @if matches!(g.kind, GroupKind::Static) { "static" } @else { "dynamic" } }
                                    td { (g.description.as_deref().unwrap_or("")) }
                                    td { (time(g.created_at)) }
                                }
                            }
                        }
                    }
                }
            }
            @if ctx.may_on_product("iot:CreateDeviceGroup", pk) { section.card.side {
                h2 { "New static group" }
                (layout::error_summary(err))
                form method="post" action={ "/console/products/" (enc(pk)) "/groups" } data-validate {
                    (csrf(ctx))
                    (field("Group name", "group_name", "GroupName", err, Some("1-30 letters, digits, Chinese characters, '_' and '-'"),
                        html! { input #group_name name="name" required maxlength="30" value=[form.get("name")] data-msg="must be 1-30 characters of letters, digits, Chinese characters, '_' and '-'"; }))
                    (field("Description", "group_desc", "GroupDesc", err, None,
                        html! { textarea #group_desc name="description" rows="2" maxlength="100" { (form.get("description").unwrap_or_default()) } }))
                    button.primary type="submit" { "Create group" }
                }
            } }
        }
    };
    Ok(layout::page(
        ctx,
        "Groups",
        Nav::Product {
            pk,
            name: &product.product_name,
            tab: Tab::Groups,
        },
        body,
    ))
}

/// `GET /console/products/{pk}/groups`.
pub async fn list(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
) -> PageResult<Markup> {
    render(&c, &ctx, &pk, &FormData::default(), None).await
}

/// `POST /console/products/{pk}/groups`: a new static group.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let name = form.get("name").unwrap_or_default();
    match c
        .app
        .core
        .registry()
        .create_group(
            name,
            Some(ProductKey(pk.clone())),
            form.text("description"),
            None,
        )
        .await
    {
        Ok(g) => Ok(redirect_with(
            &format!("/console/groups/{}", enc(g.group_id.as_str())),
            &format!("Group {} created.", g.group_name),
        )),
        Err(e) => Ok(refused(
            render(&c, &ctx, &pk, &form, Some(&e.into())).await?,
        )),
    }
}

async fn render_detail(
    c: &Console,
    ctx: &Ctx,
    id: &str,
    page: Option<i64>,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let group = c.app.core.registry().group(&GroupId(id.to_owned())).await?;
    let (page, paging) = page_of(page, 25);
    let (members, total) = c
        .app
        .core
        .registry()
        .group_members(&group.group_id, paging)
        .await?;
    let pk = group
        .product_key
        .as_ref()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let product = match &group.product_key {
        Some(p) => Some(c.app.core.registry().product(p).await?),
        None => None,
    };
    let body = html! {
        h1 { "Group " (group.group_name) }
        div.split {
            section.card.grow {
                h2 { "Members" }
                @if members.is_empty() { p.muted { "No member yet." } }
                @else {
                    table #members {
                        thead { tr { th scope="col" { "Device" } th scope="col" { "State" } } }
                        tbody {
                            @for d in &members {
                                tr {
                                    td { a href={ "/console/products/" (enc(d.product_key.as_str())) "/devices/" (enc(d.device_name.as_str())) } { (d.device_name) } }
                                    td { (layout::badge(super::devices::presence(c, d))) }
                                }
                            }
                        }
                    }
                    (layout::pager(&format!("/console/groups/{}", enc(id)), page, 25, total))
                }
            }
            @if matches!(group.kind, GroupKind::Static) && ctx.may_on_group("iot:BatchAddDeviceGroupRelations", id) {
                section.card.side {
                    h2 { "Add devices" }
                    (layout::error_summary(err))
                    form method="post" action={ "/console/groups/" (enc(id)) "/members" } data-validate {
                        (csrf(ctx))
                        (field("Device names, one per line", "member_names", "DeviceName", err, None,
                            html! { textarea #member_names name="names" rows="6" required data-msg="list at least one device name" { (form.get("names").unwrap_or_default()) } }))
                        button.primary type="submit" { "Add to group" }
                    }
                }
            }
        }
    };
    let nav = match &product {
        Some(p) => Nav::Product {
            pk: &pk,
            name: &p.product_name,
            tab: Tab::Groups,
        },
        None => Nav::Products,
    };
    Ok(layout::page(
        ctx,
        &format!("Group {}", group.group_name),
        nav,
        body,
    ))
}

/// `GET /console/groups/{id}`.
pub async fn detail(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> PageResult<Markup> {
    render_detail(&c, &ctx, &id, q.page, &FormData::default(), None).await
}

/// `POST /console/groups/{id}/members`.
pub async fn add_members(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let names: Vec<DeviceName> = form
        .get("names")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| DeviceName(l.to_owned()))
        .collect();
    let result = if names.is_empty() {
        Err(FormError {
            field: Some("DeviceName".into()),
            message: "list at least one device name".into(),
        })
    } else {
        c.app
            .core
            .registry()
            .add_group_members(&GroupId(id.clone()), &names)
            .await
            .map_err(FormError::from)
    };
    match result {
        Ok(n) => Ok(redirect_with(
            &format!("/console/groups/{}", enc(&id)),
            &format!("Added {n} devices."),
        )),
        Err(err) => Ok(refused(
            render_detail(&c, &ctx, &id, None, &form, Some(&err)).await?,
        )),
    }
}
