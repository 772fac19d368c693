//! Batch device registration by application: BatchCheckDeviceNames (or BatchRegisterDevice
//! with a count) files an application under an `ApplyId`, BatchRegisterDeviceWithApplyId
//! registers it, QueryBatchRegisterDeviceStatus and QueryPageByApplyId read it back.
//! Applications are small JSON records in the store's key-value table.

use crate::{CoreResult, Registry};
use ota_domain::registry::Device;
use ota_domain::validate::registry as rules;
use ota_domain::{DeviceKey, DomainError, ErrorCode, ProductKey};
use ota_store::Page;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Most devices per application.
pub const MAX_APPLICATION_DEVICES: usize = 10_000;

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplicationStatus {
    /// The names passed the checks; nothing is registered yet.
    CheckSuccess,
    /// Every device is registered.
    CreateSuccess,
}

impl ApplicationStatus {
    /// The literal QueryBatchRegisterDeviceStatus reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationStatus::CheckSuccess => "CHECK_SUCCESS",
            ApplicationStatus::CreateSuccess => "CREATE_SUCCESS",
        }
    }
}

/// A batch registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub apply_id: i64,
    pub product_key: ProductKey,
    pub names: Vec<String>,
    pub status: ApplicationStatus,
}

fn kv_name(apply_id: i64) -> String {
    format!("apply:{apply_id}")
}

impl Registry<'_> {
    /// BatchCheckDeviceNames: validates new names of one product and files them.
    pub async fn check_device_names(
        &self,
        pk: &ProductKey,
        names: Vec<String>,
    ) -> CoreResult<Application> {
        self.product(pk).await?;
        if names.is_empty() || names.len() > MAX_APPLICATION_DEVICES {
            return Err(DomainError::invalid(
                "DeviceName",
                format!("must list 1-{MAX_APPLICATION_DEVICES} names"),
            )
            .into());
        }
        let mut seen = BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            let field = format!("DeviceName.{}", i + 1);
            rules::device_name(name).map_err(|mut e| {
                e.field = Some(field.clone());
                e
            })?;
            if !seen.insert(name.to_ascii_lowercase()) {
                return Err(DomainError::invalid(field, "appears more than once").into());
            }
            if self
                .store()
                .get_device(&DeviceKey::new(pk.clone(), name.as_str()))
                .await?
                .is_some()
            {
                return Err(DomainError::new(
                    ErrorCode::AlreadyExists,
                    Some(&field),
                    format!("device {name} is already registered"),
                )
                .into());
            }
        }
        self.file_application(pk, names, ApplicationStatus::CheckSuccess)
            .await
    }

    /// BatchRegisterDeviceWithApplyId: registers a checked application.
    pub async fn register_application(
        &self,
        pk: &ProductKey,
        apply_id: i64,
    ) -> CoreResult<Application> {
        let mut app = self.application(apply_id).await?;
        if &app.product_key != pk {
            return Err(
                DomainError::invalid("ProductKey", "is not the application's product").into(),
            );
        }
        if app.status != ApplicationStatus::CheckSuccess {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("ApplyId"),
                "the application is already registered",
            )
            .into());
        }
        let names: Vec<Option<String>> = app.names.iter().cloned().map(Some).collect();
        self.register_devices(pk, &names).await?;
        app.status = ApplicationStatus::CreateSuccess;
        self.save_application(&app).await?;
        Ok(app)
    }

    /// BatchRegisterDevice: registers `count` devices with generated names.
    pub async fn register_generated(&self, pk: &ProductKey, count: i64) -> CoreResult<Application> {
        let count = usize::try_from(count)
            .ok()
            .filter(|c| (1..=MAX_APPLICATION_DEVICES).contains(c))
            .ok_or_else(|| {
                DomainError::invalid("Count", format!("must be 1-{MAX_APPLICATION_DEVICES}"))
            })?;
        let devices = self.register_devices(pk, &vec![None; count]).await?;
        let names = devices
            .into_iter()
            .map(|d| d.device_name.0)
            .collect::<Vec<_>>();
        self.file_application(pk, names, ApplicationStatus::CreateSuccess)
            .await
    }

    /// An application by id.
    pub async fn application(&self, apply_id: i64) -> CoreResult<Application> {
        let text = self.store().kv_get(&kv_name(apply_id)).await?;
        text.and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| {
                DomainError::not_found("ApplyId", format!("application {apply_id} does not exist"))
                    .into()
            })
    }

    /// The registered devices of an application, in application order.
    pub async fn application_devices(
        &self,
        apply_id: i64,
        page: Page,
    ) -> CoreResult<(Vec<Device>, i64)> {
        let app = self.application(apply_id).await?;
        let mut devices = Vec::new();
        if app.status == ApplicationStatus::CreateSuccess {
            let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
            let take = usize::try_from(page.limit).unwrap_or(0);
            for name in app.names.iter().skip(start).take(take) {
                let key = DeviceKey::new(app.product_key.clone(), name.as_str());
                if let Some(d) = self.store().get_device(&key).await? {
                    devices.push(d);
                }
            }
        }
        Ok((devices, app.names.len() as i64))
    }

    async fn file_application(
        &self,
        pk: &ProductKey,
        names: Vec<String>,
        status: ApplicationStatus,
    ) -> CoreResult<Application> {
        let app = Application {
            apply_id: i64::from(rand::random::<u32>() >> 1) + 1,
            product_key: pk.clone(),
            names,
            status,
        };
        self.save_application(&app).await?;
        Ok(app)
    }

    async fn save_application(&self, app: &Application) -> CoreResult<()> {
        let text = serde_json::to_string(app).unwrap_or_default();
        Ok(self.store().kv_set(&kv_name(app.apply_id), &text).await?)
    }
}
