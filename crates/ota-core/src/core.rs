//! The [`Core`] handle: shared state of the service layer, cheap to clone.

use crate::cache::Cache;
use crate::engine::Ack;
use crate::engine::presence::PresenceBoard;
use crate::engine::report::{Report, is_report};
use crate::{Clock, CoreConfig, DeviceLink, NoDevices};
use ota_blob::{BlobStore, UrlSigner};
use ota_domain::{DeviceKey, Millis};
use ota_protocol::DeviceMessage;
use ota_store::Store;
use std::sync::{Arc, RwLock};
use tokio::sync::{Notify, mpsc};

/// The platform's service layer. Clone it freely; all clones share one state.
#[derive(Clone)]
pub struct Core {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub blobs: BlobStore,
    pub signer: UrlSigner,
    pub clock: Arc<dyn Clock>,
    pub config: CoreConfig,
    pub link: RwLock<Arc<dyn DeviceLink>>,
    /// Device reports waiting for the ingest worker (bounded).
    pub reports: mpsc::Sender<Report>,
    pub reports_rx: std::sync::Mutex<Option<mpsc::Receiver<Report>>>,
    /// Who this process is when it holds a platform-wide lease.
    pub holder: String,
    /// Device presence waiting for the ingest worker.
    pub presence: PresenceBoard,
    /// Wakes the dispatcher when tasks became pushable.
    pub dispatch_wake: Notify,
    /// Counts wake-ups, so the dispatcher can tell whether anything may have become
    /// pushable since it last found a batch with nothing ready.
    pub dispatch_generation: std::sync::atomic::AtomicU64,
    pub cache: Cache,
    pub signing: crate::signing::SigningCache,
    pub deltas: crate::deltas::DeltaState,
    pub block_grants: crate::block_grants::BlockGrants,
    /// Wakes the batch creator (a batch was stored with its tasks to create).
    pub creation_wake: Notify,
    /// Wakes the rollout driver (a rollout changed or a wave's batch had a task finish).
    pub rollout_wake: Notify,
    /// Counts batches whose tasks were all created on this node, for callers waiting on one.
    pub creations_finished: tokio::sync::watch::Sender<u64>,
    /// The outbound HTTP port of webhook deliveries.
    pub webhook_sender: RwLock<Arc<dyn crate::WebhookSender>>,
    /// Wakes the webhook delivery worker (events were appended).
    pub webhook_wake: Notify,
    /// Whether any endpoint takes task events, as last read.
    pub webhook_wants: crate::webhooks::WantCache,
}

impl Core {
    /// Builds the service layer over an opened store and package directory. Call
    /// [`Core::run_ingest`] (the engine) and the scheduler workers to make tasks move.
    pub fn new(
        store: Store,
        blobs: impl Into<BlobStore>,
        signer: UrlSigner,
        clock: Arc<dyn Clock>,
        config: CoreConfig,
    ) -> Core {
        let (reports, reports_rx) = mpsc::channel(config.ingest_queue.max(1));
        Core {
            inner: Arc::new(Inner {
                store,
                blobs: blobs.into(),
                signer,
                clock,
                config,
                link: RwLock::new(Arc::new(NoDevices)),
                reports,
                reports_rx: std::sync::Mutex::new(Some(reports_rx)),
                holder: crate::ids::object_name(),
                presence: PresenceBoard::default(),
                dispatch_wake: Notify::new(),
                dispatch_generation: std::sync::atomic::AtomicU64::new(0),
                cache: Cache::default(),
                signing: Default::default(),
                deltas: Default::default(),
                block_grants: Default::default(),
                creation_wake: Notify::new(),
                rollout_wake: Notify::new(),
                creations_finished: tokio::sync::watch::Sender::new(0),
                webhook_sender: RwLock::new(Arc::new(crate::webhooks::NoWebhookSender)),
                webhook_wake: Notify::new(),
                webhook_wants: Default::default(),
            }),
        }
    }

    /// Connects the outbound device port (the broker starts after the core exists).
    pub fn set_link(&self, link: Arc<dyn DeviceLink>) {
        *self.inner.link.write().unwrap_or_else(|e| e.into_inner()) = link;
    }

    /// Connects the outbound HTTP port webhooks are delivered through.
    pub fn set_webhook_sender(&self, sender: Arc<dyn crate::WebhookSender>) {
        *self
            .inner
            .webhook_sender
            .write()
            .unwrap_or_else(|e| e.into_inner()) = sender;
    }

    pub(crate) fn webhook_sender(&self) -> Arc<dyn crate::WebhookSender> {
        self.inner
            .webhook_sender
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn link(&self) -> Arc<dyn DeviceLink> {
        self.inner
            .link
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The store: for the services and the engine only; faces call the services.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Package storage.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// The download URL signer.
    pub fn signer(&self) -> &UrlSigner {
        &self.inner.signer
    }

    /// Settings.
    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// Current time per the core's clock.
    pub fn now(&self) -> Millis {
        self.inner.clock.now()
    }

    /// Hands a device's report (an inform or a progress message; anything else is
    /// acknowledged and ignored) to the engine. Returns once the report is queued, waiting
    /// while the queue is full: that holds back only the caller — the device's connection —
    /// and keeps its reports in order. `ack` is sent once the report is stored, or refused
    /// by the store for good; never for a report the server did not store before stopping.
    pub async fn report(&self, device: DeviceKey, message: DeviceMessage, ack: Ack) {
        if !is_report(&message) {
            return ack.send();
        }
        let report = Report {
            device,
            message,
            ack,
        };
        if self.inner.reports.send(report).await.is_err() {
            tracing::warn!("engine stopped; device report not stored");
        }
    }

    /// The device is connected: `reconnected` when it has just connected (its unfinished
    /// pushes are sent again), not when a connection already known was seen again. Never
    /// waits; the ingest worker stores it with its next group.
    pub fn device_connected(&self, device: DeviceKey, reconnected: bool) {
        self.inner.presence.connected(device, reconnected);
    }

    /// The device's connection ended. Never waits.
    pub fn device_disconnected(&self, device: DeviceKey) {
        self.inner.presence.disconnected(device);
    }

    /// Wakes the dispatcher early (tasks became pushable).
    pub(crate) fn wake_dispatcher(&self) {
        self.inner
            .dispatch_generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        self.inner.dispatch_wake.notify_one();
    }

    /// Waits until the dispatcher is woken or `timeout` passes.
    pub async fn dispatcher_wait(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.inner.dispatch_wake.notified()).await;
    }
}
