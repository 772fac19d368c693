//! The native REST API, `/api/v1`. Every route is listed here, once; the OpenAPI document
//! is checked against this table in tests.

mod deltas;
mod firmwares;
pub mod health;
mod jobs;
mod nodes;
mod registry;
mod signing;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, patch, post, put};

/// Every signed route of `/api/v1` as (method, path, summary): the source of the OpenAPI
/// document, and checked against the router in tests.
pub const ROUTES: &[(&str, &str, &str)] = &[
    (
        "post",
        "/products",
        "Create a product (generated ProductKey and secret, `default` module)",
    ),
    ("get", "/products", "List products"),
    ("get", "/products/{product_key}", "Get a product"),
    (
        "get",
        "/products/{product_key}/signing-keys",
        "Package-signing public keys (created on first use) and the ones devices should trust",
    ),
    (
        "post",
        "/products/{product_key}/signing-keys/rotate",
        "Rotate the package-signing key; the old one stays trusted for overlapSeconds",
    ),
    (
        "patch",
        "/products/{product_key}",
        "Change a product's name or description",
    ),
    (
        "delete",
        "/products/{product_key}",
        "Delete a product without devices",
    ),
    (
        "post",
        "/products/{product_key}/devices",
        "Register devices (names, or a count of generated names)",
    ),
    (
        "get",
        "/products/{product_key}/devices",
        "List devices, optionally by name prefix",
    ),
    (
        "get",
        "/products/{product_key}/devices/{device_name}",
        "Device detail with reported module versions",
    ),
    (
        "delete",
        "/products/{product_key}/devices/{device_name}",
        "Delete a device",
    ),
    (
        "put",
        "/products/{product_key}/devices/{device_name}/tags",
        "Replace a device's tags",
    ),
    (
        "get",
        "/products/{product_key}/devices/{device_name}/tasks",
        "A device's tasks",
    ),
    (
        "post",
        "/products/{product_key}/modules",
        "Add an OTA module",
    ),
    ("get", "/products/{product_key}/modules", "List OTA modules"),
    (
        "patch",
        "/products/{product_key}/modules/{module_name}",
        "Change a module's alias or description",
    ),
    (
        "delete",
        "/products/{product_key}/modules/{module_name}",
        "Delete a module",
    ),
    (
        "get",
        "/products/{product_key}/versions",
        "Version distribution of a module",
    ),
    (
        "post",
        "/groups",
        "Create a static group, or a dynamic one with a filter",
    ),
    ("get", "/groups", "List groups"),
    ("get", "/groups/{group_id}", "Get a group"),
    ("delete", "/groups/{group_id}", "Delete a group"),
    (
        "post",
        "/groups/{group_id}/members",
        "Add devices to a static group",
    ),
    (
        "get",
        "/groups/{group_id}/members",
        "List a group's members",
    ),
    (
        "put",
        "/uploads/{file_name}",
        "Upload a package file (raw body, streamed; sign with UNSIGNED-PAYLOAD)",
    ),
    ("post", "/firmwares", "Create a package from uploaded files"),
    ("get", "/firmwares", "List packages"),
    (
        "get",
        "/firmwares/{firmware_id}",
        "Get a package with signed download URLs",
    ),
    (
        "patch",
        "/firmwares/{firmware_id}",
        "Change a package's name, description or Udi",
    ),
    (
        "delete",
        "/firmwares/{firmware_id}",
        "Delete a package without active batches",
    ),
    (
        "post",
        "/firmwares/{firmware_id}/jobs",
        "Create a verify, static or dynamic batch",
    ),
    (
        "get",
        "/firmwares/{firmware_id}/jobs",
        "List a package's batches",
    ),
    (
        "post",
        "/firmwares/{firmware_id}/deltas",
        "Generate deltas of a full package from earlier versions (background)",
    ),
    (
        "get",
        "/firmwares/{firmware_id}/deltas",
        "A package's deltas with their generation status",
    ),
    (
        "get",
        "/jobs/{job_id}",
        "A batch with task counts by state and reason",
    ),
    (
        "patch",
        "/jobs/{job_id}",
        "Change a running batch's rate, rate steps, tags or (dynamic) timeout",
    ),
    (
        "post",
        "/jobs/{job_id}/cancel",
        "Cancel a batch, choosing which task states to cancel",
    ),
    (
        "post",
        "/jobs/{job_id}/pause",
        "Pause a batch: no new device is pushed; devices already told go on",
    ),
    (
        "post",
        "/jobs/{job_id}/resume",
        "Resume a paused batch; its failure gate counts from now on",
    ),
    (
        "post",
        "/jobs/{job_id}/cancel-strategy",
        "Stop a dynamic batch from adding devices",
    ),
    (
        "get",
        "/jobs/{job_id}/tasks",
        "A batch's tasks, filterable by state and device",
    ),
    (
        "post",
        "/tasks/confirm",
        "Confirm tasks waiting in CONFIRM (1-10)",
    ),
    ("post", "/tasks/cancel", "Cancel tasks (1-200)"),
    (
        "get",
        "/nodes",
        "The nodes serving this store: heartbeats, lost nodes and who recovered them",
    ),
    (
        "post",
        "/tasks/reupgrade",
        "Re-run failed or cancelled tasks (1-10)",
    ),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/products",
            post(registry::create_product).get(registry::list_products),
        )
        .route(
            "/products/{product_key}",
            get(registry::get_product)
                .patch(registry::update_product)
                .delete(registry::delete_product),
        )
        .route(
            "/products/{product_key}/devices",
            post(registry::register_devices).get(registry::list_devices),
        )
        .route(
            "/products/{product_key}/devices/{device_name}",
            get(registry::get_device).delete(registry::delete_device),
        )
        .route(
            "/products/{product_key}/devices/{device_name}/tags",
            put(registry::set_device_tags),
        )
        .route(
            "/products/{product_key}/devices/{device_name}/tasks",
            get(jobs::device_tasks),
        )
        .route(
            "/products/{product_key}/modules",
            post(registry::create_module).get(registry::list_modules),
        )
        .route(
            "/products/{product_key}/modules/{module_name}",
            patch(registry::update_module).delete(registry::delete_module),
        )
        .route("/products/{product_key}/versions", get(registry::versions))
        .route(
            "/products/{product_key}/signing-keys",
            get(signing::list_keys),
        )
        .route(
            "/products/{product_key}/signing-keys/rotate",
            post(signing::rotate),
        )
        .route(
            "/groups",
            post(registry::create_group).get(registry::list_groups),
        )
        .route(
            "/groups/{group_id}",
            get(registry::get_group).delete(registry::delete_group),
        )
        .route(
            "/groups/{group_id}/members",
            post(registry::add_members).get(registry::list_members),
        )
        .route("/uploads/{file_name}", put(firmwares::upload))
        .route(
            "/firmwares",
            post(firmwares::create_firmware).get(firmwares::list_firmwares),
        )
        .route(
            "/firmwares/{firmware_id}",
            get(firmwares::get_firmware)
                .patch(firmwares::modify_firmware)
                .delete(firmwares::delete_firmware),
        )
        .route(
            "/firmwares/{firmware_id}/jobs",
            post(jobs::create_job).get(jobs::list_jobs),
        )
        .route(
            "/firmwares/{firmware_id}/deltas",
            post(deltas::request).get(deltas::list),
        )
        .route("/jobs/{job_id}", get(jobs::get_job).patch(jobs::update_job))
        .route("/jobs/{job_id}/cancel", post(jobs::cancel_job))
        .route("/jobs/{job_id}/pause", post(jobs::pause_job))
        .route("/jobs/{job_id}/resume", post(jobs::resume_job))
        .route(
            "/jobs/{job_id}/cancel-strategy",
            post(jobs::cancel_strategy),
        )
        .route("/jobs/{job_id}/tasks", get(jobs::job_tasks))
        .route("/tasks/confirm", post(jobs::confirm_tasks))
        .route("/tasks/cancel", post(jobs::cancel_tasks))
        .route("/tasks/reupgrade", post(jobs::reupgrade_tasks))
        .route("/nodes", get(nodes::list_nodes))
        .route("/debug/clock", post(health::advance_clock))
}
