//! The ingest worker: device reports in, task transitions out, one transaction per group,
//! acknowledgements after the commit.
//!
//! Reports arrive in bursts (a batch release makes thousands of devices report within
//! seconds). The worker takes whatever is queued, up to `ingest_batch`, waiting at most
//! `ingest_linger` for more, together with the presence changes since the last group
//! ([`super::presence`]); then it writes presence and versions, loads the affected devices'
//! unfinished tasks in one query, applies the reports in arrival order and saves every
//! changed task together. Only then are the group's reports acknowledged to the devices
//! ([`super::report::Ack`]), so a report a device was told is stored is stored. Devices
//! that reconnected get their unfinished pushes again ([`super::repush`]).
//!
//! The queue is bounded: when it is full a device link waits to hand in its next report,
//! which holds back that device's connection (and so its later reports, in order) rather
//! than buffering without limit. A group that meets a passing store failure is tried again
//! rather than dropped ([`process_reliably`]).

use super::presence::Change;
use super::report::Report;
use super::worker::{Pace, Worker};
use super::{apply::TaskChanges, repush};
use crate::{Core, CoreResult};
use ota_domain::DeviceKey;
use ota_domain::registry::{DEFAULT_MODULE, ModuleVersion};
use ota_domain::task::{Task, TaskEvent, TaskStatus};
use ota_protocol::DeviceMessage;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Presence changes taken with one group.
pub(crate) type Presence = HashMap<DeviceKey, Change>;

/// The ingest worker: one group per round.
pub(crate) struct Ingest {
    rx: mpsc::Receiver<Report>,
    group: Vec<Report>,
}

impl Ingest {
    pub(crate) fn new(rx: mpsc::Receiver<Report>) -> Self {
        Ingest {
            rx,
            group: Vec::new(),
        }
    }
}

impl Worker for Ingest {
    const NAME: &'static str = "ingest";

    /// Waits for a first report or presence change, gathers what follows within the
    /// linger, and stores the group.
    async fn round(&mut self, core: &Core, shutdown: &CancellationToken) -> CoreResult<Pace> {
        let max = core.inner.config.ingest_batch;
        let linger = core.inner.config.ingest_linger;
        let board = &core.inner.presence;
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(Pace::Idle),
            report = self.rx.recv() => match report {
                Some(report) => self.group.push(report),
                None => return Ok(Pace::Idle),
            },
            () = board.changed.notified() => {}
        }
        let deadline = tokio::time::Instant::now() + linger;
        while self.group.len() < max {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(report)) => self.group.push(report),
                _ => break,
            }
        }
        let size = self.group.len();
        process_reliably(
            core,
            std::mem::take(&mut self.group),
            board.take(),
            shutdown,
        )
        .await;
        metrics::counter!("ota_device_reports_total").increment(size as u64);
        Ok(Pace::More)
    }

    /// A round waits for work itself.
    async fn until_next(&mut self, _core: &Core) {}

    /// Stores what was received before the stop, so a graceful stop loses nothing.
    async fn finish(&mut self, core: &Core) {
        self.rx.close();
        while let Some(report) = self.rx.recv().await {
            self.group.push(report);
        }
        let stopped = CancellationToken::new();
        stopped.cancel();
        let group = std::mem::take(&mut self.group);
        process_reliably(core, group, core.inner.presence.take(), &stopped).await;
    }
}

/// First pause before a group is tried again after a transient store failure.
const RETRY_FIRST: Duration = Duration::from_millis(50);
/// Longest pause between tries.
const RETRY_MAX: Duration = Duration::from_secs(5);
/// Tries of a group after shutdown began (the store may be going away with the server).
const TRIES_WHEN_STOPPING: u32 = 3;

