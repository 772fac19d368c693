//! Dynamic registration: a device proves it knows its product's secret and is given its own
//! credentials, over MQTT (`authType=register`, `regnwl`) or HTTPS
//! (`/auth/register/device`); both faces call [`Registry::register_dynamically`].
//!
//! The checks, in order: the product exists, the signature is the ProductSecret's, the
//! product allows dynamic registration, the `random` was never used for this product (each
//! is remembered for [`RANDOM_MEMORY_MS`]), then the identity rules (enabled, registered
//! once until reset, never connected): a pre-registered device gets its DeviceSecret; with
//! `regnwl` a device that does not exist yet is created, within the product's quota, and
//! gets a client id and token. Every registration is recorded on the device.

use crate::{CoreResult, Registry, ids};
use ota_domain::identity::{IdentityEvent, RegistrationMethod};
use ota_domain::registry::{Device, Product};
use ota_domain::validate::registry as rules;
use ota_domain::{DeviceKey, DomainError, ErrorCode, IotId, Millis};
use ota_protocol::registration::token_digest;
use ota_protocol::{Issued, RegistrationKind, RegistrationRequest};
use ota_store::{ConnectionToken, RegistrationRecord, StoreError};

/// How long a registration's `random` is remembered: a replay within it is refused. (A
/// device registers once until reset, so a replay later still meets that rule.)
pub const RANDOM_MEMORY_MS: Millis = 30 * 24 * 3600 * 1000;

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationChannel {
    Mqtt,
    Https,
}

fn refused(field: &str, message: &str) -> DomainError {
    DomainError::new(ErrorCode::InvalidState, Some(field), message)
}

impl Registry<'_> {
    /// Checks a registration request and issues the device's credentials (see the module
    /// documentation for the rules, each refusal naming its field).
    pub async fn register_dynamically(
        &self,
        request: &RegistrationRequest,
        channel: RegistrationChannel,
    ) -> CoreResult<Issued> {
        let key = &request.device;
        let product = self.product(&key.product_key).await?;
        if !request.verify(&product.product_secret) {
            return Err(DomainError::invalid(
                "sign",
                "is not the ProductSecret's signature of deviceName, productKey and random",
            )
            .into());
        }
        if !product.dynamic_register {
            return Err(refused(
                "ProductKey",
                "the product does not allow dynamic registration; turn it on for the product",
            )
            .into());
        }
        let now = self.now();
        let scope = format!("dynreg:{}", key.product_key);
        if !self
            .store()
            .use_nonce(&scope, &request.random, now, now + RANDOM_MEMORY_MS)
            .await?
        {
            return Err(refused(
                "random",
                "was used before: each registration needs a new one",
            )
            .into());
        }
        let method = match (request.kind, channel) {
            (RegistrationKind::NoPreregistration, _) => RegistrationMethod::MqttNoPreregistration,
            (RegistrationKind::Preregistered, RegistrationChannel::Mqtt) => {
                RegistrationMethod::Mqtt
            }
            (RegistrationKind::Preregistered, RegistrationChannel::Https) => {
                RegistrationMethod::Https
            }
        };
        let existing = self.store().get_device(key).await?;
        let issued = match (request.kind, existing) {
            (RegistrationKind::Preregistered, None) => {
                return Err(DomainError::not_found(
                    "DeviceName",
                    format!("device {key} is not registered (register it first, or use regnwl)"),
                )
                .into());
            }
            (RegistrationKind::Preregistered, Some(device)) => {
                self.record(&device, method, now, None).await?;
                Issued::Secret {
                    product_key: key.product_key.to_string(),
                    device_name: key.device_name.to_string(),
                    device_secret: device.device_secret,
                }
            }
            (RegistrationKind::NoPreregistration, existing) => {
                let token = ids::secret();
                let connection = ConnectionToken {
                    client_id: format!("{}.{}", ids::iot_id(), key.product_key),
                    token_sha256: token_digest(&token),
                };
                match existing {
                    Some(device) => self.record(&device, method, now, Some(&connection)).await?,
                    None => self.create(&product, key, now, &connection).await?,
                }
                Issued::Token {
                    product_key: key.product_key.to_string(),
                    device_name: key.device_name.to_string(),
                    client_id: connection.client_id,
                    device_token: token,
                }
            }
        };
        tracing::info!(device = %key, method = method.as_str(), "device registered dynamically");
        Ok(issued)
    }

    /// Records a registration on an existing device if the identity rules allow it.
    async fn record(
        &self,
        device: &Device,
        method: RegistrationMethod,
        now: Millis,
        token: Option<&ConnectionToken>,
    ) -> CoreResult<()> {
        device
            .identity()
            .apply(IdentityEvent::Register)
            .map_err(|r| r.into_error("DeviceName"))?;
        let key = DeviceKey {
            product_key: device.product_key.clone(),
            device_name: device.device_name.clone(),
        };
        let record = RegistrationRecord {
            method,
            at: now,
            token,
        };
        match self.store().record_registration(&key, record).await {
            // Another registration (or a connection) won the race since the device was read.
            Err(StoreError::Stale) => Err(refused(
                "DeviceName",
                "the device registered or connected meanwhile; reset it (ResetThing) to let it register",
            )
            .into()),
            other => Ok(other?),
        }
    }

    /// Creates a device registered without pre-registration, within the product's quota.
    async fn create(
        &self,
        product: &Product,
        key: &DeviceKey,
        now: Millis,
        token: &ConnectionToken,
    ) -> CoreResult<()> {
        let name = rules::device_name(key.device_name.as_str())?;
        let device = Device::registered(
            IotId(ids::iot_id()),
            key.product_key.clone(),
            name.into(),
            ids::secret(),
            now,
        );
        let record = RegistrationRecord {
            method: RegistrationMethod::MqttNoPreregistration,
            at: now,
            token: Some(token),
        };
        let created = self
            .store()
            .create_registered_device(&device, record, product.regnwl_quota)
            .await?;
        if !created {
            return Err(DomainError::new(
                ErrorCode::QuotaExceeded,
                Some("ProductKey"),
                format!(
                    "the product holds its quota of {} devices registered without \
                     pre-registration",
                    product.regnwl_quota
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Whether `token` is the connection token of the enabled device `key` issued with
    /// `client_id` (compared as digests, in constant time).
    pub async fn check_connection_token(
        &self,
        key: &DeviceKey,
        client_id: &str,
        token: &str,
    ) -> CoreResult<bool> {
        let Some(stored) = self.store().connection_token(key).await? else {
            return Ok(false);
        };
        let digest = token_digest(token);
        let same = |a: &str, b: &str| {
            a.len() == b.len()
                && a.bytes()
                    .zip(b.bytes())
                    .fold(0u8, |acc, (x, y)| acc | (x ^ y))
                    == 0
        };
        Ok(same(&stored.token_sha256, &digest) && stored.client_id == client_id)
    }

    /// Turns dynamic registration on or off for a product and sets its `regnwl` quota.
    pub async fn set_dynamic_registration(
        &self,
        pk: &ota_domain::ProductKey,
        allowed: Option<bool>,
        regnwl_quota: Option<i64>,
    ) -> CoreResult<Product> {
        let mut product = self.product(pk).await?;
        if let Some(allowed) = allowed {
            product.dynamic_register = allowed;
        }
        if let Some(quota) = regnwl_quota {
            product.regnwl_quota = rules::regnwl_quota(quota)?;
        }
        product.modified_at = self.now();
        self.store().update_product(&product).await?;
        Ok(product)
    }
}
