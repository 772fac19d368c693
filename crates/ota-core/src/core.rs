//! The [`Core`] handle: shared state of the service layer, cheap to clone.

use crate::cache::Cache;
use crate::engine::{self, DeviceInput};
use crate::{Clock, CoreConfig, DeviceLink, NoDevices};
use ota_blob::{BlobStore, UrlSigner};
use ota_domain::Millis;
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
    pub events: mpsc::Sender<DeviceInput>,
    pub events_rx: tokio::sync::Mutex<Option<mpsc::Receiver<DeviceInput>>>,
    /// Wakes the dispatcher when tasks became pushable.
    pub dispatch_wake: Notify,
    /// Counts wake-ups, so the dispatcher can tell whether anything may have become
    /// pushable since it last found a batch with nothing ready.
    pub dispatch_generation: std::sync::atomic::AtomicU64,
    pub cache: Cache,
    pub signing: crate::signing::SigningCache,
    pub deltas: crate::deltas::DeltaState,
    pub block_grants: crate::block_grants::BlockGrants,
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
        let (events, events_rx) = mpsc::channel(config.ingest_batch * 16);
        Core {
            inner: Arc::new(Inner {
                store,
                blobs: blobs.into(),
                signer,
                clock,
                config,
                link: RwLock::new(Arc::new(NoDevices)),
                events,
                events_rx: tokio::sync::Mutex::new(Some(events_rx)),
                dispatch_wake: Notify::new(),
                dispatch_generation: std::sync::atomic::AtomicU64::new(0),
                cache: Cache::default(),
                signing: Default::default(),
                deltas: Default::default(),
                block_grants: Default::default(),
            }),
        }
    }

    /// Connects the outbound device port (the broker starts after the core exists).
    pub fn set_link(&self, link: Arc<dyn DeviceLink>) {
        *self.inner.link.write().unwrap_or_else(|e| e.into_inner()) = link;
    }

    pub(crate) fn link(&self) -> Arc<dyn DeviceLink> {
        self.inner
            .link
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The store (for faces that need read-only queries the services do not wrap).
    pub fn store(&self) -> &Store {
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

    /// Hands a device event to the engine. Waits only when the engine is saturated, which
    /// slows that one connection down instead of dropping its reports.
    pub async fn submit(&self, input: DeviceInput) {
        if self.inner.events.send(input).await.is_err() {
            tracing::warn!("engine stopped; device event dropped");
        }
    }

    /// Hands a device event to the engine without waiting, for callers that must not block
    /// (the broker's connection tasks). When the engine is saturated the event waits on a
    /// task of its own instead of being dropped.
    pub fn submit_nowait(&self, input: DeviceInput) {
        use tokio::sync::mpsc::error::TrySendError;
        match self.inner.events.try_send(input) {
            Ok(()) => {}
            Err(TrySendError::Full(input)) => {
                let core = self.clone();
                tokio::spawn(async move { core.submit(input).await });
            }
            Err(TrySendError::Closed(_)) => tracing::warn!("engine stopped; device event dropped"),
        }
    }

    /// Runs the ingest worker until `shutdown` fires. Only one may run.
    pub async fn run_ingest(&self, shutdown: tokio_util::sync::CancellationToken) {
        let Some(rx) = self.inner.events_rx.lock().await.take() else {
            tracing::error!("ingest worker already running");
            return;
        };
        engine::ingest::run(self.clone(), rx, shutdown).await;
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
