//! Dynamic batches take devices as they report: a version report that matches an active
//! dynamic policy gives the device a task, within the same ingest group.

use crate::error::Found;
use crate::jobs::required_src;
use crate::{Core, CoreResult};
use ota_domain::job::Job;
use ota_domain::registry::ModuleVersion;
use ota_domain::{DeviceKey, JobId, ProductKey};
use ota_store::{TaskCreation, TaskTarget};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl Core {
    /// Dynamic batches: devices that reported a version matching an active policy get a
    /// task. When several packages' policies match, the newest batch wins.
    pub(crate) async fn offer_dynamic_jobs(&self, reports: &[ModuleVersion]) -> CoreResult<()> {
        let now = self.now();
        let mut by_job: BTreeMap<JobId, Vec<DeviceKey>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        // A group of reports comes mostly from one product and module: look their active
        // dynamic batches up once each, not once per report.
        let mut active: HashMap<(&ProductKey, &str), Vec<Job>> = HashMap::new();
        for report in reports {
            let jobs = match active.entry((&report.product_key, report.module_name.as_str())) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(
                    self.store()
                        .active_dynamic_jobs(&report.product_key, &report.module_name)
                        .await?,
                ),
            };
            let device = DeviceKey {
                product_key: report.product_key.clone(),
                device_name: report.device_name.clone(),
            };
            for job in jobs.iter() {
                let firmware = self
                    .inner
                    .cache
                    .firmware(self.store(), &job.firmware_id)
                    .await?;
                let wanted =
                    job.src_versions.is_empty() || job.src_versions.contains(&report.version);
                let diff_ok = required_src(&firmware).is_none_or(|src| src == report.version);
                if report.version != firmware.dest_version && wanted && diff_ok {
                    if seen.insert((device.clone(), report.module_name.clone())) {
                        by_job
                            .entry(job.job_id.clone())
                            .or_default()
                            .push(device.clone());
                    }
                    break;
                }
            }
        }
        for (job_id, devices) in by_job {
            let job = self
                .store()
                .get_job(&job_id)
                .await
                .found("JobId", format!("batch {job_id}"))?;
            let firmware = self
                .inner
                .cache
                .firmware(self.store(), &job.firmware_id)
                .await?;
            self.store()
                .create_tasks(&TaskCreation {
                    job: &job,
                    module_name: &firmware.module_name,
                    dest_version: &firmware.dest_version,
                    required_src_version: required_src(&firmware),
                    target: TaskTarget::Devices(&devices),
                    now,
                })
                .await?;
            self.wake_dispatcher();
        }
        Ok(())
    }
}
