//! The device registry: products, devices, groups and OTA modules.

use crate::identity::{IdentityState, RegistrationMethod};
use crate::{DeviceName, GroupId, IotId, Millis, ProductKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A product: a kind of device sharing firmware and modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub product_key: ProductKey,
    pub product_name: String,
    pub product_secret: String,
    pub description: Option<String>,
    /// Whether its devices may obtain their credentials by dynamic registration with the
    /// ProductSecret (off until an operator allows it).
    #[serde(default)]
    pub dynamic_register: bool,
    /// How many devices registration without pre-registration (`regnwl`) may create.
    #[serde(default = "default_regnwl_quota")]
    pub regnwl_quota: i64,
    /// Whether a device presenting a certificate from one of the product's CAs is created on
    /// its first connect when it does not exist (off until an operator allows it).
    #[serde(default)]
    pub certificate_auto_create: bool,
    pub created_at: Millis,
    pub modified_at: Millis,
}

/// The number of devices `regnwl` may create in a product unless an operator says otherwise.
pub const DEFAULT_REGNWL_QUOTA: i64 = 1000;

fn default_regnwl_quota() -> i64 {
    DEFAULT_REGNWL_QUOTA
}

/// How a device last obtained its credentials by dynamic registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub method: RegistrationMethod,
    pub registered_at: Millis,
    /// The MQTT client id issued with a connection token (`regnwl` only).
    pub client_id: Option<String>,
}

/// A registered device. `versions` holds what the device last reported per module over
/// `/ota/device/inform`; `online` is the last known presence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub iot_id: IotId,
    pub product_key: ProductKey,
    pub device_name: DeviceName,
    pub device_secret: String,
    pub nickname: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub online: bool,
    pub last_online_at: Option<Millis>,
    /// Disabled by an operator: refused at CONNECT.
    #[serde(default)]
    pub disabled: bool,
    /// Its dynamic registration since its last reset, if any.
    #[serde(default)]
    pub registration: Option<Registration>,
    pub created_at: Millis,
    pub modified_at: Millis,
}

impl Device {
    /// A device just registered, with the identifiers and secret made for it: no tags, never
    /// connected, enabled.
    pub fn registered(
        iot_id: IotId,
        product_key: ProductKey,
        device_name: DeviceName,
        device_secret: String,
        now: Millis,
    ) -> Device {
        Device {
            iot_id,
            product_key,
            device_name,
            device_secret,
            nickname: None,
            tags: BTreeMap::new(),
            online: false,
            last_online_at: None,
            disabled: false,
            registration: None,
            created_at: now,
            modified_at: now,
        }
    }

    /// What the identity rules ([`IdentityState::apply`]) look at.
    pub fn identity(&self) -> IdentityState {
        IdentityState {
            enabled: !self.disabled,
            registered: self.registration.is_some(),
            activated: self.online || self.last_online_at.is_some(),
        }
    }
}

/// The version a device reported for one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleVersion {
    pub product_key: ProductKey,
    pub device_name: DeviceName,
    pub module_name: String,
    pub version: String,
    pub reported_at: Millis,
    /// The delta patch format versions the device said it can apply (empty: none).
    #[serde(default)]
    pub delta_formats: Vec<u8>,
    /// The most working memory, in bytes, the device said it can give to applying a patch
    /// (`deltaMemory`; `None`: it set no limit).
    #[serde(default)]
    pub delta_memory: Option<u64>,
}

/// Static groups hold an explicit member list; dynamic groups hold a filter that is
/// re-evaluated as devices report, so membership stays current without operator action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupKind {
    Static,
    Dynamic { filter: DeviceFilter },
}

/// A device group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub group_id: GroupId,
    pub group_name: String,
    pub product_key: Option<ProductKey>,
    pub description: Option<String>,
    pub kind: GroupKind,
    pub created_at: Millis,
}

/// A filter over device attributes for dynamic groups and dynamic batches. All present
/// clauses must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceFilter {
    pub product_key: Option<ProductKey>,
    /// Device name prefix.
    pub name_prefix: Option<String>,
    /// Tags that must be present with exactly these values.
    pub tags: BTreeMap<String, String>,
    /// (module, versions): the device's reported version of `module` must be one of these.
    pub module_versions: Vec<(String, Vec<String>)>,
}

impl DeviceFilter {
    /// Whether a device with these attributes matches the filter.
    pub fn matches(&self, device: &Device, reported: &BTreeMap<String, String>) -> bool {
        if let Some(pk) = &self.product_key
            && pk != &device.product_key
        {
            return false;
        }
        if let Some(prefix) = &self.name_prefix
            && !device.device_name.as_str().starts_with(prefix.as_str())
        {
            return false;
        }
        if !self.tags.iter().all(|(k, v)| device.tags.get(k) == Some(v)) {
            return false;
        }
        self.module_versions.iter().all(|(module, versions)| {
            reported
                .get(module)
                .is_some_and(|v| versions.iter().any(|want| want == v))
        })
    }
}

/// An OTA module of a product (`default` = whole-device firmware, always present).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtaModule {
    pub product_key: ProductKey,
    pub module_name: String,
    pub alias_name: Option<String>,
    pub description: Option<String>,
    pub created_at: Millis,
    pub modified_at: Millis,
}

/// The name of the module that always exists.
pub const DEFAULT_MODULE: &str = "default";
