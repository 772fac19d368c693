//! A wave's batch: created with the rollout's policy and the wave's devices (drawn by the
//! batch creator like any other batch's, set-based and resumable), and counted for the
//! rollout's conditions.

use crate::jobs::required_src;
use crate::{CoreResult, Rollouts};
use ota_domain::firmware::Firmware;
use ota_domain::job::{
    Creation, Job, JobControl, JobPolicy, JobStatus, JobType, SelectionType, TargetSelection,
};
use ota_domain::rollout::{Rollout, WaveCounts, WaveTarget};
use ota_domain::task::TaskStatus;
use ota_domain::{JobId, Millis, RolloutId};
use ota_store::{TaskCreation, TaskTarget};

/// A batch of the package over every eligible device, never stored: what the eligible
/// devices are counted with when a rollout is created.
pub(super) fn probe_job(
    id: &RolloutId,
    firmware: &Firmware,
    src_versions: &[String],
    now: Millis,
) -> Job {
    static_batch(JobId(format!("{id}00")), firmware, src_versions, now)
}

/// A running static upgrade batch of the package with the default policy and no tasks
/// yet: what a wave's batch and the eligibility probe start from.
fn static_batch(job_id: JobId, firmware: &Firmware, src_versions: &[String], now: Millis) -> Job {
    Job {
        job_id,
        firmware_id: firmware.firmware_id.clone(),
        product_key: firmware.product_key.clone(),
        job_type: JobType::UpgradeFirmware,
        selection_type: SelectionType::Static,
        target_selection: TargetSelection::All,
        src_versions: src_versions.to_vec(),
        policy: JobPolicy::default(),
        tags: Default::default(),
        name: None,
        description: None,
        status: JobStatus::InProgress,
        created_at: now,
        modified_at: now,
        started_at: Some(now),
        finished_at: None,
        control: JobControl::default(),
        creation: None,
        wave: None,
    }
}

impl Rollouts<'_> {
    /// Devices eligible for the package (its version rules and `probe`'s source versions).
    pub(super) async fn eligible(&self, probe: &Job, firmware: &Firmware) -> CoreResult<u64> {
        let spec = TaskCreation {
            job: probe,
            module_name: &firmware.module_name,
            dest_version: &firmware.dest_version,
            required_src_version: required_src(firmware),
            target: TaskTarget::All,
            now: self.now(),
        };
        Ok(self.store().count_eligible(&spec).await?)
    }

    /// Creates the batch of wave `index` unless it exists already (a creation interrupted
    /// after the batch was stored). Its tasks are created by the batch creator.
    pub(super) async fn create_wave_batch(
        &self,
        rollout: &Rollout,
        index: usize,
    ) -> CoreResult<()> {
        let store = self.store();
        let job_id = rollout.wave_job_id(index);
        if store.get_job(&job_id).await?.is_some() {
            return Ok(());
        }
        let now = self.now();
        let firmware = store
            .get_firmware(&rollout.firmware_id)
            .await?
            .ok_or_else(|| {
                ota_domain::DomainError::not_found(
                    "FirmwareId",
                    format!("package {} no longer exists", rollout.firmware_id),
                )
            })?;
        let plan = &rollout.waves[index].plan;
        let target_selection = match &plan.target {
            WaveTarget::Percent { milli_percent } => TargetSelection::Gray {
                milli_percent: *milli_percent,
            },
            WaveTarget::Count { devices } => TargetSelection::Gray {
                milli_percent: share_of(*devices, rollout.eligible),
            },
            WaveTarget::Group { group_id } => TargetSelection::Group {
                group_id: group_id.clone(),
            },
        };
        let n = index + 1;
        let mut job = static_batch(job_id, &firmware, &rollout.src_versions, now);
        job.target_selection = target_selection;
        job.policy = rollout.policy.clone();
        job.tags = rollout.tags.clone();
        job.name = Some(match (&rollout.name, &plan.name) {
            (_, Some(wave)) => wave.clone(),
            (Some(name), None) => format!("{name} wave {n}"),
            (None, None) => format!("rollout {} wave {n}", rollout.rollout_id),
        });
        // Where Aliyun's QueryOTAJob has a field for it (JobDesc): which rollout, which wave.
        let place = format!(
            "wave {n} of {} of rollout {}",
            rollout.waves.len(),
            rollout.rollout_id
        );
        job.description = Some(match &rollout.description {
            Some(d) => format!("{place}: {d}"),
            None => place,
        });
        job.creation = Some(Creation::start(now));
        job.wave = Some(rollout.wave_link(index));
        let events = crate::webhooks::created_events(&job, now);
        if let Err(err) = store.insert_job_with_events(&job, &events).await {
            // Another node driving the rollout a moment ago may have stored it first.
            if store.get_job(&job.job_id).await?.is_some() {
                return Ok(());
            }
            return Err(err.into());
        }
        self.wake_webhooks();
        self.jobs().kick_creator();
        metrics::counter!("ota_rollout_waves_started_total").increment(1);
        tracing::info!(rollout = %rollout.rollout_id, wave = n, job = %job.job_id,
            "rollout wave started");
        Ok(())
    }

    /// A wave batch's counts, and whether its tasks are still being created.
    pub(super) async fn wave_counts(&self, job: &Job) -> CoreResult<WaveCounts> {
        let counts = self.store().job_task_counts(&job.job_id).await?;
        let status = |s| counts.status(s).max(0) as u64;
        Ok(WaveCounts {
            total: counts.total.max(0) as u64,
            succeeded: status(TaskStatus::Succeeded),
            failed: status(TaskStatus::Failed),
            unfinished: counts.unfinished().max(0) as u64,
            failed_by: counts
                .failures
                .iter()
                .map(|(reason, n)| (*reason, (*n).max(0) as u64))
                .collect(),
        })
    }
}

/// `devices` as thousandths of a percent of `eligible` (1..=100,000): how a count wave's
/// batch shows its share where the Aliyun API expects GrayPercent.
fn share_of(devices: u64, eligible: u64) -> u32 {
    if eligible == 0 {
        return 100_000;
    }
    (devices.saturating_mul(100_000) / eligible).clamp(1, 100_000) as u32
}
