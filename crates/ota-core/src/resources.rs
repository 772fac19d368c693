//! Which resources a request touches, as RAM ARNs, for policy checks.
//!
//! A request names objects by whatever id its face uses; a product-scoped policy needs the
//! product each belongs to. Ids that do not exist are skipped: the call itself then answers
//! "not found" (or is refused, when nothing it names is left in scope).

use crate::{CoreResult, Teams};
use ota_domain::access::{group_arn, product_arn};
use ota_domain::{FirmwareId, IotId, JobId, RolloutId, TaskId};

/// Task ids looked up per request at most (the calls that take task ids take fewer).
const MAX_TASKS_NAMED: usize = 1000;

/// The ids a request names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedResources {
    pub product_keys: Vec<String>,
    pub firmware_ids: Vec<String>,
    pub job_ids: Vec<String>,
    pub rollout_ids: Vec<String>,
    pub group_ids: Vec<String>,
    pub iot_ids: Vec<String>,
    pub task_ids: Vec<String>,
}

impl NamedResources {
    pub fn is_empty(&self) -> bool {
        self.product_keys.is_empty()
            && self.firmware_ids.is_empty()
            && self.job_ids.is_empty()
            && self.rollout_ids.is_empty()
            && self.group_ids.is_empty()
            && self.iot_ids.is_empty()
            && self.task_ids.is_empty()
    }

    /// Every id named, for the audit log.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = [
            &self.product_keys,
            &self.firmware_ids,
            &self.job_ids,
            &self.rollout_ids,
            &self.group_ids,
            &self.iot_ids,
            &self.task_ids,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

impl Teams<'_> {
    /// The ARNs of what `named` names: each product, the product of each package, batch
    /// rollout and device, and each group. A policy must cover every one of them.
    pub async fn arns_of(&self, named: &NamedResources) -> CoreResult<Vec<String>> {
        let mut products: Vec<String> = named.product_keys.clone();
        let mut arns = Vec::new();
        for id in &named.firmware_ids {
            if let Some(fw) = self
                .store()
                .get_firmware(&FirmwareId::from(id.as_str()))
                .await?
            {
                products.push(fw.product_key.to_string());
            }
        }
        for id in &named.job_ids {
            if let Some(job) = self.store().get_job(&JobId::from(id.as_str())).await? {
                products.push(job.product_key.to_string());
            }
        }
        for id in &named.rollout_ids {
            if let Some(r) = self
                .store()
                .get_rollout(&RolloutId::from(id.as_str()))
                .await?
            {
                products.push(r.product_key.to_string());
            }
        }
        for id in &named.iot_ids {
            if let Some(device) = self
                .store()
                .get_device_by_iot_id(&IotId::from(id.as_str()))
                .await?
            {
                products.push(device.product_key.to_string());
            }
        }
        if !named.task_ids.is_empty() {
            let ids: Vec<TaskId> = named
                .task_ids
                .iter()
                .take(MAX_TASKS_NAMED)
                .map(|id| TaskId::from(id.as_str()))
                .collect();
            for task in self.store().tasks_by_ids(&ids).await? {
                products.push(task.product_key.to_string());
            }
        }
        arns.extend(named.group_ids.iter().map(|id| group_arn(id)));
        products.sort();
        products.dedup();
        arns.extend(products.iter().map(|pk| product_arn(pk)));
        arns.sort();
        arns.dedup();
        Ok(arns)
    }
}
