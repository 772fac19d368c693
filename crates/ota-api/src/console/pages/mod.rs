//! One file per console area. Each handler parses its input, calls one `Core` method and
//! renders; a refused form is rendered again with the user's input and the error placed
//! at its field.

pub mod access_keys;
pub mod analysis;
pub mod audit;
pub mod batch_new;
pub mod batch_params;
pub mod batch_view;
pub mod batches;
pub mod device_certificates;
pub mod device_identity;
pub mod devices;
pub mod groups;
pub mod login;
pub mod modules;
pub mod package_deltas;
pub mod package_form;
pub mod packages;
pub mod policies;
pub mod products;
pub mod rollout_new;
pub mod rollout_view;
pub mod rollout_waves;
pub mod rollouts;
pub mod tasks;
pub mod upload;
pub mod users;
pub mod webhooks;

use super::Console;
use super::form::ConsoleError;
use ota_core::Page;
use ota_domain::ProductKey;
use ota_domain::registry::Product;

/// Paging from `?page=` with a fixed page size.
pub fn page_of(page: Option<i64>, size: i64) -> (i64, Page) {
    let page = page.unwrap_or(1).max(1);
    (page, Page::new((page - 1) * size, size))
}

/// The product of a product page, or a 404 page.
pub async fn product(c: &Console, pk: &str) -> Result<Product, ConsoleError> {
    Ok(c.app
        .core
        .registry()
        .product(&ProductKey(pk.to_owned()))
        .await?)
}
