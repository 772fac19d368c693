//! The ingest worker: device reports in, task transitions out, one transaction per group.
//!
//! Reports arrive in bursts (a batch release makes thousands of devices report within
//! seconds). The worker takes whatever is queued, up to `ingest_batch`, waiting at most
//! `ingest_linger` for more; then it writes presence and versions, loads the affected
//! devices' unfinished tasks in one query, applies the reports in arrival order and saves
//! every changed task together. A group that meets a passing store failure is tried again
//! rather than dropped ([`process_reliably`]).

use super::DeviceInput;
use super::apply::Outcome;
use crate::{Core, CoreResult};
use ota_domain::DeviceKey;
use ota_domain::registry::{DEFAULT_MODULE, ModuleVersion};
use ota_domain::task::{Task, TaskEvent};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
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
        process_reliably(&core, std::mem::take(&mut group), &shutdown).await;
        metrics::counter!("ota_device_reports_total").increment(size as u64);
    }
    // Drain what is left so a graceful stop loses nothing already received.
    rx.close();
    while let Some(msg) = rx.recv().await {
        group.push(msg);
    }
    if !group.is_empty() {
        process_reliably(&core, group, &shutdown).await;
    }
}

/// First pause before a group is tried again after a transient store failure.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest pause between tries.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Tries of a group after shutdown began (the store may be going away with the server).
const TRIES_WHEN_STOPPING: u32 = 3;

/// Applies a group so that no report is lost to a passing store failure: a group that fails
/// transiently (database busy or locked, connection lost, PostgreSQL restarting) is tried
/// again, with pauses doubling up to [`RETRY_MAX`], for as long as the server runs; new
/// reports wait in the bounded channel meanwhile, which slows devices instead of dropping
/// their reports. A group refused for another reason is split and its reports applied one by
/// one, so one report the store refuses costs only that report, logged with its device.
///
/// Trying again is safe because every write is idempotent: presence and versions are
/// upserts, and a report applied twice never moves a task backwards.
async fn process_reliably(core: &Core, group: Vec<DeviceInput>, shutdown: &CancellationToken) {
    let Err(err) = with_retries(core, &group, shutdown).await else {
        return;
    };
    if let [input] = &group[..] {
        return dropped(input, &err);
    }
    tracing::warn!(%err, size = group.len(), "device report group refused; applying its reports one by one");
    for input in &group {
        if let Err(err) = with_retries(core, std::slice::from_ref(input), shutdown).await {
            dropped(input, &err);
        }
    }
}

/// Logs and counts a report the store refused for good.
fn dropped(input: &DeviceInput, err: &crate::CoreError) {
    let device = input.device();
    tracing::error!(%err, product_key = %device.product_key, device_name = %device.device_name,
        "device report refused by the store; dropped");
    metrics::counter!("ota_device_reports_dropped_total").increment(1);
}

/// [`process`] until it succeeds or fails for a reason other than a transient one.
async fn with_retries(
    core: &Core,
    group: &[DeviceInput],
    shutdown: &CancellationToken,
) -> CoreResult<()> {
    let mut pause = RETRY_FIRST;
    let mut tries_left_when_stopping = TRIES_WHEN_STOPPING;
    loop {
        let err = match process(core, group.to_vec()).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_transient() => err,
            Err(err) => return Err(err),
        };
        if shutdown.is_cancelled() {
            tries_left_when_stopping -= 1;
            if tries_left_when_stopping == 0 {
                return Err(err);
            }
        }
        tracing::warn!(%err, size = group.len(), retry_in_ms = pause.as_millis() as u64,
            "device report group hit a passing store failure; trying again");
        metrics::counter!("ota_device_report_retries_total").increment(1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => {}
        }
        pause = (pause * 2).min(RETRY_MAX);
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
            DeviceInput::Seen(d) => presence.push((d.clone(), true, now)),
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
            DeviceInput::Online(_) | DeviceInput::Seen(_) | DeviceInput::Offline(_) => continue,
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
    // A burst of progress reports for one task is one write: commit keeps its last version.
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
