//! The web console under `/console`: every OTA workflow in the browser. Pages are rendered
//! on the server (maud, so user data is always HTML-escaped) and work without JavaScript;
//! our own small `console.js` adds inline validation, the upload progress bar, adding and
//! removing the rollout wizard's wave rows, and live batch updates over server-sent events.
//! No third-party asset is embedded, and building the binary needs no Node toolchain.
//!
//! Like the REST face, a handler parses the form, calls one `ota_core::Core` method and
//! renders; rules and their error messages come from `ota-domain`, so a console error names
//! the same field and rule as the APIs.

mod charts;
pub(crate) mod form;
mod layout;
mod live;
mod pages;
pub(crate) mod session;

use crate::state::AppState;
use axum::Router;
use axum::http::header;
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use form::ConsoleError;
use session::SessionKey;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// State of the console routes: the API state plus the session signing key.
#[derive(Clone)]
pub struct Console {
    pub app: AppState,
    key: Arc<OnceCell<Arc<SessionKey>>>,
}

impl Console {
    /// The session signing key, read from the store on first use.
    async fn key(&self) -> Result<Arc<SessionKey>, ConsoleError> {
        self.key
            .get_or_try_init(|| async {
                let secret = self.app.core.access().console_session_secret().await?;
                Ok::<_, ota_core::CoreError>(Arc::new(SessionKey::new(secret)))
            })
            .await
            .cloned()
            .map_err(ConsoleError::from)
    }

    /// Whether cookies must be marked `Secure` (the console is served over HTTPS).
    fn secure(&self) -> bool {
        self.app.core.config().public_url.starts_with("https:")
    }
}

/// The console's routes, to be nested under `/console`.
pub fn router<S: Clone + Send + Sync + 'static>(app: AppState) -> Router<S> {
    use pages::{access_keys, audit, policies, users};
    use pages::{
        analysis, batch_new, batches, devices, groups, login, modules, package_deltas, packages,
    };
    use pages::{device_certificates, device_identity, products, tasks, upload, webhooks};
    use pages::{rollout_new, rollouts};
    let state = Console {
        app,
        key: Arc::new(OnceCell::new()),
    };
    let protected = Router::new()
        .route("/", get(products::overview))
        .route("/logout", post(login::logout))
        .route("/products", get(products::list).post(products::create))
        .route("/products/{pk}", get(devices::list))
        .route("/products/{pk}/devices", post(devices::register))
        .route("/products/{pk}/devices/import", post(devices::import))
        .route("/products/{pk}/devices/{dn}", get(devices::detail))
        .route(
            "/products/{pk}/devices/{dn}/disable",
            post(device_identity::disable),
        )
        .route(
            "/products/{pk}/devices/{dn}/enable",
            post(device_identity::enable),
        )
        .route(
            "/products/{pk}/devices/{dn}/reset",
            post(device_identity::reset),
        )
        .route(
            "/products/{pk}/registration",
            post(device_identity::set_registration),
        )
        .route(
            "/products/{pk}/certificates",
            post(device_certificates::set_auto_create),
        )
        .route(
            "/products/{pk}/device-cas",
            post(device_certificates::add_ca),
        )
        .route(
            "/products/{pk}/device-cas/{ca_id}/remove",
            post(device_certificates::remove_ca),
        )
        .route(
            "/products/{pk}/revocations",
            post(device_certificates::revoke),
        )
        .route(
            "/products/{pk}/revocations/{serial}/remove",
            post(device_certificates::unrevoke),
        )
        .route(
            "/products/{pk}/groups",
            get(groups::list).post(groups::create),
        )
        .route("/groups/{id}", get(groups::detail))
        .route("/groups/{id}/members", post(groups::add_members))
        .route(
            "/products/{pk}/modules",
            get(modules::list).post(modules::create),
        )
        .route("/products/{pk}/modules/{m}", post(modules::update))
        .route("/products/{pk}/modules/{m}/delete", post(modules::delete))
        .route(
            "/products/{pk}/packages",
            get(packages::list).post(packages::create),
        )
        .route("/products/{pk}/packages/new", get(packages::new_form))
        .route("/products/{pk}/analysis", get(analysis::page))
        .route("/uploads/{file_name}", put(upload::upload))
        .route("/packages/{id}", get(packages::detail))
        .route("/packages/{id}/verify", post(packages::verify))
        .route("/packages/{id}/deltas", post(package_deltas::request))
        .route("/packages/{id}/batches/new", get(batch_new::form))
        .route("/packages/{id}/batches", post(batch_new::create))
        .route("/packages/{id}/rollouts/new", get(rollout_new::form))
        .route("/packages/{id}/rollouts", post(rollout_new::create))
        .route("/device-list-template.csv", get(batch_new::template))
        .route("/batches/{id}", get(batches::detail))
        .route("/batches/{id}/live", get(live::stream))
        .route("/batches/{id}/cancel", post(batches::cancel))
        .route("/batches/{id}/pause", post(batches::pause))
        .route("/batches/{id}/resume", post(batches::resume))
        .route("/batches/{id}/approval", post(batches::approval))
        .route("/batches/{id}/edit", post(batches::edit))
        .route("/batches/{id}/tasks", post(tasks::act))
        .route("/rollouts/{id}", get(rollouts::detail))
        .route("/rollouts/{id}/pause", post(rollouts::pause))
        .route("/rollouts/{id}/resume", post(rollouts::resume))
        .route("/rollouts/{id}/cancel", post(rollouts::cancel))
        .route("/rollouts/{id}/next-wave", post(rollouts::next_wave))
        .route("/rollouts/{id}/approval", post(rollouts::approval))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{user}", get(users::detail))
        .route("/users/{user}/enable", post(users::enable))
        .route("/users/{user}/disable", post(users::disable))
        .route("/users/{user}/password", post(users::set_password))
        .route("/users/{user}/delete", post(users::delete))
        .route("/users/{user}/access-keys", post(access_keys::create))
        .route("/users/{user}/policies", post(users::attach))
        .route(
            "/users/{user}/policies/{policy}/detach",
            post(users::detach),
        )
        .route("/access-keys/{key}/enable", post(access_keys::enable))
        .route("/access-keys/{key}/disable", post(access_keys::disable))
        .route("/access-keys/{key}/delete", post(access_keys::delete))
        .route("/policies", get(policies::list).post(policies::create))
        .route(
            "/policies/{policy}",
            get(policies::detail).post(policies::update),
        )
        .route("/policies/{policy}/delete", post(policies::delete))
        .route("/audit", get(audit::page))
        .route("/audit.csv", get(audit::download))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", get(webhooks::detail))
        .route("/webhooks/{id}/test", post(webhooks::test))
        .route("/webhooks/{id}/delete", post(webhooks::delete))
        .layer(middleware::from_fn_with_state(
            state.app.clone(),
            crate::authz::console::authorize,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/assets/console.js", get(script))
        .route("/assets/console.css", get(style))
        .merge(protected)
        .fallback(not_found)
        .with_state(state)
}

/// Unknown console paths; `/console/` (with the slash) is the overview.
async fn not_found(uri: axum::extract::OriginalUri) -> axum::response::Response {
    if uri.path() == "/console/" {
        return axum::response::Redirect::to("/console").into_response();
    }
    (
        axum::http::StatusCode::NOT_FOUND,
        layout::error_page(
            axum::http::StatusCode::NOT_FOUND,
            "There is no such console page.",
        ),
    )
        .into_response()
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("assets/console.js"),
    )
}

async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("assets/console.css"),
    )
}
