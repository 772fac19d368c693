//! The native REST API, `/api/v1`. Every route is declared here once, with the handler
//! whose `#[utoipa::path]` describes it: the router and the OpenAPI document come from the
//! same list, so the document lists exactly the routes the server has, each with its
//! parameters, request body and response schemas.

mod deltas;
mod firmwares;
pub mod health;
mod jobs;
mod nodes;
mod registry;
mod signing;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every signed route of `/api/v1` with its part of the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(registry::create_product, registry::list_products))
        .routes(routes!(
            registry::get_product,
            registry::update_product,
            registry::delete_product
        ))
        .routes(routes!(registry::register_devices, registry::list_devices))
        .routes(routes!(registry::get_device, registry::delete_device))
        .routes(routes!(registry::set_device_tags))
        .routes(routes!(jobs::device_tasks))
        .routes(routes!(registry::create_module, registry::list_modules))
        .routes(routes!(registry::update_module, registry::delete_module))
        .routes(routes!(registry::versions))
        .routes(routes!(signing::list_keys))
        .routes(routes!(signing::rotate))
        .routes(routes!(registry::create_group, registry::list_groups))
        .routes(routes!(registry::get_group, registry::delete_group))
        .routes(routes!(registry::add_members, registry::list_members))
        .routes(routes!(firmwares::upload))
        .routes(routes!(
            firmwares::create_firmware,
            firmwares::list_firmwares
        ))
        .routes(routes!(
            firmwares::get_firmware,
            firmwares::modify_firmware,
            firmwares::delete_firmware
        ))
        .routes(routes!(jobs::create_job, jobs::list_jobs))
        .routes(routes!(deltas::request, deltas::list))
        .routes(routes!(jobs::get_job, jobs::update_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::pause_job))
        .routes(routes!(jobs::resume_job))
        .routes(routes!(jobs::cancel_strategy))
        .routes(routes!(jobs::job_tasks))
        .routes(routes!(jobs::confirm_tasks))
        .routes(routes!(jobs::cancel_tasks))
        .routes(routes!(jobs::reupgrade_tasks))
        .routes(routes!(nodes::list_nodes))
        .routes(routes!(health::advance_clock))
}
