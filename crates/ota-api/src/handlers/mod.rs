//! The native REST API, `/api/v1`. Every route is declared here once, with the handler
//! whose `#[utoipa::path]` describes it: the router and the OpenAPI document come from the
//! same list, so the document lists exactly the routes the server has, each with its
//! parameters, request body and response schemas.

pub mod audit;
mod deltas;
mod device_certificates;
mod device_identity;
mod devices;
mod firmwares;
mod groups;
pub mod health;
mod jobs;
mod modules;
mod nodes;
mod policy_json;
mod products;
mod rollouts;
mod signing;
mod tasks;
mod teams;
mod webhooks;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every signed route of `/api/v1` with its part of the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(products::create_product, products::list_products))
        .routes(routes!(
            products::get_product,
            products::update_product,
            products::delete_product
        ))
        .routes(routes!(devices::register_devices, devices::list_devices))
        .routes(routes!(devices::get_device, devices::delete_device))
        .routes(routes!(devices::set_device_tags))
        .routes(routes!(
            device_certificates::add_device_ca,
            device_certificates::list_device_cas
        ))
        .routes(routes!(device_certificates::remove_device_ca))
        .routes(routes!(
            device_certificates::revoke_certificate,
            device_certificates::list_revoked_certificates
        ))
        .routes(routes!(device_certificates::unrevoke_certificate))
        .routes(routes!(device_identity::disable_device))
        .routes(routes!(device_identity::enable_device))
        .routes(routes!(device_identity::reset_device))
        .routes(routes!(tasks::device_tasks))
        .routes(routes!(modules::create_module, modules::list_modules))
        .routes(routes!(modules::update_module, modules::delete_module))
        .routes(routes!(modules::versions))
        .routes(routes!(signing::list_keys))
        .routes(routes!(signing::rotate))
        .routes(routes!(groups::create_group, groups::list_groups))
        .routes(routes!(groups::get_group, groups::delete_group))
        .routes(routes!(groups::add_members, groups::list_members))
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
        .routes(routes!(jobs::approve_job))
        .routes(routes!(jobs::deny_job))
        .routes(routes!(jobs::cancel_strategy))
        .routes(routes!(rollouts::create_rollout, rollouts::list_rollouts))
        .routes(routes!(rollouts::get_rollout))
        .routes(routes!(rollouts::pause_rollout))
        .routes(routes!(rollouts::resume_rollout))
        .routes(routes!(rollouts::cancel_rollout))
        .routes(routes!(rollouts::start_next_wave))
        .routes(routes!(rollouts::approve_rollout))
        .routes(routes!(rollouts::deny_rollout))
        .routes(routes!(tasks::job_tasks))
        .routes(routes!(tasks::confirm_tasks))
        .routes(routes!(tasks::cancel_tasks))
        .routes(routes!(tasks::reupgrade_tasks))
        .routes(routes!(nodes::list_nodes))
        .routes(routes!(health::advance_clock))
        .routes(routes!(teams::create_user, teams::list_users))
        .routes(routes!(
            teams::get_user,
            teams::update_user,
            teams::delete_user
        ))
        .routes(routes!(
            teams::create_access_key,
            teams::list_user_access_keys
        ))
        .routes(routes!(teams::list_access_keys))
        .routes(routes!(teams::update_access_key, teams::delete_access_key))
        .routes(routes!(teams::create_token, teams::list_tokens))
        .routes(routes!(teams::revoke_token))
        .routes(routes!(teams::create_policy, teams::list_policies))
        .routes(routes!(
            teams::get_policy,
            teams::update_policy,
            teams::delete_policy
        ))
        .routes(routes!(teams::attach_policy, teams::user_policies))
        .routes(routes!(teams::detach_policy))
        .routes(routes!(audit::list_audit_events))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::test_webhook))
}
