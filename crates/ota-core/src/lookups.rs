//! Device-centred reads the operator faces need beyond the registry basics: resolving a
//! device from `IotId` or `ProductKey`+`DeviceName`, its batches, reported module versions,
//! unfinished tasks and connection status, plus the paging rule every list shares.

use crate::error::Found;
use crate::{CoreResult, Firmwares, Registry};
use ota_domain::job::Job;
use ota_domain::registry::{Device, ModuleVersion};
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, DomainError, FirmwareId, IotId, JobId, Millis, ProductKey};
use ota_store::{Page, TaskFilter};
use std::collections::{BTreeMap, BTreeSet};

/// Paging of the list operations: `CurrentPage` >= 1 and `PageSize` 1..=`max`. When not
/// `required`, absent values default to page 1 of 10.
pub fn paging(
    current: Option<i64>,
    size: Option<i64>,
    max: i64,
    required: bool,
) -> Result<Page, DomainError> {
    let current = match current {
        Some(c) => c,
        None if required => return Err(DomainError::invalid("CurrentPage", "is required")),
        None => 1,
    };
    let size = match size {
        Some(s) => s,
        None if required => return Err(DomainError::invalid("PageSize", "is required")),
        None => 10,
    };
    if current < 1 {
        return Err(DomainError::invalid("CurrentPage", "must be at least 1"));
    }
    if !(1..=max).contains(&size) {
        return Err(DomainError::invalid("PageSize", format!("must be 1-{max}")));
    }
    Ok(Page {
        offset: (current - 1).saturating_mul(size),
        limit: size,
    })
}

/// The connection status GetDeviceStatus / BatchGetDeviceState report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Online,
    Offline,
    /// Never connected (or reset since: `ResetThing`).
    Unactive,
    /// Disabled by an operator (`DisableThing`); whatever its connection did.
    Disable,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Online => "ONLINE",
            DeviceStatus::Offline => "OFFLINE",
            DeviceStatus::Unactive => "UNACTIVE",
            DeviceStatus::Disable => "DISABLE",
        }
    }
}

/// `TaskStatus` xor `TaskStatusList.N` of ListOTAUnfinishedTaskByDevice: unfinished
/// statuses only; none given means all four.
pub fn unfinished_statuses(
    single: Option<&str>,
    list: &[String],
) -> Result<Vec<TaskStatus>, DomainError> {
    const RULE: &str = "must be CONFIRM, QUEUED, NOTIFIED or IN_PROGRESS";
    let parse = |field: String, s: &str| {
        TaskStatus::parse(s)
            .filter(|st| !st.is_terminal())
            .ok_or_else(|| DomainError::invalid(field, RULE))
    };
    match (single, list.is_empty()) {
        (Some(_), false) => Err(DomainError::invalid(
            "TaskStatusList",
            "must not be given together with TaskStatus",
        )),
        (Some(s), true) => Ok(vec![parse("TaskStatus".to_owned(), s)?]),
        (None, false) => list
            .iter()
            .enumerate()
            .map(|(i, s)| parse(format!("TaskStatusList.{}", i + 1), s))
            .collect(),
        (None, true) => Ok(TaskStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect()),
    }
}

