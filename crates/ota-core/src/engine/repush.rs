//! Sending a task's upgrade push again, to a device that may have missed it or whose answer
//! may have been lost.
//!
//! A reconnect is the moment: a push sent to the old connection may never have arrived
//! (a QoS 0 device, a connection that died with the push queued), and a report the device
//! sent while the server was down or restarting may be lost with it. So every task the
//! device has been told about and not finished — NOTIFIED or IN_PROGRESS — is pushed
//! again: a device that already installed the version answers with its version (the task
//! ends SUCCEEDED), one still updating carries on, one that never got it starts. The push
//! is the same message the device got before; the task does not change (ADR 0007).

use crate::{Core, CoreResult};
use ota_domain::Millis;
use ota_domain::task::Task;

/// Pushes `tasks` again to their devices, skipping pull-only batches. A device that is no
/// longer connected is skipped; its next reconnect brings it here again.
pub(crate) async fn send<'a>(
    core: &Core,
    tasks: impl IntoIterator<Item = &'a Task>,
    now: Millis,
) -> CoreResult<usize> {
    let store = &core.inner.store;
    let link = core.link();
    let mut sent = 0;
    for task in tasks {
        let job = core.inner.cache.job(store, &task.job_id).await?;
        if !job.policy.need_push {
            continue;
        }
        let firmware = core.inner.cache.firmware(store, &task.firmware_id).await?;
        let (topic, payload) = core
            .delivery()
            .upgrade_message(&firmware, &job, task, now)
            .await?;
        let delivered = link.send(&task.device_key(), &topic, payload);
        tracing::debug!(task = %task.task_id, delivered, "unfinished push sent again");
        sent += usize::from(delivered);
    }
    metrics::counter!("ota_repushes_total").increment(sent as u64);
    Ok(sent)
}
