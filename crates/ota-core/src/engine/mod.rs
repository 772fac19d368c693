//! The engine: what moves tasks. Its loops are [`worker::Worker`]s, all driven by the store
//! and all run by one runner ([`Core::start_workers`]):
//! - [`ingest`] commits device reports in groups, applies them to tasks and acknowledges
//!   them to the devices once stored;
//! - [`dispatch`] releases pushes at each batch's rate to online devices;
//! - [`timers`] fires due retries, timeouts, nudges and batch schedules;
//! - beside them, the creation of batches' tasks (`jobs::creator`), the collection of
//!   expired uploads, the generation of deltas and, on a shared store, following changes
//!   other nodes make.
//!
//! Every deadline is a column in the store, so after a restart the loops pick up exactly
//! where they stopped.

pub(crate) mod apply;
pub mod dispatch;
mod dynamic;
pub mod ingest;
pub(crate) mod presence;
pub(crate) mod report;
pub(crate) mod repush;
pub mod timers;
pub mod worker;

pub use report::Ack;

impl crate::Core {
    /// Starts every worker of the engine on its own task, until `shutdown`: ingest (only
    /// once per core), dispatcher, timers, upload collection, delta generation, the batch
    /// creator, the follower of other nodes' changes and
    /// the webhook delivery worker.
    pub fn start_workers(
        &self,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut started = Vec::new();
        let receiver = self
            .inner
            .reports_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match receiver {
            Some(rx) => started.push(worker::spawn(self, ingest::Ingest::new(rx), shutdown)),
            None => tracing::error!("the ingest worker runs already"),
        }
        started.push(worker::spawn(
            self,
            dispatch::Dispatcher::default(),
            shutdown,
        ));
        started.push(worker::spawn(self, timers::Timers, shutdown));
        started.push(worker::spawn(
            self,
            crate::uploads::UploadCollector,
            shutdown,
        ));
        started.push(worker::spawn(self, crate::deltas::DeltaGenerator, shutdown));
        started.push(worker::spawn(self, crate::jobs::Creator, shutdown));
        started.push(worker::spawn(self, crate::rollouts::Driver, shutdown));
        started.push(worker::spawn(self, crate::cache::ChangeFollower, shutdown));
        started.push(worker::spawn(
            self,
            crate::webhooks::worker::WebhookDelivery::default(),
            shutdown,
        ));
        started
    }
}