impl Registry<'_> {
    /// The device named by `IotId` (which wins) or by `ProductKey` + `DeviceName`.
    pub async fn resolve_device(
        &self,
        iot_id: Option<&str>,
        product_key: Option<&str>,
        device_name: Option<&str>,
    ) -> CoreResult<Device> {
        match (iot_id.filter(|s| !s.is_empty()), product_key, device_name) {
            (Some(id), _, _) => self.device_by_iot_id(&IotId(id.to_owned())).await,
            (None, Some(pk), Some(dn)) if !pk.is_empty() && !dn.is_empty() => {
                self.device(&DeviceKey::new(pk, dn)).await
            }
            (None, None, _) | (None, Some(""), _) => Err(DomainError::invalid(
                "ProductKey",
                "is required (with DeviceName) when IotId is not given",
            )
            .into()),
            _ => Err(DomainError::invalid(
                "DeviceName",
                "is required (with ProductKey) when IotId is not given",
            )
            .into()),
        }
    }

    /// The batches of one package that have a task for the device, newest first.
    pub async fn jobs_of_device(
        &self,
        key: &DeviceKey,
        firmware_id: &FirmwareId,
        page: Page,
    ) -> CoreResult<(Vec<Job>, i64)> {
        self.device(key).await?;
        self.firmwares().get(firmware_id).await?;
        let filter = TaskFilter {
            device: Some(key.clone()),
            firmware_id: Some(firmware_id.clone()),
            ..TaskFilter::default()
        };
        let (tasks, _) = self
            .jobs()
            .list_tasks(&filter, Page::new(0, 100_000))
            .await?;
        let ids: BTreeSet<JobId> = tasks.into_iter().map(|t| t.job_id).collect();
        let mut jobs = Vec::with_capacity(ids.len());
        for id in &ids {
            jobs.push(self.jobs().get(id).await?);
        }
        jobs.sort_by(|a, b| (b.created_at, &b.job_id).cmp(&(a.created_at, &a.job_id)));
        let total = jobs.len() as i64;
        let start = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let jobs = jobs
            .into_iter()
            .skip(start)
            .take(usize::try_from(page.limit).unwrap_or(0))
            .collect();
        Ok((jobs, total))
    }

    /// What the device reported over `/ota/device/inform`, by module.
    pub async fn device_module_versions(
        &self,
        key: &DeviceKey,
        page: Page,
    ) -> CoreResult<(Vec<ModuleVersion>, i64)> {
        Ok(self
            .store()
            .list_module_versions(&key.product_key, Some(&key.device_name), page)
            .await?)
    }

    /// The device's unfinished tasks, optionally of one module and in some statuses.
    pub async fn unfinished_tasks_of(
        &self,
        key: &DeviceKey,
        module: Option<&str>,
        statuses: Vec<TaskStatus>,
    ) -> CoreResult<Vec<Task>> {
        let filter = TaskFilter {
            device: Some(key.clone()),
            statuses,
            ..TaskFilter::default()
        };
        let (tasks, _) = self
            .jobs()
            .list_tasks(&filter, Page::new(0, 10_000))
            .await?;
        Ok(tasks
            .into_iter()
            .filter(|t| module.is_none_or(|m| m == t.module_name))
            .collect())
    }

    /// Whether the device is disabled or connected now, and when it was last seen.
    pub async fn device_status(
        &self,
        key: &DeviceKey,
    ) -> CoreResult<(DeviceStatus, Option<Millis>)> {
        let device = self.device(key).await?;
        let status = if device.disabled {
            DeviceStatus::Disable
        } else if self.link().is_online(key) {
            DeviceStatus::Online
        } else if device.last_online_at.is_some() || device.online {
            DeviceStatus::Offline
        } else {
            DeviceStatus::Unactive
        };
        Ok((status, device.last_online_at))
    }

    /// IotIds of the devices of `tasks` (devices deleted since have none).
    pub async fn iot_ids_of(&self, tasks: &[Task]) -> CoreResult<BTreeMap<DeviceKey, IotId>> {
        let mut out = BTreeMap::new();
        for task in tasks {
            let key = DeviceKey {
                product_key: task.product_key.clone(),
                device_name: task.device_name.clone(),
            };
            if out.contains_key(&key) {
                continue;
            }
            if let Some(device) = self.store().get_device(&key).await? {
                out.insert(key, device.iot_id);
            }
        }
        Ok(out)
    }

    /// Product names by key, for views that show `ProductName` beside `ProductKey`.
    pub async fn product_names(
        &self,
        keys: BTreeSet<ProductKey>,
    ) -> CoreResult<BTreeMap<ProductKey, String>> {
        let mut out = BTreeMap::new();
        for pk in keys {
            if let Some(p) = self.store().get_product(&pk).await? {
                out.insert(pk, p.product_name);
            }
        }
        Ok(out)
    }

    /// The number of devices of a product.
    pub async fn device_count(&self, pk: &ProductKey) -> CoreResult<i64> {
        Ok(self.store().count_devices(pk).await?)
    }

    /// A group's name, if the group still exists.
    pub async fn group_name(&self, id: &ota_domain::GroupId) -> CoreResult<Option<String>> {
        Ok(self.store().get_group(id).await?.map(|g| g.group_name))
    }

    /// A device looked up by IotId, `NotFound` naming `field`.
    pub async fn device_by_iot_id_in(&self, field: &str, id: &str) -> CoreResult<Device> {
        self.store()
            .get_device_by_iot_id(&IotId(id.to_owned()))
            .await
            .found(field, format!("device {id}"))
    }
}

impl Firmwares<'_> {
    /// A package that must belong to `product_key` (ModifyOTAFirmware names both).
    pub async fn firmware_of_product(
        &self,
        id: &FirmwareId,
        product_key: &ProductKey,
    ) -> CoreResult<ota_domain::firmware::Firmware> {
        let firmware = self.get(id).await?;
        if &firmware.product_key != product_key {
            return Err(DomainError::invalid("ProductKey", "is not the package's product").into());
        }
        Ok(firmware)
    }
}