/// Applies a group so that no report is lost to a passing store failure, then acknowledges
/// its reports. A group that fails transiently (database busy or locked, connection lost,
/// PostgreSQL restarting) is tried again, with pauses doubling up to [`RETRY_MAX`], for as
/// long as the server runs; new reports wait in the bounded queue meanwhile, which slows
/// devices instead of dropping their reports. A group refused for another reason is split
/// and its parts applied one by one, so a report the store refuses costs only that report:
/// it is logged with its device and still acknowledged, or its device would retransmit it
/// forever. A group given up at shutdown is not acknowledged: the devices send it again to
/// the next server.
///
/// Trying again is safe because every write is idempotent: presence and versions are
/// upserts, and a report applied twice never moves a task backwards.
async fn process_reliably(
    core: &Core,
    group: Vec<Report>,
    presence: Presence,
    shutdown: &CancellationToken,
) {
    if group.is_empty() && presence.is_empty() {
        return;
    }
    let Err(err) = with_retries(core, &group, &presence, shutdown).await else {
        return acknowledge(group);
    };
    if shutdown.is_cancelled() && err.is_transient() {
        return tracing::warn!(%err, size = group.len(),
            "device reports not stored before shutdown; devices will send them again");
    }
    if group.len() + usize::from(!presence.is_empty()) > 1 {
        tracing::warn!(%err, size = group.len(),
            "device report group refused; applying its parts one by one");
    }
    if !presence.is_empty()
        && let Err(err) = with_retries(core, &[], &presence, shutdown).await
    {
        tracing::error!(%err, devices = presence.len(), "presence changes refused by the store; dropped");
    }
    let none = Presence::new();
    for report in group {
        match with_retries(core, std::slice::from_ref(&report), &none, shutdown).await {
            Ok(()) => report.ack.send(),
            Err(err) if shutdown.is_cancelled() && err.is_transient() => {}
            Err(err) => {
                refused(&report, &err);
                report.ack.send();
            }
        }
    }
}

fn acknowledge(group: Vec<Report>) {
    for report in group {
        report.ack.send();
    }
}

/// Logs and counts a report the store refused for good.
fn refused(report: &Report, err: &crate::CoreError) {
    let device = &report.device;
    tracing::error!(%err, product_key = %device.product_key, device_name = %device.device_name,
        "device report refused by the store; acknowledged and dropped");
    metrics::counter!("ota_device_reports_dropped_total").increment(1);
}

/// [`process`] until it succeeds or fails for a reason other than a transient one.
async fn with_retries(
    core: &Core,
    group: &[Report],
    presence: &Presence,
    shutdown: &CancellationToken,
) -> CoreResult<()> {
    retry_transient(group.len(), shutdown, || process(core, group, presence)).await
}

