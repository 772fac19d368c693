//! The ingest worker: device reports in, task transitions out, one transaction per group.
//!
//! Reports arrive in bursts (a batch release makes thousands of devices report within
//! seconds). The worker takes whatever is queued, up to `ingest_batch`, waiting at most
//! `ingest_linger` for more; then it writes presence and versions, loads the affected
//! devices' unfinished tasks in one query, applies the reports in arrival order and saves
//! every changed task together.

use super::DeviceInput;
use super::apply::Outcome;
use crate::{Core, CoreResult};
use ota_domain::DeviceKey;
use ota_domain::registry::{DEFAULT_MODULE, ModuleVersion};
use ota_domain::task::{Task, TaskEvent};
use std::collections::{BTreeSet, HashMap};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub(crate) async fn run(
    core: Core,
    mut rx: mpsc::Receiver<DeviceInput>,
    shutdown: CancellationToken,
) {
    let max = core.inner.config.ingest_batch;
    let linger = core.inner.config.ingest_linger;
    let mut group = Vec::with_capacity(max);
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => None,
            msg = rx.recv() => msg,
        };
        let Some(first) = first else { break };
        group.push(first);
        let deadline = tokio::time::Instant::now() + linger;
        while group.len() < max {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(msg)) => group.push(msg),
                _ => break,
            }
        }
        let size = group.len();
        if let Err(err) = process(&core, std::mem::take(&mut group)).await {
            tracing::error!(%err, size, "device report group failed; its reports are dropped");
            // The group is gone from the channel and is not retried. Writes that already
            // happened (presence, versions, task saves) stay; the rest is lost until the
            // devices report again (the next progress report, or the version report a device
            // sends when it reconnects).
        }
        metrics::counter!("ota_device_reports_total").increment(size as u64);
    }
    // Drain what is left so a graceful stop loses nothing already received.
    rx.close();
    while let Some(msg) = rx.recv().await {
        group.push(msg);
    }
    if !group.is_empty()
        && let Err(err) = process(&core, group).await
    {
        tracing::error!(%err, "final device report group failed");
    }
}

/// Applies one group of device reports.
pub async fn process(core: &Core, group: Vec<DeviceInput>) -> CoreResult<()> {
    let store = &core.inner.store;
    let now = core.now();
    let mut presence = Vec::new();
    let mut versions = Vec::new();
    let mut touched = BTreeSet::new();
    let mut came_online = BTreeSet::new();
    for input in &group {
        match input {
            DeviceInput::Online(d) => {
                presence.push((d.clone(), true, now));
                came_online.insert(d.clone());
            }
            DeviceInput::Offline(d) => {
                presence.push((d.clone(), false, now));
                came_online.remove(d);
            }
            DeviceInput::Inform {
                device,
                module,
                version,
                delta_formats,
                delta_memory,
            } => {
                touched.insert(device.clone());
                versions.push(ModuleVersion {
                    product_key: device.product_key.clone(),
                    device_name: device.device_name.clone(),
                    module_name: module.clone().unwrap_or_else(|| DEFAULT_MODULE.to_owned()),
                    version: version.clone(),
                    reported_at: now,
                    delta_formats: delta_formats.clone(),
                    delta_memory: *delta_memory,
                });
            }
            DeviceInput::Progress { device, .. } => {
                touched.insert(device.clone());
            }
        }
    }
    if !presence.is_empty() {
        store.set_presence(&presence).await?;
    }
    if !versions.is_empty() {
        store.upsert_module_versions(&versions).await?;
    }

    let keys: Vec<DeviceKey> = touched.into_iter().collect();
    let mut active: HashMap<(DeviceKey, String), Task> = HashMap::new();
    if !keys.is_empty() {
        for task in store.active_tasks_for_devices(&keys).await? {
            let key = (device_of(&task), task.module_name.clone());
            active.insert(key, task);
        }
    }

    let mut outcome = Outcome::default();
    for input in group {
        let (device, module, event) = match input {
            DeviceInput::Inform {
                device,
                module,
                version,
                ..
            } => {
                let module = module.unwrap_or_else(|| DEFAULT_MODULE.to_owned());
                (device, Some(module), TaskEvent::VersionReported { version })
            }
            DeviceInput::Progress {
                device,
                module,
                step,
                desc,
            } => (device, module, TaskEvent::Progress { step, desc }),
            DeviceInput::Online(_) | DeviceInput::Offline(_) => continue,
        };
        let Some(key) = resolve_module(&active, &device, module) else {
            continue;
        };
        let Some(task) = active.get(&key) else {
            continue;
        };
        if let Some(next) = outcome.apply(core, task, event, now).await? {
            if next.is_unfinished() {
                active.insert(key, next);
            } else {
                active.remove(&key);
            }
        }
    }
    // Keep only the last version of each task: a burst of progress reports is one write.
    dedup_last(&mut outcome.changed);
    outcome.commit(core).await?;

    if !versions.is_empty() {
        core.offer_dynamic_jobs(&versions).await?;
    }
    for device in came_online {
        core.repush_notified(&device).await?;
    }
    if !presence.is_empty() {
        core.wake_dispatcher();
    }
    Ok(())
}

fn device_of(task: &Task) -> DeviceKey {
    DeviceKey {
        product_key: task.product_key.clone(),
        device_name: task.device_name.clone(),
    }
}

/// Finds the task a report is about. A report without a module means the default module,
/// or the device's only unfinished task when it has exactly one.
fn resolve_module(
    active: &HashMap<(DeviceKey, String), Task>,
    device: &DeviceKey,
    module: Option<String>,
) -> Option<(DeviceKey, String)> {
    if let Some(module) = module {
        return Some((device.clone(), module));
    }
    let default = (device.clone(), DEFAULT_MODULE.to_owned());
    if active.contains_key(&default) {
        return Some(default);
    }
    let mut mine = active.keys().filter(|(d, _)| d == device);
    match (mine.next(), mine.next()) {
        (Some(only), None) => Some(only.clone()),
        _ => None,
    }
}

fn dedup_last(tasks: &mut Vec<Task>) {
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<Task> = Vec::with_capacity(tasks.len());
    for task in tasks.drain(..).rev() {
        if seen.insert(task.task_id.clone()) {
            kept.push(task);
        }
    }
    kept.reverse();
    *tasks = kept;
}
