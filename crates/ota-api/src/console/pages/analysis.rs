//! Data analysis of a product: the version distribution of a module, and the success rate
//! of each package and each of its batches — as server-rendered SVG charts with the numbers
//! in tables beside them. Every figure comes from an aggregate query.

use crate::console::Console;
use crate::console::charts::{Bar, PALETTE, bars};
use crate::console::form::PageResult;
use crate::console::layout::{self, Nav, Tab, enc};
use crate::console::session::Ctx;
use axum::extract::{Extension, Path, Query, State};
use maud::{Markup, html};
use ota_core::{FirmwareTally, Page};
use ota_domain::ProductKey;
use ota_domain::job::JobType;
use ota_domain::task::TaskStatus;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct AnalysisQuery {
    module: Option<String>,
}

/// The last characters of an id, enough to tell a product's batches apart.
fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(4)..]
}

fn rate(ok: i64, failed: i64) -> String {
    if ok + failed == 0 {
        "—".to_owned()
    } else {
        format!("{:.1}%", ok as f64 * 100.0 / (ok + failed) as f64)
    }
}

/// `GET /console/products/{pk}/analysis?module=`.
pub async fn page(
    State(c): State<Console>,
    Extension(ctx): Extension<Ctx>,
    Path(pk): Path<String>,
    Query(q): Query<AnalysisQuery>,
) -> PageResult<Markup> {
    let core = &c.app.core;
    let product = super::product(&c, &pk).await?;
    let key = ProductKey(pk.clone());
    let modules = core.registry().list_modules(&key).await?;
    let module = q
        .module
        .unwrap_or_else(|| ota_domain::registry::DEFAULT_MODULE.to_owned());
    let dist = core.registry().version_distribution(&key, &module).await?;
    let devices: i64 = dist.iter().map(|(_, n)| n).sum();
    let version_bars: Vec<Bar> = dist
        .iter()
        .enumerate()
        .map(|(i, (v, n))| Bar {
            label: v.clone(),
            segments: vec![(*n as f64, PALETTE[i % PALETTE.len()])],
            note: format!("{n} ({:.0}%)", *n as f64 * 100.0 / devices.max(1) as f64),
        })
        .collect();
    let (packages, _) = core
        .firmwares()
        .list(Some(&key), None, Page::new(0, 12))
        .await?;
    let mut package_rows = Vec::new();
    let mut batch_rows = Vec::new();
    for f in &packages {
        // States only, by batch, from one read of an index: the package's tally and its
        // newest batches' bars.
        let by_batch = core
            .firmwares()
            .status_counts_by_batch(&f.firmware_id)
            .await?;
        package_rows.push((f, FirmwareTally::of(by_batch.values())));
        let (jobs, _) = core
            .jobs()
            .of_firmware(&f.firmware_id, Page::new(0, 5))
            .await?;
        for j in jobs {
            let counts = by_batch.get(&j.job_id).cloned().unwrap_or_default();
            batch_rows.push((f, j, super::batch_view::status_only(counts)));
        }
    }
    let package_bars: Vec<Bar> = package_rows
        .iter()
        .map(|(f, t)| Bar {
            label: f.firmware_name.clone(),
            segments: vec![
                (t.succeeded as f64, "ok"),
                (t.failed as f64, "bad"),
                ((t.total - t.succeeded - t.failed) as f64, "wait"),
            ],
            note: rate(t.succeeded, t.failed),
        })
        .collect();
    let batch_bars: Vec<Bar> = batch_rows
        .iter()
        .map(|(f, j, c)| {
            let (ok, bad) = (
                c.status(TaskStatus::Succeeded),
                c.status(TaskStatus::Failed),
            );
            let kind = if j.job_type == JobType::VerifyFirmware {
                "verify"
            } else {
                "batch"
            };
            Bar {
                label: format!("{} {kind} {}", f.firmware_name, short(j.job_id.as_str())),
                segments: vec![
                    (ok as f64, "ok"),
                    (bad as f64, "bad"),
                    ((c.total - ok - bad) as f64, "wait"),
                ],
                note: rate(ok, bad),
            }
        })
        .collect();
    let body = html! {
        h1 { "Data analysis" }
        section.card {
            div.heading {
                h2 { "Version distribution" }
                form.inline method="get" action={ "/console/products/" (enc(&pk)) "/analysis" } {
                    label for="module" { "Module" }
                    select #module name="module" {
                        @for m in &modules { option value=(m.module_name) selected[m.module_name == module] { (m.module_name) } }
                    }
                    button type="submit" { "Show" }
                }
            }
            div.chart-row {
                (bars("chart-versions", &format!("Versions of module {module}"), &format!("{devices} devices reported a version"), &version_bars, None))
                table #versions-table {
                    caption { (devices) " devices reported a version" }
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Devices" } } }
                    tbody { @for (v, n) in &dist { tr { td { code { (v) } } td.num { (n) } } } }
                }
            }
        }
        section.card {
            h2 { "Success rate per package" }
            p.legend { span.key.ok {} "succeeded " span.key.bad {} "failed " span.key.wait {} "not finished or cancelled" }
            div.chart-row {
                (bars("chart-packages", "Tasks per package", "Succeeded, failed and other tasks of each package", &package_bars, None))
                table #packages-table {
                    thead { tr { th scope="col" { "Package" } th scope="col" { "Succeeded" } th scope="col" { "Failed" } th scope="col" { "Tasks" } th scope="col" { "Success rate" } } }
                    tbody {
                        @for (f, t) in &package_rows {
                            tr { td { a href={ "/console/packages/" (enc(f.firmware_id.as_str())) } { (f.firmware_name) } } td.num { (t.succeeded) } td.num { (t.failed) } td.num { (t.total) } td.num { (rate(t.succeeded, t.failed)) } }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "Success rate per batch" }
            div.chart-row {
                (bars("chart-batches", "Tasks per batch", "Succeeded, failed and other tasks of each batch", &batch_bars, None))
                table #batches-table {
                    thead { tr { th scope="col" { "Batch" } th scope="col" { "Succeeded" } th scope="col" { "Failed" } th scope="col" { "Tasks" } th scope="col" { "Success rate" } } }
                    tbody {
                        @for (f, j, c) in &batch_rows {
                            @let (ok, bad) = (c.status(TaskStatus::Succeeded), c.status(TaskStatus::Failed));
                            tr { td { a href={ "/console/batches/" (enc(j.job_id.as_str())) } { (f.firmware_name) " · " (if j.job_type == JobType::VerifyFirmware { "verify" } else { "batch" }) " " code { (short(j.job_id.as_str())) } } } td.num { (ok) } td.num { (bad) } td.num { (c.total) } td.num { (rate(ok, bad)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &ctx,
        "Data analysis",
        Nav::Product {
            pk: &pk,
            name: &product.product_name,
            tab: Tab::Analysis,
        },
        body,
    ))
}
