//! Registry use cases: products, devices, groups and OTA modules.

use crate::error::Found;
use crate::{CoreResult, Registry, ids};
use ota_domain::registry::{
    DEFAULT_MODULE, Device, DeviceFilter, Group, GroupKind, ModuleVersion, OtaModule, Product,
};
use ota_domain::validate::{self, registry as rules};
use ota_domain::{DeviceKey, DeviceName, DomainError, ErrorCode, GroupId, IotId, ProductKey};
use ota_store::Page;
use std::collections::BTreeMap;

/// A device with what it reported, for detail views.
#[derive(Debug, Clone)]
pub struct DeviceDetail {
    pub device: Device,
    pub versions: Vec<ModuleVersion>,
}

impl Registry<'_> {
    /// Registers a product with a generated ProductKey and secret, and its `default` module.
    pub async fn create_product(
        &self,
        name: &str,
        description: Option<String>,
    ) -> CoreResult<Product> {
        let name = rules::product_name(name)?;
        let description = rules::optional_description("Description", description)?;
        let now = self.now();
        let product = Product {
            product_key: ProductKey(ids::product_key()),
            product_name: name,
            product_secret: ids::secret(),
            description,
            dynamic_register: false,
            regnwl_quota: ota_domain::registry::DEFAULT_REGNWL_QUOTA,
            certificate_auto_create: false,
            created_at: now,
            modified_at: now,
        };
        let store = self.store();
        store.insert_product(&product).await?;
        store
            .insert_module(&OtaModule {
                product_key: product.product_key.clone(),
                module_name: DEFAULT_MODULE.to_owned(),
                alias_name: None,
                description: Some("Whole-device firmware".to_owned()),
                created_at: now,
                modified_at: now,
            })
            .await?;
        Ok(product)
    }

    pub async fn product(&self, pk: &ProductKey) -> CoreResult<Product> {
        self.store()
            .get_product(pk)
            .await
            .found("ProductKey", format!("product {pk}"))
    }

    pub async fn list_products(&self, page: Page) -> CoreResult<(Vec<Product>, i64)> {
        Ok(self.store().list_products(page).await?)
    }

    pub async fn update_product(
        &self,
        pk: &ProductKey,
        name: Option<&str>,
        description: Option<String>,
    ) -> CoreResult<Product> {
        let mut product = self.product(pk).await?;
        if let Some(name) = name {
            product.product_name = rules::product_name(name)?;
        }
        if description.is_some() {
            product.description = rules::optional_description("Description", description)?;
        }
        product.modified_at = self.now();
        self.store().update_product(&product).await?;
        Ok(product)
    }

    pub async fn delete_product(&self, pk: &ProductKey) -> CoreResult<()> {
        Ok(self.store().delete_product(pk).await?)
    }

    /// Registers devices of one product. Names are validated and must be new; a missing
    /// name is generated. All or nothing.
    pub async fn register_devices(
        &self,
        pk: &ProductKey,
        names: &[Option<String>],
    ) -> CoreResult<Vec<Device>> {
        self.product(pk).await?;
        let now = self.now();
        let mut devices = Vec::with_capacity(names.len());
        let mut seen = std::collections::HashSet::new();
        for (i, name) in names.iter().enumerate() {
            let name = match name {
                Some(n) => rules::device_name(n).map_err(|e| at_index(e, "DeviceName", i))?,
                None => ids::iot_id(),
            };
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(DomainError::invalid(
                    format!("DeviceName.{}", i + 1),
                    format!("{name:?} appears more than once"),
                )
                .into());
            }
            devices.push(Device::registered(
                IotId(ids::iot_id()),
                pk.clone(),
                DeviceName(name),
                ids::secret(),
                now,
            ));
        }
        self.store().insert_devices(&devices).await?;
        Ok(devices)
    }

    pub async fn device(&self, key: &DeviceKey) -> CoreResult<Device> {
        self.store()
            .get_device(key)
            .await
            .found("DeviceName", format!("device {key}"))
    }

    pub async fn device_by_iot_id(&self, iot_id: &IotId) -> CoreResult<Device> {
        self.store()
            .get_device_by_iot_id(iot_id)
            .await
            .found("IotId", format!("device {iot_id}"))
    }

    /// A device with its reported module versions.
    pub async fn device_detail(&self, key: &DeviceKey) -> CoreResult<DeviceDetail> {
        let device = self.device(key).await?;
        let versions = self.store().module_versions(key).await?;
        Ok(DeviceDetail { device, versions })
    }

    pub async fn list_devices(
        &self,
        pk: Option<&ProductKey>,
        name_prefix: Option<&str>,
        page: Page,
    ) -> CoreResult<(Vec<Device>, i64)> {
        Ok(self.store().list_devices(pk, name_prefix, page).await?)
    }

    /// A product's devices after its device `after`, in registration order (keyset paging).
    pub async fn list_devices_after(
        &self,
        pk: &ProductKey,
        name_prefix: Option<&str>,
        after: &str,
        limit: i64,
    ) -> CoreResult<(Vec<Device>, i64)> {
        Ok(self
            .store()
            .list_devices_after(pk, name_prefix, after, limit)
            .await?)
    }

    pub async fn delete_device(&self, key: &DeviceKey) -> CoreResult<()> {
        Ok(self.store().delete_device(key).await?)
    }

    pub async fn set_device_tags(
        &self,
        key: &DeviceKey,
        tags: BTreeMap<String, String>,
    ) -> CoreResult<()> {
        for (k, v) in &tags {
            rules::device_tag(k, v)?;
        }
        Ok(self.store().set_device_tags(key, &tags).await?)
    }

    /// The secret a device authenticates with at CONNECT (hot path: one indexed read).
    pub async fn device_secret(&self, key: &DeviceKey) -> CoreResult<Option<String>> {
        Ok(self.store().device_secret(key).await?)
    }

    /// Creates a static group, or a dynamic one when `filter` is given.
    pub async fn create_group(
        &self,
        name: &str,
        pk: Option<ProductKey>,
        description: Option<String>,
        filter: Option<DeviceFilter>,
    ) -> CoreResult<Group> {
        let name = rules::group_name(name)?;
        let description = rules::optional_description("GroupDesc", description)?;
        let group = Group {
            group_id: GroupId(ids::group_id()),
            group_name: name,
            product_key: pk,
            description,
            kind: filter.map_or(GroupKind::Static, |filter| GroupKind::Dynamic { filter }),
            created_at: self.now(),
        };
        self.store().insert_group(&group).await?;
        Ok(group)
    }

    pub async fn group(&self, id: &GroupId) -> CoreResult<Group> {
        self.store()
            .get_group(id)
            .await
            .found("GroupId", format!("group {id}"))
    }

    pub async fn list_groups(
        &self,
        pk: Option<&ProductKey>,
        page: Page,
    ) -> CoreResult<(Vec<Group>, i64)> {
        Ok(self.store().list_groups(pk, page).await?)
    }

    pub async fn delete_group(&self, id: &GroupId) -> CoreResult<()> {
        Ok(self.store().delete_group(id).await?)
    }

    /// Adds named devices of the group's product to a static group.
    pub async fn add_group_members(&self, id: &GroupId, names: &[DeviceName]) -> CoreResult<i64> {
        let group = self.group(id).await?;
        if matches!(group.kind, GroupKind::Dynamic { .. }) {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("GroupId"),
                "members of a dynamic group follow its filter and cannot be added by hand",
            )
            .into());
        }
        Ok(self.store().add_group_members(id, names).await?)
    }

    pub async fn group_members(&self, id: &GroupId, page: Page) -> CoreResult<(Vec<Device>, i64)> {
        Ok(self.store().list_group_members(id, page).await?)
    }

    /// Adds an OTA module to a product (names are unique per product, ignoring case).
    pub async fn create_module(
        &self,
        pk: &ProductKey,
        name: &str,
        alias: Option<String>,
        description: Option<String>,
    ) -> CoreResult<OtaModule> {
        self.product(pk).await?;
        let now = self.now();
        let module = OtaModule {
            product_key: pk.clone(),
            module_name: validate::ModuleName::parse(name)?.into_string(),
            alias_name: validate::alias_name(alias)?,
            description: validate::module_desc(description)?,
            created_at: now,
            modified_at: now,
        };
        self.store().insert_module(&module).await?;
        Ok(module)
    }

    pub async fn update_module(
        &self,
        pk: &ProductKey,
        name: &str,
        alias: Option<String>,
        description: Option<String>,
    ) -> CoreResult<OtaModule> {
        let mut module = self
            .store()
            .get_module(pk, name)
            .await
            .found("ModuleName", format!("module {name}"))?;
        if alias.is_some() {
            module.alias_name = validate::alias_name(alias)?;
        }
        if description.is_some() {
            module.description = validate::module_desc(description)?;
        }
        module.modified_at = self.now();
        self.store().update_module(&module).await?;
        Ok(module)
    }

    pub async fn delete_module(&self, pk: &ProductKey, name: &str) -> CoreResult<()> {
        if name.eq_ignore_ascii_case(DEFAULT_MODULE) {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("ModuleName"),
                "the default module cannot be deleted",
            )
            .into());
        }
        Ok(self.store().delete_module(pk, name).await?)
    }

    pub async fn list_modules(&self, pk: &ProductKey) -> CoreResult<Vec<OtaModule>> {
        Ok(self.store().list_modules(pk).await?)
    }

    /// How many devices of a product run each version of a module.
    pub async fn version_distribution(
        &self,
        pk: &ProductKey,
        module: &str,
    ) -> CoreResult<Vec<(String, i64)>> {
        Ok(self.store().version_distribution(pk, module).await?)
    }
}

/// Renames an error's field to its 1-based repeated-parameter form (`DeviceName.3`).
fn at_index(mut err: DomainError, field: &str, index: usize) -> DomainError {
    err.field = Some(format!("{field}.{}", index + 1));
    err
}
