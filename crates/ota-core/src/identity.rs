//! Disabling and enabling devices (`DisableThing`, `EnableThing`) and resetting their dynamic
//! registration (`ResetThing`).
//!
//! A disabled device is refused at CONNECT (its secret lookup finds nothing) and its live
//! connection is closed at once: here when this node holds it, and on every other node
//! sharing the store through the announcement the store writes with the change. Its
//! unfinished tasks wait, as for any device that is not connected, unless the operator asks
//! for them to be cancelled.

use crate::{CoreResult, Registry};
use ota_domain::identity::IdentityEvent;
use ota_domain::task::{Task, TaskStatus};
use ota_domain::{DeviceKey, TaskId};

impl Registry<'_> {
    /// Disables the device: refused at CONNECT from now on and disconnected wherever it is
    /// connected. With `cancel_tasks`, its unfinished tasks are cancelled (returned);
    /// otherwise they wait for it to be enabled again.
    pub async fn disable_device(
        &self,
        key: &DeviceKey,
        cancel_tasks: bool,
    ) -> CoreResult<Vec<Task>> {
        let device = self.device(key).await?;
        let transition = device
            .identity()
            .apply(IdentityEvent::Disable)
            .map_err(|r| r.into_error("DeviceName"))?;
        self.store()
            .set_device_disabled(key, !transition.next.enabled, self.now())
            .await?;
        if transition.disconnect && self.link().disconnect(key) {
            tracing::info!(device = %key, "disabled device disconnected");
        }
        if !cancel_tasks {
            return Ok(Vec::new());
        }
        let unfinished: Vec<TaskStatus> = TaskStatus::ALL
            .into_iter()
            .filter(|s| !s.is_terminal())
            .collect();
        let ids: Vec<TaskId> = self
            .unfinished_tasks_of(key, None, unfinished)
            .await?
            .into_iter()
            .map(|t| t.task_id)
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.tasks().cancel_tasks(&ids).await
    }

    /// Enables a disabled device: it may connect again, and its waiting tasks go on.
    pub async fn enable_device(&self, key: &DeviceKey) -> CoreResult<()> {
        let device = self.device(key).await?;
        let transition = device
            .identity()
            .apply(IdentityEvent::Enable)
            .map_err(|r| r.into_error("DeviceName"))?;
        Ok(self
            .store()
            .set_device_disabled(key, !transition.next.enabled, self.now())
            .await?)
    }

    /// `ResetThing`: the device may obtain its credentials by dynamic registration again
    /// and counts as never activated; a connection token it was issued stops working.
    pub async fn reset_device(&self, key: &DeviceKey) -> CoreResult<()> {
        let device = self.device(key).await?;
        device
            .identity()
            .apply(IdentityEvent::Reset)
            .map_err(|r| r.into_error("DeviceName"))?;
        Ok(self.store().reset_registration(key, self.now()).await?)
    }
}
