//! One model for every background loop of the platform (ADR 0009): a [`Worker`] does one
//! round of work at a time and says how to wait for the next; [`spawn`] runs it until
//! shutdown, the same way for all of them.
//!
//! What the runner owns, so no loop writes it again: stopping at shutdown (between rounds,
//! never in the middle of one) and letting a worker finish what it accepted; pausing after a
//! failed round, doubling up to [`BACKOFF_MAX`], and logging it once per round (a conditional
//! save that lost a race is expected and logged quietly); counting rounds
//! (`ota_engine_ticks_total{worker}`); and, for work that one node of several should do at
//! a time, holding a platform-wide lease in the store before each round.

use crate::{Core, CoreResult};
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// First pause after a failed round.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
/// Longest pause after failed rounds.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What a round found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Nothing more is known to be waiting: wait for the next round.
    Idle,
    /// More work is waiting: run the next round at once.
    More,
}

/// A background loop of the platform.
pub trait Worker: Send + 'static {
    /// The worker's name in logs and metrics.
    const NAME: &'static str;

    /// Does one round of work. `shutdown` is for rounds that wait for work to arrive (they
    /// return when it fires); the runner itself never interrupts a round.
    fn round(
        &mut self,
        core: &Core,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = CoreResult<Pace>> + Send;

    /// Waits until the next round is due: a tick, a wake-up, or at once.
    fn until_next(&mut self, core: &Core) -> impl Future<Output = ()> + Send;

    /// After shutdown: finishes what the worker accepted (ingest stores what is queued).
    fn finish(&mut self, core: &Core) -> impl Future<Output = ()> + Send {
        let _ = core;
        async {}
    }

    /// `Some(ttl)` for work one node of several does at a time: a round runs only while
    /// this node holds the worker's lease, renewed each round and lost after `ttl`.
    fn exclusive(&self) -> Option<Duration> {
        None
    }
}

/// Runs `worker` on its own task until `shutdown`.
pub fn spawn<W: Worker>(core: &Core, worker: W, shutdown: &CancellationToken) -> JoinHandle<()> {
    tokio::spawn(run(core.clone(), worker, shutdown.clone()))
}

async fn run<W: Worker>(core: Core, mut worker: W, shutdown: CancellationToken) {
    let mut failures = 0u32;
    while !shutdown.is_cancelled() {
        let pace = match holds_lease::<W>(&core, worker.exclusive()).await {
            Ok(false) => Ok(Pace::Idle),
            Ok(true) => worker.round(&core, &shutdown).await,
            Err(err) => Err(err),
        };
        metrics::counter!("ota_engine_ticks_total", "worker" => W::NAME).increment(1);
        let pause = match pace {
            Ok(Pace::More) => {
                failures = 0;
                continue;
            }
            Ok(Pace::Idle) => {
                failures = 0;
                None
            }
            Err(err) if err.is_stale() => {
                tracing::debug!(worker = W::NAME, "a round met work changed meanwhile");
                None
            }
            Err(err) => {
                failures = failures.saturating_add(1);
                let pause = backoff(failures);
                tracing::error!(%err, worker = W::NAME, retry_in_ms = pause.as_millis() as u64,
                    "worker round failed");
                Some(pause)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => break,
            () = async {
                match pause {
                    Some(pause) => tokio::time::sleep(pause).await,
                    None => worker.until_next(&core).await,
                }
            } => {}
        }
    }
    worker.finish(&core).await;
    tracing::info!(worker = W::NAME, "worker stopped");
}

/// The pause after `failures` failed rounds in a row.
fn backoff(failures: u32) -> Duration {
    BACKOFF_FIRST
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX)
}

