//! Rollout use cases: create and read rollouts, the operator's commands, and the driver
//! that watches each rollout's current wave and moves it on (rules in
//! `ota_domain::rollout`).
//!
//! By idea: this file (creating and reading), [`waves`] (a wave's batch and its counts),
//! [`commands`] (pause, resume, cancel, approve, deny, start the next wave, and carrying
//! out a transition's effects), [`driver`] (the background worker).

mod commands;
mod driver;
mod waves;

pub(crate) use driver::Driver;

use crate::error::Found;
use crate::{CoreResult, Rollouts, ids};
use ota_domain::rollout::{Rollout, RolloutRequest, WaveTarget};
use ota_domain::{DomainError, FirmwareId, ProductKey, RolloutId};
use ota_store::Page;

impl Rollouts<'_> {
    /// Creates a rollout and starts its first wave (or leaves it awaiting approval). The
    /// rollout is returned once the first wave's batch exists.
    pub async fn create(
        &self,
        firmware_id: &FirmwareId,
        product_key: Option<&ProductKey>,
        request: RolloutRequest,
    ) -> CoreResult<Rollout> {
        let store = self.store();
        let now = self.now();
        let firmware = store
            .get_firmware(firmware_id)
            .await
            .found("FirmwareId", format!("package {firmware_id}"))?;
        if product_key.is_some_and(|pk| pk != &firmware.product_key) {
            return Err(DomainError::invalid("ProductKey", "is not the package's product").into());
        }
        let validated = request.validate(&firmware)?;
        for (i, wave) in validated.waves.iter().enumerate() {
            if let WaveTarget::Group { group_id } = &wave.target {
                store.get_group(group_id).await.found(
                    &format!("Waves.{}.GroupId", i + 1),
                    format!("group {group_id}"),
                )?;
            }
        }
        let id = RolloutId(ids::rollout_id());
        let probe = waves::probe_job(&id, &firmware, &validated.src_versions, now);
        let eligible = self.eligible(&probe, &firmware).await?;
        let rollout = validated.into_rollout(id, &firmware, eligible, now);
        store.insert_rollout(&rollout, &[]).await?;
        metrics::counter!("ota_rollouts_created_total").increment(1);
        tracing::info!(rollout = %rollout.rollout_id, waves = rollout.waves.len(), eligible,
            "rollout created");
        self.drive(&rollout.rollout_id).await?;
        self.get(&rollout.rollout_id).await
    }

    pub async fn get(&self, id: &RolloutId) -> CoreResult<Rollout> {
        self.store()
            .get_rollout(id)
            .await
            .found("RolloutId", format!("rollout {id}"))
    }

    /// A package's rollouts, newest first, and how many it has.
    pub async fn of_firmware(
        &self,
        id: &FirmwareId,
        page: Page,
    ) -> CoreResult<(Vec<Rollout>, i64)> {
        Ok(self.store().list_rollouts_by_firmware(id, page).await?)
    }

    /// Wakes the driver: a rollout changed, or a wave's batch may have moved.
    pub(crate) fn wake_rollouts(&self) {
        self.inner.rollout_wake.notify_one();
    }
}
