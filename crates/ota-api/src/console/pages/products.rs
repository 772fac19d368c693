//! The overview and the product list: what exists and what is running, from counts only.

use super::page_of;
use crate::console::Console;
use crate::console::form::{FormData, FormError, PageResult};
use crate::console::layout::{self, Nav, badge, csrf, enc, field, time};
use crate::console::session::{Ctx, redirect_with};
use axum::extract::{Extension, Form, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use ota_core::Page;
use serde::Deserialize;

/// `GET /console`: fleet and rollout totals, and the newest packages.
pub async fn overview(State(c): State<Console>, Extension(ctx): Extension<Ctx>) -> PageResult {
    let core = &c.app.core;
    // Every signed-in user lands here, so each part shows only what their policies let
    // them read anywhere ("*"); the same reads are refused on their own pages otherwise.
    let see_products = ctx.may("iot:QueryProductList");
    let see_packages = ctx.may("iot:ListOTAFirmware");
    let see_batches = ctx.may("iot:QueryOTAJob");
    let (products, online) = if see_products {
        let (_, products) = core.registry().list_products(Page::new(0, 1)).await?;
        (products, core.registry().online_count(None).await?)
    } else {
        (0, 0)
    };
    let (packages, package_total) = if see_packages {
        core.firmwares().list(None, None, Page::new(0, 8)).await?
    } else {
        (Vec::new(), 0)
    };
    let active = if see_batches {
        core.access().active_jobs().await?
    } else {
        Vec::new()
    };
    let body = html! {
        h1 { "Overview" }
        @if !(see_products || see_packages || see_batches) {
            p.muted #nothing-to-see { "Your policies allow no overview of products, packages or batches." }
        }
        div.cards {
            @if see_products {
                div.stat { span.n { (products) } span.l { "products" } }
                div.stat { span.n { (online) } span.l { "devices online" } }
            }
            @if see_packages { div.stat { span.n { (package_total) } span.l { "packages" } } }
            @if see_batches { div.stat { span.n { (active.len()) } span.l { "active batches" } } }
        }
        @if see_batches { section.card {
            h2 { "Active batches" }
            @if active.is_empty() { p.muted { "No batch is running." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Batch" } th scope="col" { "Type" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                    tbody {
                        @for j in active.iter().take(20) {
                            tr {
                                td { a href={ "/console/batches/" (enc(j.job_id.as_str())) } { code { (j.job_id) } } }
                                td { (j.job_type.as_str()) " · " (j.selection_type.as_str()) }
                                td { (badge(j.status.as_str())) }
                                td { (time(j.created_at)) }
                            }
                        }
                    }
                }
            }
        } }
        @if see_packages { section.card {
            h2 { "Newest packages" }
            @if packages.is_empty() { p.muted { "No package yet. Open a product and add one." } }
            @else {
                table {
                    thead { tr { th scope="col" { "Package" } th scope="col" { "Version" } th scope="col" { "Status" } th scope="col" { "Created" } } }
                    tbody {
                        @for f in &packages {
                            tr {
                                td { a href={ "/console/packages/" (enc(f.firmware_id.as_str())) } { (f.firmware_name) } }
                                td { (f.dest_version) }
                                td { (badge(super::packages::status_str(f.status))) }
                                td { (time(f.created_at)) }
                            }
                        }
                    }
                }
            }
        } }
    };
    Ok(layout::page(&ctx, "Overview", Nav::Overview, body).into_response())
}

#[derive(Deserialize)]
pub struct ListQuery {
    page: Option<i64>,
}

async fn render(
    c: &Console,
    ctx: &Ctx,
    page: Option<i64>,
    form: &FormData,
    err: Option<&FormError>,
) -> PageResult<Markup> {
    let core = &c.app.core;
    let (page, paging) = page_of(page, 20);
    let (products, total) = core.registry().list_products(paging).await?;
    let mut counts = Vec::with_capacity(products.len());
    for p in &products {
        counts.push(core.registry().device_count(&p.product_key).await?);
    }
    let body = html! {
        h1 { "Products" }
        div.split {
            section.card.grow {
                h2 { "All products" }
                @if products.is_empty() { p.muted { "No product yet: create one to register devices." } }
                @else {
                    table {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "ProductKey" } th scope="col" { "Devices" } th scope="col" { "Created" } } }
                        tbody {
                            @for (p, n) in products.iter().zip(&counts) {
                                tr {
                                    td { a href={ "/console/products/" (enc(p.product_key.as_str())) } { (p.product_name) } }
                                    td { code { (p.product_key) } }
                                    td.num { (n) }
                                    td { (time(p.created_at)) }
                                }
                            }
                        }
                    }
                    (layout::pager("/console/products", page, 20, total))
                }
            }
            @if ctx.may("iot:CreateProduct") { section.card.side {
                h2 { "New product" }
                (layout::error_summary(err))
                form method="post" action="/console/products" data-validate {
                    (csrf(ctx))
                    (field("Name", "product_name", "ProductName", err, Some("4-30 characters of letters, digits, Chinese characters, '_' and '-'"),
                        html! { input #product_name name="name" required minlength="4" maxlength="30" value=[form.get("name")]
                            data-msg="must be 4-30 characters of letters, digits, Chinese characters, '_' and '-'"; }))
                    (field("Description", "product_desc", "Description", err, None,
                        html! { textarea #product_desc name="description" maxlength="100" rows="2" { (form.get("description").unwrap_or_default()) } }))
                    button.primary type="submit" { "Create product" }
                }
            } }
        }
    };
    Ok(layout::page(ctx, "Products", Nav::Products, body))
}

/// `GET /console/products`.
pub async fn list(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<ListQuery>,
) -> PageResult<Markup> {
    render(&c, &ctx, q.page, &FormData::default(), None).await
}

/// `POST /console/products`.
pub async fn create(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = FormData::new(pairs);
    let name = form.get("name").unwrap_or_default();
    match c
        .app
        .core
        .registry()
        .create_product(name, form.text("description"))
        .await
    {
        Ok(p) => Ok(redirect_with(
            &format!("/console/products/{}", enc(p.product_key.as_str())),
            &format!("Product {} created.", p.product_name),
        )),
        Err(e) => {
            let err = FormError::from(e);
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                render(&c, &ctx, None, &form, Some(&err)).await?,
            )
                .into_response())
        }
    }
}

/// Renders a response for a refused form: 422 with the page.
pub fn refused(markup: Markup) -> Response {
    (axum::http::StatusCode::UNPROCESSABLE_ENTITY, markup).into_response()
}
