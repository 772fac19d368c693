//! `ota bench rate`: push-rate fidelity. A batch's `MaximumPerMinute` is a promise to the
//! operator about load on their backend and their devices' network; this measures how
//! closely the server keeps it. For each rate (and for a stepped rate) a fresh server
//! pushes one ALL batch to a fleet larger than the measured minutes need (connected in
//! waves when it is more than one server process can hold at once), and the fleet's own
//! count of pushes received is read every few milliseconds. Pushes are
//! then counted per minute from the first one, against the rate the batch had in force.

use crate::client::text;
use crate::launch::OwnServer;
use anyhow::{Context, bail};
use clap::Args;
use ota_device_sdk::sim::{self, DeviceCredentials, SimConfig, SimStats};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug, Clone)]
pub struct RateArgs {
    /// Fixed rates to measure, pushes a minute (10-10000): one run each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub rates: Vec<u32>,
    /// A stepped rate, measured after the fixed ones: the batch starts at the first rate and
    /// moves to the next one every window (`--steps` with no value measures none).
    #[arg(long, value_delimiter = ',', num_args = 0.., default_value = "1000,2000,4000")]
    pub steps: Vec<u32>,
    /// The counted window in seconds: a minute, as `MaximumPerMinute` counts.
    #[arg(long, default_value_t = 60)]
    pub window_secs: u64,
    /// Windows counted at each fixed rate.
    #[arg(long, default_value_t = 3)]
    pub windows: u32,
    /// Most devices connected at once. The server holds a connection per device, and one
    /// process opens about 19,000 under a 20,000-descriptor limit; a rate whose windows
    /// need more devices gets them in waves, each connecting as updated devices leave.
    #[arg(long, default_value_t = 19_000)]
    pub max_devices: usize,
    #[command(flatten)]
    pub own: OwnServer,
}

/// The rate a batch has from a moment on: (milliseconds after creation, pushes a minute).
type Schedule = Vec<(i64, u32)>;

/// Runs every measurement and returns the report.
pub async fn rate(args: RateArgs) -> anyhow::Result<serde_json::Value> {
    let window_ms = args.window_secs as i64 * 1000;
    let mut runs = Vec::new();
    for &rate in &args.rates {
        runs.push(measure(&args, vec![(0, rate)], args.windows).await?);
    }
    let steps = &args.steps;
    if !steps.is_empty() {
        let schedule = steps
            .iter()
            .enumerate()
            .map(|(i, &rate)| (i as i64 * window_ms, rate))
            .collect();
        runs.push(measure(&args, schedule, steps.len() as u32).await?);
    }
    let worst = runs
        .iter()
        .filter_map(|r| r["max_abs_deviation_pct"].as_f64())
        .fold(0.0, f64::max);
    Ok(json!({
        "store": args.own.store_name(),
        "window_seconds": args.window_secs,
        "runs": runs,
        "max_abs_deviation_pct": worst,
    }))
}

/// Pushes expected over `from..to` (epoch ms) by a schedule that started at `created`.
fn expected(schedule: &[(i64, u32)], created: i64, from: i64, to: i64) -> f64 {
    let mut total = 0.0;
    for (i, &(offset, rate)) in schedule.iter().enumerate() {
        let start = (created + offset).max(from);
        let end = schedule
            .get(i + 1)
            .map_or(to, |&(next, _)| (created + next).min(to));
        if end > start {
            total += f64::from(rate) * (end - start) as f64 / 60_000.0;
        }
    }
    total
}

/// The fleet's count of pushes received at `at`, from samples taken where it changed.
fn count_at(samples: &[(i64, u64)], at: i64) -> u64 {
    let i = samples.partition_point(|&(t, _)| t <= at);
    if i == 0 { 0 } else { samples[i - 1].1 }
}