/// Runs `attempt` until it succeeds or fails for a reason other than a transient one,
/// pausing [`RETRY_FIRST`], then twice as long each time up to [`RETRY_MAX`]; after
/// shutdown began, [`TRIES_WHEN_STOPPING`] more tries at most.
async fn retry_transient<F, Fut>(
    size: usize,
    shutdown: &CancellationToken,
    mut attempt: F,
) -> CoreResult<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = CoreResult<()>>,
{
    let mut pause = RETRY_FIRST;
    let mut tries_left_when_stopping = TRIES_WHEN_STOPPING;
    loop {
        let err = match attempt().await {
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
        if err.is_stale() {
            // A push or another node changed a task beside this group: read it again.
            tracing::debug!(
                size,
                "device report group met a changed task; applying again"
            );
        } else {
            tracing::warn!(%err, size, retry_in_ms = pause.as_millis() as u64,
                "device report group hit a passing store failure; trying again");
        }
        metrics::counter!("ota_device_report_retries_total").increment(1);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => {}
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// Applies one group of device reports and presence changes.
async fn process(core: &Core, group: &[Report], presence: &Presence) -> CoreResult<()> {
    let store = &core.inner.store;
    let now = core.now();
    let changes: Vec<(DeviceKey, bool, i64)> = presence
        .iter()
        .map(|(device, change)| (device.clone(), change.online, now))
        .collect();
    for device in store.set_presence(&changes).await? {
        // Its CONNECT passed just before it was disabled: close it now.
        if core.link().disconnect(&device) {
            tracing::info!(device = %device, "disabled device disconnected as it came online");
        }
    }
    let reconnected: Vec<&DeviceKey> = presence
        .iter()
        .filter(|(_, change)| change.online && change.reconnected)
        .map(|(device, _)| device)
        .collect();

    let mut versions = Vec::new();
    let mut devices: BTreeSet<&DeviceKey> = reconnected.iter().copied().collect();
    for report in group {
        devices.insert(&report.device);
        if let DeviceMessage::Inform {
            version,
            module,
            delta_formats,
            delta_memory,
            ..
        } = &report.message
        {
            versions.push(ModuleVersion {
                product_key: report.device.product_key.clone(),
                device_name: report.device.device_name.clone(),
                module_name: module.clone().unwrap_or_else(|| DEFAULT_MODULE.to_owned()),
                version: version.clone(),
                reported_at: now,
                delta_formats: delta_formats.clone(),
                delta_memory: *delta_memory,
            });
        }
    }
    store.upsert_module_versions(&versions).await?;

    let keys: Vec<DeviceKey> = devices.into_iter().cloned().collect();
    let mut active: HashMap<(DeviceKey, String), Task> = HashMap::new();
    if !keys.is_empty() {
        for task in store.active_tasks_for_devices(&keys).await? {
            let key = (task.device_key(), task.module_name.clone());
            active.insert(key, task);
        }
    }

    let mut outcome = TaskChanges::default();
    for report in group {
        let Some((module, event)) = task_event(&report.message) else {
            continue;
        };
        let Some(key) = resolve_module(&active, &report.device, module) else {
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
    if !reconnected.is_empty() {
        let reconnected: HashSet<&DeviceKey> = reconnected.into_iter().collect();
        let mut told: Vec<&Task> = Vec::new();
        for task in active.values() {
            if matches!(task.status, TaskStatus::Notified | TaskStatus::InProgress)
                && reconnected.contains(&task.device_key())
            {
                told.push(task);
            }
        }
        repush::send(core, told, now).await?;
    }
    if !presence.is_empty() {
        core.wake_dispatcher();
    }
    Ok(())
}

/// The task event a report stands for, and the module it names.
fn task_event(message: &DeviceMessage) -> Option<(Option<&str>, TaskEvent)> {
    match message {
        DeviceMessage::Inform {
            version, module, ..
        } => Some((
            Some(module.as_deref().unwrap_or(DEFAULT_MODULE)),
            TaskEvent::VersionReported {
                version: version.clone(),
            },
        )),
        DeviceMessage::Progress {
            step, desc, module, ..
        } => Some((
            module.as_deref(),
            TaskEvent::Progress {
                step: *step,
                desc: (!desc.is_empty()).then(|| desc.clone()),
            },
        )),
        _ => None,
    }
}

/// Finds the task a report is about. A report without a module means the default module,
/// or the device's only unfinished task when it has exactly one.
fn resolve_module(
    active: &HashMap<(DeviceKey, String), Task>,
    device: &DeviceKey,
    module: Option<&str>,
) -> Option<(DeviceKey, String)> {
    if let Some(module) = module {
        return Some((device.clone(), module.to_owned()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreError;
    use ota_store::StoreError;
    use tokio::time::Instant;

    fn passing() -> CoreError {
        CoreError::Store(StoreError::Stale)
    }

    fn lasting() -> CoreError {
        CoreError::Store(StoreError::Corrupt("refused".into()))
    }

    /// Runs `retry_transient` over `outcomes` in turn; returns the result, the times of the
    /// tries (from the start) and how many tries were made.
    async fn run(
        outcomes: Vec<CoreResult<()>>,
        shutdown: &CancellationToken,
    ) -> (CoreResult<()>, Vec<Duration>) {
        let start = Instant::now();
        let mut outcomes = outcomes.into_iter();
        let mut tries = Vec::new();
        let result = retry_transient(1, shutdown, || {
            tries.push(start.elapsed());
            let outcome = outcomes.next().unwrap_or(Ok(()));
            async move { outcome }
        })
        .await;
        (result, tries)
    }

    #[tokio::test(start_paused = true)]
    async fn passing_failures_are_tried_again_with_pauses_doubling_to_five_seconds() {
        let outcomes = std::iter::repeat_with(|| Err(passing())).take(9).collect();
        let (result, tries) = run(outcomes, &CancellationToken::new()).await;
        assert!(result.is_ok());
        let pauses: Vec<u128> = tries
            .windows(2)
            .map(|w| (w[1] - w[0]).as_millis())
            .collect();
        assert_eq!(pauses, [50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_failure_is_not_tried_again() {
        let (result, tries) = run(
            vec![Err(passing()), Err(lasting())],
            &CancellationToken::new(),
        )
        .await;
        assert!(matches!(
            result,
            Err(CoreError::Store(StoreError::Corrupt(_)))
        ));
        assert_eq!(tries.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn after_shutdown_a_group_gets_three_more_tries() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let outcomes = std::iter::repeat_with(|| Err(passing())).take(10).collect();
        let (result, tries) = run(outcomes, &shutdown).await;
        assert!(result.is_err());
        assert_eq!(tries.len(), 3);
        assert_eq!(tries[2], Duration::ZERO, "no pause once stopping");
    }
}
