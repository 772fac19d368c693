//! Read-through caches of jobs and packages for the hot path. The store stays the truth:
//! every service that changes a job or package evicts it here in the same call.

use crate::CoreResult;
use crate::error::Found;
use ota_domain::firmware::Firmware;
use ota_domain::job::Job;
use ota_domain::{FirmwareId, JobId};
use ota_store::Store;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub(crate) struct Cache {
    jobs: RwLock<HashMap<JobId, Arc<Job>>>,
    firmwares: RwLock<HashMap<FirmwareId, Arc<Firmware>>>,
}

impl Cache {
    pub async fn job(&self, store: &Store, id: &JobId) -> CoreResult<Arc<Job>> {
        if let Some(job) = self.jobs.read().unwrap_or_else(|e| e.into_inner()).get(id) {
            return Ok(job.clone());
        }
        let job = Arc::new(
            store
                .get_job(id)
                .await
                .found("JobId", format!("batch {id}"))?,
        );
        self.jobs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), job.clone());
        Ok(job)
    }

    pub async fn firmware(&self, store: &Store, id: &FirmwareId) -> CoreResult<Arc<Firmware>> {
        if let Some(fw) = self
            .firmwares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(fw.clone());
        }
        let fw = Arc::new(
            store
                .get_firmware(id)
                .await
                .found("FirmwareId", format!("package {id}"))?,
        );
        self.firmwares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), fw.clone());
        Ok(fw)
    }

    pub fn evict_job(&self, id: &JobId) {
        self.jobs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    pub fn evict_firmware(&self, id: &FirmwareId) {
        self.firmwares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}
