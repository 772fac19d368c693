//! The rollout every scenario runs while it breaks things: a product, a registered fleet,
//! a package, the simulated devices (in this process, so they outlive every server they
//! talk to) and the batches — and what each device's final task state must be, which
//! follows from its simulated behaviour alone.
//!
//! Devices keep running after their update (`stop_after_update = false`): a device whose
//! last report was lost to a fault is still there to be asked again, as a real one is.

use crate::client::{ApiClient, text};
use anyhow::{Context, bail};
use ota_device_sdk::sim::{self, Behaviour, Echo, SimConfig, SimStats};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The state a device's task must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Expected {
    Succeeded,
    Failed,
}

impl Expected {
    pub fn of(behaviour: &Behaviour) -> Expected {
        match behaviour {
            Behaviour::Fail { .. } | Behaviour::WrongVersion { .. } => Expected::Failed,
            _ => Expected::Succeeded,
        }
    }

    pub fn status(self) -> &'static str {
        match self {
            Expected::Succeeded => "SUCCEEDED",
            Expected::Failed => "FAILED",
        }
    }
}

/// How the fleet is split into batches.
#[derive(Debug, Clone, Copy)]
pub enum Batches {
    /// One batch of every device, pushing at this rate.
    All { per_minute: u32 },
    /// Batches of `size` named devices (at most 200), one every `every`, each pushing at
    /// `per_minute`: waves, as an operator rolls out in parallel.
    Waves {
        size: usize,
        per_minute: u32,
        every: Duration,
    },
}

/// Everything about the rollout but the platform it runs on.
#[derive(Debug, Clone)]
pub struct RolloutPlan {
    pub devices: usize,
    pub package_kib: usize,
    pub behaviour: Behaviour,
    pub batches: Batches,
    pub download_retries: Option<u32>,
    pub echo: Option<Echo>,
    /// The simulated fleet stops after this long whatever happens.
    pub run_for: Duration,
}

/// A prepared rollout with its fleet running. Dropping it stops the fleet.
pub struct Rollout {
    pub product_key: String,
    pub firmware_id: String,
    pub package_bytes: u64,
    /// Device names by simulator index.
    pub names: Vec<String>,
    /// Final state by simulator index.
    pub expected: Vec<Expected>,
    pub stats: Arc<SimStats>,
    /// The batches created so far (waves add theirs as they go).
    pub jobs: Arc<Mutex<Vec<String>>>,
    fleet: tokio::task::JoinHandle<()>,
    waves: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Rollout {
    fn drop(&mut self) {
        self.fleet.abort();
        if let Some(waves) = &self.waves {
            waves.abort();
        }
    }
}

/// How long setting up (registering, connecting every device) may take.
const SETUP_LIMIT: Duration = Duration::from_secs(300);

impl Rollout {
    /// Creates the product, devices and package through `api`, starts the fleet on
    /// `mqtt` and waits until every device has reported its version.
    pub async fn prepare(
        api: &ApiClient,
        plan: &RolloutPlan,
        mqtt: Vec<SocketAddr>,
    ) -> anyhow::Result<Rollout> {
        let product = api
            .post("/products", &json!({"name": "ChaosFleet"}))
            .await?;
        let product_key = text(&product, "product_key")?;
        let devices = crate::sim::register(api, &product_key, plan.devices).await?;
        let names = devices.iter().map(|d| d.device_name.clone()).collect();
        let expected = (0..plan.devices)
            .map(|i| Expected::of(&plan.behaviour.for_device(i, plan.devices)))
            .collect();

        let payload: Vec<u8> = (0..plan.package_kib * 1024)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let package_bytes = payload.len() as u64;
        let upload = api.upload_bytes("chaos.bin", payload).await?;
        let firmware = api
            .post(
                "/firmwares",
                &json!({"product_key": product_key, "name": "chaos-2_0_0", "dest_version": "2.0.0",
                        "url": text(&upload, "url")?, "need_to_verify": false}),
            )
            .await?;
        let firmware_id = text(&firmware, "firmware_id")?;

        let mut config = SimConfig::new(devices, mqtt);
        config.behaviour = plan.behaviour.clone();
        config.stop_after_update = false;
        config.connect_concurrency = 256;
        config.duration = Some(plan.run_for);
        config.download_retries = plan.download_retries;
        config.echo = plan.echo;
        let stats = Arc::new(SimStats::default());
        let fleet = tokio::spawn({
            let stats = Arc::clone(&stats);
            async move {
                if let Err(e) = sim::run(config, stats).await {
                    tracing::error!(error = %e, "the simulated fleet stopped");
                }
            }
        });
        let rollout = Rollout {
            product_key,
            firmware_id,
            package_bytes,
            names,
            expected,
            stats,
            jobs: Arc::new(Mutex::new(Vec::new())),
            fleet,
            waves: None,
        };
        crate::sim::wait_reported(api, &rollout.product_key, plan.devices, SETUP_LIMIT).await?;
        Ok(rollout)
    }

    /// Creates the batches: at once for [`Batches::All`], in the background for waves.
    /// Creation is retried while the API is unreachable (a node may be restarting).
    pub async fn launch(&mut self, api: &ApiClient, batches: Batches) -> anyhow::Result<()> {
        match batches {
            Batches::All { per_minute } => {
                let body = json!({"kind": "static", "target_selection": "ALL",
                                  "maximum_per_minute": per_minute});
                let id = create_batch(api, &self.firmware_id, &body).await?;
                self.jobs.lock().unwrap_or_else(|e| e.into_inner()).push(id);
            }
            Batches::Waves {
                size,
                per_minute,
                every,
            } => {
                if !(1..=200).contains(&size) {
                    bail!("a wave holds 1-200 devices");
                }
                let (api, firmware_id) = (api.clone(), self.firmware_id.clone());
                let (names, jobs) = (self.names.clone(), Arc::clone(&self.jobs));
                self.waves = Some(tokio::spawn(async move {
                    for (i, chunk) in names.chunks(size).enumerate() {
                        if i > 0 {
                            tokio::time::sleep(every).await;
                        }
                        let body = json!({"kind": "static", "target_selection": "SPECIFIC",
                                          "device_names": chunk, "maximum_per_minute": per_minute});
                        match create_batch(&api, &firmware_id, &body).await {
                            Ok(id) => jobs.lock().unwrap_or_else(|e| e.into_inner()).push(id),
                            Err(e) => {
                                tracing::error!(error = %e, "a wave could not be created");
                                return;
                            }
                        }
                    }
                }));
            }
        }
        Ok(())
    }

    /// Waits until every wave has been created (at once for a single batch).
    pub async fn all_launched(&mut self) -> anyhow::Result<()> {
        if let Some(waves) = self.waves.take() {
            waves.await.context("the wave task")?;
        }
        Ok(())
    }

    pub fn job_ids(&self) -> Vec<String> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How long one batch creation may be retried while the API is away.
const CREATE_LIMIT: Duration = Duration::from_secs(60);

async fn create_batch(
    api: &ApiClient,
    firmware_id: &str,
    body: &serde_json::Value,
) -> anyhow::Result<String> {
    let end = Instant::now() + CREATE_LIMIT;
    loop {
        match api
            .post(&format!("/firmwares/{firmware_id}/jobs"), body)
            .await
        {
            Ok(job) => return text(&job, "job_id"),
            // A refusal is an answer: the request is wrong, trying again will not help.
            Err(e) if e.downcast_ref::<crate::client::ApiFailure>().is_some() => {
                return Err(e.context("creating a batch"));
            }
            Err(e) if Instant::now() > end => return Err(e.context("creating a batch")),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
