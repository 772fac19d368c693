//! The dispatcher: releases pushes at each batch's rate.
//!
//! Every pushing batch has a token bucket that fills at its `MaximumPerMinute` (or the rate
//! step in force) and holds at most five seconds' worth, so a batch never bursts past its
//! rate after a quiet spell. It starts with one push, so from the first push on every
//! minute holds the rate's pushes (`ota bench rate` measures it). Each tick takes as many
//! READY tasks of online devices as the bucket allows, sends their pushes, and records the
//! ones that reached a connection as NOTIFIED in one transaction.
//!
//! On a store several nodes share (PostgreSQL), the ready tasks are claimed with a lease, so
//! two nodes never push the same task.
//!
//! A batch found with nothing ready is skipped until something may have changed (a wake-up:
//! new tasks, a device online, a retry due) or a second has passed, so a rollout of many
//! parallel batches does not cost one query per batch per tick.
//!
//! A batch with maintenance windows starts devices only while one is open
//! (`ota_domain::job::window_state`, from the platform time, so every node agrees); a batch
//! with an exponential ramp pushes at the rate its counts of notified or succeeded devices
//! give (`JobPolicy::rate_now`), the counts read at most every [`RAMP_COUNTS_MS`].

use super::apply::TaskChanges;
use crate::{Core, CoreResult};
use ota_domain::job::{Job, JobStatus, window_state};
use ota_domain::task::TaskEvent;
use ota_domain::{JobId, Millis};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Token buckets of the running batches, owned by the dispatcher loop.
#[derive(Default)]
pub struct Dispatcher {
    buckets: HashMap<JobId, Bucket>,
    /// Batches that had nothing ready: at which wake generation and when.
    drained: HashMap<JobId, (u64, Millis)>,
    /// Ramped batches' (notified, succeeded) counts and when they were read.
    ramp_counts: HashMap<JobId, (Millis, u64, u64)>,
}

/// How often a ramped batch's counts are read again.
pub const RAMP_COUNTS_MS: Millis = 2_000;

/// How long a drained batch is skipped when no wake-up arrives.
const RECHECK_MS: Millis = 1_000;
/// On a store shared by several nodes, how long tasks taken for pushing are kept from the
/// other nodes' dispatchers (pushed tasks are saved and unsent ones released sooner; this
/// only bounds how long a node that stops mid-push holds them).
const PUSH_LEASE_MS: Millis = 10_000;

struct Bucket {
    tokens: f64,
    at: Millis,
}

impl Bucket {
    /// A batch's first bucket holds one push: the first device is pushed at once and the
    /// next ones as the rate earns them, so the first minute holds `MaximumPerMinute`
    /// pushes, not that plus a head start.
    fn start(now: Millis) -> Bucket {
        Bucket {
            tokens: 1.0,
            at: now,
        }
    }

    fn refill(&mut self, per_minute: u32, now: Millis) -> usize {
        let per_ms = f64::from(per_minute) / 60_000.0;
        // Five seconds' worth, and never under two pushes: a bucket capped at one would
        // drop the fraction earned past a whole push at slow rates (10 a minute ticked every
        // second pushed 8 a minute).
        let cap = (f64::from(per_minute) / 12.0).max(2.0);
        self.tokens = (self.tokens + per_ms * (now - self.at).max(0) as f64).min(cap);
        self.at = now;
        self.tokens.floor() as usize
    }
}

impl Dispatcher {
    /// One round over all running batches. Returns how many pushes were delivered.
    pub async fn tick(&mut self, core: &Core) -> CoreResult<usize> {
        let now = core.now();
        let mut jobs = core
            .inner
            .store
            .list_jobs_by_status(&[JobStatus::InProgress])
            .await?;
        // A cancel may leave tasks alone (per-state options, a dynamic batch's policy);
        // they are still pushed until they end.
        jobs.extend(core.inner.store.cancelled_jobs_with_queued_tasks().await?);
        self.buckets
            .retain(|id, _| jobs.iter().any(|j| &j.job_id == id));
        self.drained
            .retain(|id, _| jobs.iter().any(|j| &j.job_id == id));
        self.ramp_counts
            .retain(|id, _| jobs.iter().any(|j| &j.job_id == id));
        let mut delivered = 0;
        for job in jobs {
            // A paused batch, or one whose tasks are still being created, starts no new
            // device (`ota_domain::job::gate`, `ota_domain::job::creation`).
            if !job.policy.need_push || job.is_held() {
                continue;
            }
            // Outside every maintenance window no device is started; tasks wait QUEUED.
            if !window_state(&job.policy.maintenance_windows, now).is_open() {
                continue;
            }
            let rate = match job.policy.exponential_rate {
                None => job.policy.rate_at(now),
                Some(_) => {
                    let (notified, succeeded) = self.ramp_counts(core, &job.job_id, now).await?;
                    job.policy.rate_now(now, notified, succeeded)
                }
            };
            let bucket = self
                .buckets
                .entry(job.job_id.clone())
                .or_insert_with(|| Bucket::start(now));
            let allowance = bucket.refill(rate, now);
            if allowance == 0 {
                continue;
            }
            let generation = core.inner.dispatch_generation.load(Ordering::Acquire);
            if let Some(&(seen, at)) = self.drained.get(&job.job_id)
                && seen == generation
                && now - at < RECHECK_MS
            {
                continue;
            }
            let job_id = job.job_id.clone();
            let (found, sent) = push_ready(core, Arc::new(job), allowance, now).await?;
            if found < allowance {
                self.drained.insert(job_id, (generation, now));
            } else {
                self.drained.remove(&job_id);
            }
            bucket.tokens -= sent as f64;
            delivered += sent;
        }
        Ok(delivered)
    }
}