/// Counts pushes per window from the first push: each window that ended while devices
/// were still waiting (so the rate, not the fleet, limited it), against the schedule.
fn windows(
    samples: &[(i64, u64)],
    schedule: &[(i64, u32)],
    created: i64,
    window_ms: i64,
    count: u32,
) -> (Vec<serde_json::Value>, u32) {
    let Some(&(first, _)) = samples.first() else {
        return (Vec::new(), count);
    };
    // The last sample is the moment the last device was pushed, or the end of the watch.
    let supplied_until = samples.last().map_or(first, |&(t, _)| t);
    let mut out = Vec::new();
    let mut incomplete = 0;
    for k in 0..count {
        let from = first + k as i64 * window_ms;
        let to = from + window_ms;
        if to > supplied_until {
            incomplete += 1;
            continue;
        }
        let pushed = count_at(samples, to - 1) - count_at(samples, from - 1);
        let want = expected(schedule, created, from, to);
        out.push(json!({
            "from_second": k as i64 * window_ms / 1000,
            "pushed": pushed,
            "expected": (want * 10.0).round() / 10.0,
            "deviation_pct": ((pushed as f64 - want) / want * 10_000.0).round() / 100.0,
        }));
    }
    (out, incomplete)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One batch at `schedule` on a fresh server, `count` windows counted.
async fn measure(
    args: &RateArgs,
    schedule: Schedule,
    count: u32,
) -> anyhow::Result<serde_json::Value> {
    let window_ms = args.window_secs as i64 * 1000;
    let measured_ms = window_ms * count as i64;
    // Enough devices that the rate, not the fleet, ends every window, and a few seconds
    // more at the last rate.
    let last_rate = schedule.last().map_or(0, |s| s.1);
    let wanted = expected(&schedule, 0, 0, measured_ms) + f64::from(last_rate) * 5.0 / 60.0;
    let devices = (wanted.ceil() as usize).max(1);

    let (_dir, server, api) = args.own.start().await?;
    let product = api.post("/products", &json!({"name": "BenchRate"})).await?;
    let pk = text(&product, "product_key")?;
    let credentials = crate::sim::register(&api, &pk, devices).await?;
    let firmware =
        crate::bench::add_package(&api, &pk, "2.0.0", vec![7u8; 1024], json!({})).await?;
    let firmware_id = text(&firmware, "firmware_id")?;

    let watch = Duration::from_millis(measured_ms as u64) + Duration::from_secs(120);
    let mut fleet = Fleet::new(credentials, server.mqtt, watch + Duration::from_secs(300));
    let first = fleet.top_up(args.max_devices);
    crate::sim::wait_reported(&api, &pk, first, Duration::from_secs(300)).await?;
    eprintln!(
        "{first} of {devices} devices connected; schedule {schedule:?} (ms after creation, per minute)"
    );

    let created = now_ms();
    let steps: Vec<_> = schedule
        .iter()
        .skip(1)
        .map(|&(offset, rate)| json!({"at": created + offset, "per_minute": rate}))
        .collect();
    api.post(
        &format!("/firmwares/{firmware_id}/jobs"),
        &json!({"kind": "static", "target_selection": "ALL",
                "maximum_per_minute": schedule[0].1, "rate_steps": steps}),
    )
    .await
    .context("creating the batch")?;

    // Where the fleet's count changed: (epoch ms, pushes received so far).
    let mut samples: Vec<(i64, u64)> = Vec::new();
    let deadline = Instant::now() + watch;
    loop {
        fleet.top_up(args.max_devices);
        let notified = fleet.notified();
        if samples.last().map_or(notified > 0, |&(_, n)| n != notified) {
            samples.push((now_ms(), notified));
        }
        if notified as usize >= devices {
            break;
        }
        if Instant::now() > deadline {
            // The end of the watch bounds the windows that can be counted.
            samples.push((now_ms(), notified));
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    fleet.stop();
    let pushes_total = server
        .metrics()
        .await
        .ok()
        .and_then(|page| crate::launch::metric_sum(&page, "ota_pushes_total"));
    server.stop().await?;

    let (counted, incomplete) = windows(&samples, &schedule, created, window_ms, count);
    if counted.is_empty() {
        bail!("no window could be counted: {devices} devices ran out first");
    }
    let worst = counted
        .iter()
        .filter_map(|w| w["deviation_pct"].as_f64())
        .map(f64::abs)
        .fold(0.0, f64::max);
    let first_push_after_creation_ms = samples.first().map(|&(t, _)| t - created);
    Ok(json!({
        "schedule": schedule.iter().map(|&(offset, rate)| json!({
            "from_second": offset / 1000, "per_minute": rate})).collect::<Vec<_>>(),
        "devices": devices,
        "first_push_after_creation_ms": first_push_after_creation_ms,
        "pushed": samples.last().map_or(0, |s| s.1),
        "server_pushes_total": pushes_total,
        "windows": counted,
        "windows_not_counted": incomplete,
        "max_abs_deviation_pct": worst,
    }))
}

/// The simulated devices of one run, connected in waves: no more than a given number at
/// once, the next wave as devices that have updated disconnect.
struct Fleet {
    waiting: Vec<DeviceCredentials>,
    mqtt: SocketAddr,
    duration: Duration,
    waves: Vec<(tokio::task::JoinHandle<()>, Arc<SimStats>)>,
    launched: usize,
}

/// Devices per wave after the first: a tenth of those connected at once, at most 1,000.
fn wave_size(most: usize) -> usize {
    (most / 10).clamp(1, 1_000)
}

impl Fleet {
    fn new(devices: Vec<DeviceCredentials>, mqtt: SocketAddr, duration: Duration) -> Fleet {
        let mut waiting = devices;
        // Waves take devices from the end: keep registration order.
        waiting.reverse();
        Fleet {
            waiting,
            mqtt,
            duration,
            waves: Vec::new(),
            launched: 0,
        }
    }

    /// Starts the next wave when there is room under `most` devices at once; returns how
    /// many devices it started.
    fn top_up(&mut self, most: usize) -> usize {
        let finished: u64 = self.waves.iter().map(|(_, s)| s.snapshot().finished).sum();
        let active = self.launched - finished as usize;
        let room = most.saturating_sub(active);
        let wave = wave_size(most);
        let size = if self.waves.is_empty() {
            room
        } else {
            room.min(wave)
        };
        // Later waves wait for a whole wave's room, so waves stay few.
        if self.waiting.is_empty() || size == 0 || (!self.waves.is_empty() && size < wave) {
            return 0;
        }
        let wave: Vec<_> = (0..size).map_while(|_| self.waiting.pop()).collect();
        let started = wave.len();
        let mut config = SimConfig::new(wave, vec![self.mqtt]);
        config.connect_concurrency = 256;
        config.duration = Some(self.duration);
        let stats = Arc::new(SimStats::default());
        let run = sim::run(config, stats.clone());
        self.waves.push((
            tokio::spawn(async move {
                let _ = run.await;
            }),
            stats,
        ));
        self.launched += started;
        started
    }

    /// Pushes received over every wave.
    fn notified(&self) -> u64 {
        self.waves.iter().map(|(_, s)| s.snapshot().notified).sum()
    }

    fn stop(&self) {
        for (wave, _) in &self.waves {
            wave.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_integrates_the_schedule_over_the_window() {
        let schedule = vec![(0, 600), (60_000, 1200)];
        let cases = [
            // (from, to, expected): times relative to creation at 1,000.
            (1_000, 61_000, 600.0),
            (61_000, 121_000, 1200.0),
            // Half a minute at each rate.
            (31_000, 91_000, 300.0 + 600.0),
            // Before creation nothing is due.
            (0, 1_000, 0.0),
        ];
        for (from, to, want) in cases {
            let got = expected(&schedule, 1_000, from, to);
            assert!((got - want).abs() < 1e-9, "{from}..{to}: {got} != {want}");
        }
    }

    #[test]
    fn windows_count_from_the_first_push_and_skip_those_the_fleet_ran_out_in() {
        // A push every 100 ms from t = 1,000 to 2,900 (20 pushes), counted in 1 s windows.
        let samples: Vec<(i64, u64)> = (0..20).map(|i| (1_000 + i * 100, i as u64 + 1)).collect();
        let (counted, incomplete) = windows(&samples, &[(0, 600)], 1_000, 1_000, 3);
        assert_eq!(counted.len(), 1, "{counted:?}");
        assert_eq!(counted[0]["pushed"], 10);
        assert_eq!(counted[0]["expected"], 10.0);
        assert_eq!(counted[0]["deviation_pct"], 0.0);
        // The second window ends at 3,000, after the last push at 2,900: not counted, nor
        // the third.
        assert_eq!(incomplete, 2);
    }

    #[test]
    fn count_at_takes_the_last_change_at_or_before_the_moment() {
        let samples = [(10, 1), (20, 5), (30, 9)];
        assert_eq!(count_at(&samples, 9), 0);
        assert_eq!(count_at(&samples, 10), 1);
        assert_eq!(count_at(&samples, 29), 5);
        assert_eq!(count_at(&samples, 100), 9);
    }
}
