//! Operator commands addressed the way the Aliyun API addresses them: tasks by device and
//! package (CancelOTATaskByDevice), by batch and id (ReupgradeOTATask), by id list
//! (ConfirmOTATask); a dynamic batch's source versions (UpdateOTAJob's SrcVersionList);
//! group members by product and name (BatchAddDeviceGroupRelations).

use crate::{CoreResult, Tasks};
use ota_domain::job::{Job, SelectionType, TargetSelection};
use ota_domain::registry::GroupKind;
use ota_domain::task::{Task, TaskStatus};
use ota_domain::validate;
use ota_domain::{
    DeviceKey, DeviceName, DomainError, ErrorCode, FirmwareId, GroupId, JobId, ProductKey, TaskId,
};
use ota_store::{Page, TaskFilter};
use std::collections::BTreeSet;

/// `{field}.N` ids: 1..=`max`, none empty, no duplicates.
pub fn id_list(field: &str, values: Vec<String>, max: usize) -> Result<Vec<String>, DomainError> {
    if values.is_empty() {
        return Err(DomainError::invalid(
            field,
            format!("is required: 1-{max} values"),
        ));
    }
    if values.len() > max {
        return Err(DomainError::invalid(
            field,
            format!("must have at most {max} values"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            return Err(DomainError::invalid(
                format!("{field}.{}", i + 1),
                "must not be empty",
            ));
        }
        if !seen.insert(v.as_str()) {
            return Err(DomainError::invalid(
                format!("{field}.{}", i + 1),
                "must be unique",
            ));
        }
    }
    Ok(values)
}

fn task_ids(values: Vec<String>, max: usize) -> Result<Vec<TaskId>, DomainError> {
    Ok(id_list("TaskId", values, max)?
        .into_iter()
        .map(TaskId)
        .collect())
}

/// What BatchAddDeviceGroupRelations did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupRelations {
    /// Devices that exist.
    pub valid: i64,
    /// Devices that were members already.
    pub already_related: i64,
    pub added: i64,
}

impl Tasks<'_> {
    /// ConfirmOTATask: 1-10 task ids.
    pub async fn confirm_task_ids(&self, ids: Vec<String>) -> CoreResult<Vec<Task>> {
        self.confirm_tasks(&task_ids(ids, 10)?).await
    }

    /// ReupgradeOTATask: 1-10 tasks, all of batch `job_id`.
    pub async fn reupgrade_job_tasks(
        &self,
        job_id: &JobId,
        ids: Vec<String>,
    ) -> CoreResult<Vec<Task>> {
        let ids = task_ids(ids, 10)?;
        self.jobs().get(job_id).await?;
        for task in self.store().tasks_by_ids(&ids).await? {
            if &task.job_id != job_id {
                return Err(DomainError::invalid(
                    "TaskId",
                    format!("task {} does not belong to batch {job_id}", task.task_id),
                )
                .into());
            }
        }
        self.reupgrade_tasks(&ids).await
    }

    /// CancelOTATaskByDevice: cancels the unfinished tasks of package `firmware_id` (and of
    /// batch `job_id` when given) on 1-200 named devices of the package's product.
    pub async fn cancel_device_tasks(
        &self,
        product_key: &ProductKey,
        firmware_id: &FirmwareId,
        device_names: Vec<String>,
        job_id: Option<&JobId>,
    ) -> CoreResult<Vec<Task>> {
        let names = id_list("DeviceName", device_names, 200)?;
        let firmware = self.firmwares().get(firmware_id).await?;
        if &firmware.product_key != product_key {
            return Err(DomainError::invalid("ProductKey", "is not the package's product").into());
        }
        if let Some(job) = job_id
            && self.jobs().get(job).await?.firmware_id != *firmware_id
        {
            return Err(DomainError::invalid("JobId", "is not a batch of this package").into());
        }
        let filter = TaskFilter {
            job_id: job_id.cloned(),
            firmware_id: Some(firmware_id.clone()),
            device_names: names,
            statuses: TaskStatus::ALL
                .into_iter()
                .filter(|s| !s.is_terminal())
                .collect(),
            ..TaskFilter::default()
        };
        let (tasks, _) = self
            .jobs()
            .list_tasks(&filter, Page::new(0, 10_000))
            .await?;
        let ids: Vec<TaskId> = tasks
            .into_iter()
            .filter(|t| &t.product_key == product_key)
            .map(|t| t.task_id)
            .collect();
        if ids.is_empty() {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("DeviceName"),
                "none of the devices has an unfinished task of this package",
            )
            .into());
        }
        self.cancel_tasks(&ids).await
    }

    /// UpdateOTAJob's `SrcVersionList.N`: the versions a dynamic, version-targeted batch
    /// picks devices by, for reports from now on.
    pub async fn set_dynamic_src_versions(
        &self,
        job_id: &JobId,
        versions: Vec<String>,
    ) -> CoreResult<Job> {
        let mut job = self.jobs().get(job_id).await?;
        if job.selection_type != SelectionType::Dynamic
            || !matches!(job.target_selection, TargetSelection::All)
        {
            return Err(DomainError::invalid(
                "SrcVersionList",
                "is only allowed for a dynamic batch that targets source versions",
            )
            .into());
        }
        if job.status.is_terminal() {
            return Err(DomainError::new(
                ErrorCode::InvalidState,
                Some("JobId"),
                "the batch has finished",
            )
            .into());
        }
        let firmware = self.firmwares().get(&job.firmware_id).await?;
        let versions = validate::src_versions(versions, &firmware).map_err(|mut e| {
            e.field = e
                .field
                .map(|f| f.replacen("SrcVersion", "SrcVersionList", 1));
            e
        })?;
        if versions.is_empty() {
            return Err(DomainError::invalid("SrcVersionList", "must list 1-10 versions").into());
        }
        job.src_versions = versions;
        job.modified_at = self.now();
        self.store().update_job(&job).await?;
        self.inner.cache.evict_job(job_id);
        Ok(job)
    }

    /// BatchAddDeviceGroupRelations: adds `(ProductKey, DeviceName)` pairs to a static
    /// group. A group takes its members from one product; a group without a product adopts
    /// the product of the first devices added.
    pub async fn relate_group_devices(
        &self,
        group_id: &GroupId,
        devices: Vec<(Option<String>, Option<String>)>,
    ) -> CoreResult<GroupRelations> {
        if devices.is_empty() || devices.len() > 1000 {
            return Err(DomainError::invalid("Device", "must list 1-1000 devices").into());
        }
        let mut product: Option<ProductKey> = None;
        let mut names = Vec::with_capacity(devices.len());
        for (i, (pk, dn)) in devices.into_iter().enumerate() {
            let field = |sub: &str| format!("Device.{}.{sub}", i + 1);
            let pk = pk
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DomainError::invalid(field("ProductKey"), "is required"))?;
            let dn = dn
                .filter(|s| !s.is_empty())
                .ok_or_else(|| DomainError::invalid(field("DeviceName"), "is required"))?;
            match &product {
                Some(p) if p.as_str() != pk => {
                    return Err(DomainError::invalid(
                        field("ProductKey"),
                        "all devices of one call must be of one product",
                    )
                    .into());
                }
                _ => product = Some(ProductKey(pk)),
            }
            names.push(DeviceName(dn));
        }
        let pk = product.unwrap_or_else(|| ProductKey(String::new()));
        let group = self.registry().group(group_id).await?;
        if matches!(group.kind, GroupKind::Dynamic { .. }) {
            return self
                .registry()
                .add_group_members(group_id, &names)
                .await
                .map(|_| GroupRelations::default());
        }
        match &group.product_key {
            Some(p) if p != &pk => {
                return Err(DomainError::invalid(
                    "Device.1.ProductKey",
                    format!("the group holds devices of product {p} only"),
                )
                .into());
            }
            Some(_) => {}
            None => {
                self.registry().product(&pk).await?;
                self.store().adopt_group_product(group_id, &pk).await?;
            }
        }
        let mut valid = 0;
        for name in &names {
            if self
                .store()
                .get_device(&DeviceKey::new(pk.clone(), name.clone()))
                .await?
                .is_some()
            {
                valid += 1;
            }
        }
        let added = self.registry().add_group_members(group_id, &names).await?;
        Ok(GroupRelations {
            valid,
            already_related: valid - added,
            added,
        })
    }
}