impl Dispatcher {
    /// A ramped batch's (notified, succeeded) counts, read from the store at most every
    /// [`RAMP_COUNTS_MS`].
    async fn ramp_counts(
        &mut self,
        core: &Core,
        job: &JobId,
        now: Millis,
    ) -> CoreResult<(u64, u64)> {
        if let Some(&(at, notified, succeeded)) = self.ramp_counts.get(job)
            && now - at < RAMP_COUNTS_MS
            && now >= at
        {
            return Ok((notified, succeeded));
        }
        let counts = core.inner.store.job_task_counts(job).await?;
        let succeeded = counts
            .status(ota_domain::task::TaskStatus::Succeeded)
            .max(0) as u64;
        let notified = counts.notified();
        self.ramp_counts
            .insert(job.clone(), (now, notified, succeeded));
        Ok((notified, succeeded))
    }
}

/// Pushes up to `allowance` ready tasks; returns (tasks found ready, pushes delivered).
async fn push_ready(
    core: &Core,
    job: Arc<Job>,
    allowance: usize,
    now: Millis,
) -> CoreResult<(usize, usize)> {
    let store = &core.inner.store;
    let limit = allowance as i64;
    let shared = store.is_shared();
    let tasks = if shared {
        store
            .claim_ready_tasks(&job.job_id, now, PUSH_LEASE_MS, limit)
            .await?
    } else {
        store.ready_tasks(&job.job_id, limit).await?
    };
    if tasks.is_empty() {
        return Ok((0, 0));
    }
    let firmware = core.inner.cache.firmware(store, &job.firmware_id).await?;
    let link = core.link();
    let mut outcome = TaskChanges::default();
    let mut unsent = Vec::new();
    for task in &tasks {
        let (topic, payload) = core
            .delivery()
            .upgrade_message(&firmware, &job, task, now)
            .await?;
        if link.send(&task.device_key(), &topic, payload) {
            outcome.apply(core, task, TaskEvent::Delivered, now).await?;
        } else {
            unsent.push(task.task_id.clone());
        }
    }
    if shared {
        // The device may be connected to another node: let that node take the task now.
        store.release_leases(&unsent).await?;
    }
    let sent = outcome.changed.len();
    metrics::counter!("ota_pushes_total").increment(sent as u64);
    match outcome.commit(core).await {
        // A device answered its push before the push was recorded: its report moved the
        // task on, which is as it should be.
        Err(err) if err.is_stale() => tracing::debug!("a pushed task moved on before it was saved"),
        result => {
            result?;
        }
    }
    Ok((tasks.len(), sent))
}

impl super::worker::Worker for Dispatcher {
    const NAME: &'static str = "dispatcher";

    async fn round(
        &mut self,
        core: &Core,
        _shutdown: &tokio_util::sync::CancellationToken,
    ) -> CoreResult<super::worker::Pace> {
        self.tick(core).await?;
        Ok(super::worker::Pace::Idle)
    }

    /// Until tasks may have become pushable, or a tick has passed.
    async fn until_next(&mut self, core: &Core) {
        core.dispatcher_wait(core.inner.config.tick).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes per minute from the first push of a batch with an endless supply of ready
    /// devices, ticked every `tick_ms`, over `minutes`.
    fn pushes_per_minute(rate: u32, tick_ms: Millis, minutes: usize) -> Vec<usize> {
        let mut bucket = Bucket::start(0);
        let mut counts = vec![0; minutes];
        let mut now = 0;
        while now < minutes as Millis * 60_000 {
            let sent = bucket.refill(rate, now);
            bucket.tokens -= sent as f64;
            counts[(now / 60_000) as usize] += sent;
            now += tick_ms;
        }
        counts
    }

    #[test]
    fn every_minute_from_the_first_push_holds_the_rate() {
        for rate in [10, 100, 1_000, 10_000] {
            for tick_ms in [50, 200, 1_000] {
                for (minute, &count) in pushes_per_minute(rate, tick_ms, 4).iter().enumerate() {
                    let off = count.abs_diff(rate as usize) as f64;
                    // Within what one tick earns, and one push: the tick that falls just
                    // after a minute's end pushes what was earned just before it.
                    let one_tick = f64::from(rate) * tick_ms as f64 / 60_000.0;
                    assert!(
                        off <= 1.0 + one_tick,
                        "rate {rate}, tick {tick_ms} ms, minute {minute}: {count} pushes"
                    );
                }
            }
        }
    }

    #[test]
    fn a_quiet_bucket_holds_at_most_five_seconds_of_pushes() {
        let cases = [(10, 2), (24, 2), (600, 50), (6_000, 500), (10_000, 833)];
        for (rate, most) in cases {
            let mut bucket = Bucket::start(0);
            assert_eq!(bucket.refill(rate, 3_600_000), most, "rate {rate}");
        }
    }
}