/// Whether this node may run the worker's round now (`exclusive`: its lease time, if any).
async fn holds_lease<W: Worker>(core: &Core, exclusive: Option<Duration>) -> CoreResult<bool> {
    let Some(ttl) = exclusive else {
        return Ok(true);
    };
    let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    Ok(core
        .inner
        .store
        .hold_lease(W::NAME, &core.inner.holder, core.now(), ttl)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CoreConfig, SystemClock};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn failed_rounds_pause_longer_and_longer() {
        let pauses: Vec<u128> = (1..=8).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }

    /// A core on a SQLite file in `dir` (two cores on one file are two nodes).
    async fn core(dir: &std::path::Path) -> Core {
        let store =
            ota_store::Store::connect(&format!("sqlite://{}", dir.join("ota.db").display()))
                .await
                .unwrap();
        let blobs = ota_blob::DirStore::open(dir.join("packages"))
            .await
            .unwrap();
        Core::new(
            store,
            blobs,
            ota_blob::UrlSigner::new("s".to_owned()),
            Arc::new(SystemClock),
            CoreConfig::default(),
        )
    }

    /// Counts its rounds, fails the first `failing` of them, stops the runner after `stop_after`.
    struct Probe {
        rounds: Arc<AtomicU32>,
        finished: Arc<AtomicU32>,
        failing: u32,
        stop_after: u32,
        shutdown: CancellationToken,
        exclusive: bool,
    }

    impl Worker for Probe {
        const NAME: &'static str = "probe";

        async fn round(&mut self, _core: &Core, _shutdown: &CancellationToken) -> CoreResult<Pace> {
            let n = self.rounds.fetch_add(1, Ordering::SeqCst) + 1;
            if n >= self.stop_after {
                self.shutdown.cancel();
            }
            if n <= self.failing {
                return Err(ota_store::StoreError::Corrupt("probe".into()).into());
            }
            Ok(Pace::Idle)
        }

        async fn until_next(&mut self, _core: &Core) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        async fn finish(&mut self, _core: &Core) {
            self.finished.fetch_add(1, Ordering::SeqCst);
        }

        fn exclusive(&self) -> Option<Duration> {
            self.exclusive.then_some(Duration::from_secs(60))
        }
    }

    fn probe(
        failing: u32,
        stop_after: u32,
        shutdown: &CancellationToken,
        exclusive: bool,
    ) -> Probe {
        Probe {
            rounds: Arc::default(),
            finished: Arc::default(),
            failing,
            stop_after,
            shutdown: shutdown.clone(),
            exclusive,
        }
    }

    #[tokio::test]
    async fn a_worker_backs_off_after_failures_and_finishes_at_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path()).await;
        // The store is open; from here on time only moves when every task waits.
        tokio::time::pause();
        let shutdown = CancellationToken::new();
        let worker = probe(3, 6, &shutdown, false);
        let (rounds, finished) = (worker.rounds.clone(), worker.finished.clone());
        let start = tokio::time::Instant::now();
        spawn(&core, worker, &shutdown).await.unwrap();
        assert_eq!(rounds.load(Ordering::SeqCst), 6, "stopped between rounds");
        assert_eq!(finished.load(Ordering::SeqCst), 1, "finished once");
        // Three failures paused 200 + 400 + 800 ms; the good rounds waited 5 ms each.
        let waited = start.elapsed();
        assert!(
            (Duration::from_millis(1_405)..Duration::from_millis(1_420)).contains(&waited),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn an_exclusive_worker_runs_on_one_node_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (core(dir.path()).await, core(dir.path()).await);
        let shutdown = CancellationToken::new();
        let on_a = probe(0, u32::MAX, &shutdown, true);
        let on_b = probe(0, u32::MAX, &shutdown, true);
        let (rounds_a, rounds_b) = (on_a.rounds.clone(), on_b.rounds.clone());
        let runs = [spawn(&a, on_a, &shutdown), spawn(&b, on_b, &shutdown)];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while rounds_a.load(Ordering::SeqCst) + rounds_b.load(Ordering::SeqCst) < 20 {
            assert!(tokio::time::Instant::now() < deadline, "no rounds");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        for run in runs {
            run.await.unwrap();
        }
        let (ra, rb) = (
            rounds_a.load(Ordering::SeqCst),
            rounds_b.load(Ordering::SeqCst),
        );
        assert!(ra == 0 || rb == 0, "both nodes ran rounds: {ra} and {rb}");
    }
}
