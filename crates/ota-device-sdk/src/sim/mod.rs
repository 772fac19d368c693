//! A fleet simulator: thousands of devices in one process, each a real MQTT client doing
//! real downloads, so the platform can be exercised end to end without hardware
//! (`ota sim` in the binary). Given a base image, devices keep the images they install and
//! apply delta packages for real (see [`ImageLibrary`]).
//!
//! Each device is one tokio task plus its `rumqttc` event loop task, with small queues;
//! downloads go to a [`crate::DiscardSink`] (hashed, not kept) through one shared HTTP client,
//! so memory stays bounded whatever the package size. Devices connect through a semaphore
//! (`connect_concurrency`) and round-robin over `mqtt_addrs`; see [`crate::DeviceConfig`]
//! for why several loopback addresses help. Progress is visible at any time through
//! [`SimStats`]. For fault runs, devices can say everything twice and some things out of
//! order ([`Echo`]) and ride out longer download outages (`download_retries`).

mod behaviour;
mod credentials;
mod echo;
mod images;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ota_protocol::{HmacMethod, UpgradePush};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::event_loop::Backoff;
use crate::{Device, DeviceConfig, SdkError};

pub use behaviour::Behaviour;
use behaviour::SimHandler;
pub use credentials::{DeviceCredentials, load_credentials_csv, parse_credentials_csv};
use echo::DeviceEcho;
pub use echo::Echo;
pub use images::ImageLibrary;
pub use stats::{SimSnapshot, SimStats};

/// A simulation run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The devices to simulate.
    pub devices: Vec<DeviceCredentials>,
    /// Broker addresses, assigned to devices round-robin. Must not be empty.
    pub mqtt_addrs: Vec<SocketAddr>,
    /// What devices do with updates (a [`Behaviour::Mix`] spreads several over the fleet).
    pub behaviour: Behaviour,
    /// Version every device reports at start.
    pub initial_version: String,
    /// Module updated and reported; `None` for the default module.
    pub module: Option<String>,
    /// Connection attempts in flight at once.
    pub connect_concurrency: usize,
    /// Stop after this long; `None` runs until every device is done.
    pub duration: Option<Duration>,
    /// Pull (`thing/ota/firmware/get`) at start and every `pull_interval`, besides waiting
    /// for pushes.
    pub pull: bool,
    /// Pull period when `pull` is set.
    pub pull_interval: Duration,
    /// A device ends after its first update (success or failure); otherwise it keeps
    /// waiting for pushes (retries, new jobs) until `duration` ends the run.
    pub stop_after_update: bool,
    /// CONNECT signature method.
    pub sign_method: HmacMethod,
    /// MQTT keep-alive.
    pub keep_alive: Duration,
    /// Package-signing public keys every device trusts (base64); empty skips signature
    /// checks. `ota sim --verify-signatures` fills it from the API.
    pub trusted_keys: Vec<String>,
    /// The image every device runs at start (`initial_version`). When set, devices keep
    /// what they install (one shared copy per version) and apply delta packages to it for
    /// real; otherwise downloads are discarded after hashing and delta packages refused.
    pub base_image: Option<Vec<u8>>,
    /// Memory every device announces for applying deltas
    /// ([`DeviceConfig::delta_memory_limit`]); `None` takes any delta.
    pub delta_memory_limit: Option<u64>,
    /// PEM authorities of the broker's TLS certificate: devices then connect over TLS and
    /// trust them for HTTPS downloads ([`DeviceConfig::tls_ca_pem`]); `None`: plain MQTT.
    pub tls_ca_pem: Option<Vec<u8>>,
    /// Churn: a device closes its connection and connects again after about this long
    /// connected (between half and one and a half times it, at random), whenever it is not
    /// in the middle of an update; `None`: devices stay connected.
    pub churn: Option<Duration>,
    /// How often an HTTP download resumes (with `Range`) after a failure that made no
    /// progress before the device gives up with step -2; `None`: the SDK's default
    /// ([`crate::DownloadOptions::http_retries`]). Devices that must ride out a download
    /// server's outage of some seconds need more.
    pub download_retries: Option<u32>,
    /// Send every report twice, some out of order ([`Echo`]); `None`: once, in order.
    pub echo: Option<Echo>,
}

impl SimConfig {
    /// A run of `devices` against `mqtt_addrs` with defaults: everyone succeeds, version
    /// `1.0.0`, default module, 64 concurrent connects, no time limit, push only, devices end
    /// after one update, `hmacsha1`, keep-alive 60 s.
    pub fn new(devices: Vec<DeviceCredentials>, mqtt_addrs: Vec<SocketAddr>) -> Self {
        Self {
            devices,
            mqtt_addrs,
            behaviour: Behaviour::Succeed,
            initial_version: "1.0.0".into(),
            module: None,
            connect_concurrency: 64,
            duration: None,
            pull: false,
            pull_interval: Duration::from_secs(60),
            stop_after_update: true,
            sign_method: HmacMethod::HmacSha1,
            keep_alive: Duration::from_secs(60),
            trusted_keys: Vec::new(),
            base_image: None,
            delta_memory_limit: None,
            tls_ca_pem: None,
            churn: None,
            download_retries: None,
            echo: None,
        }
    }
}

/// Runs the simulation until every device is done or `duration` passes, updating `stats`
/// throughout, and returns the final counts. Dropping (aborting) the future stops every
/// device.
pub async fn run(config: SimConfig, stats: Arc<SimStats>) -> Result<SimSnapshot, SdkError> {
    if config.mqtt_addrs.is_empty() {
        return Err(SdkError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no MQTT address to connect to",
        )));
    }
    stats.devices.store(
        config.devices.len() as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let mut http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64);
    if let Some(pem) = &config.tls_ca_pem {
        http = http.tls_certs_merge(reqwest::Certificate::from_pem_bundle(pem)?);
    }
    let http = http.build()?;
    let connects = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let duration = config.duration;
    let mut config = config;
    let images = config
        .base_image
        .take()
        .map(|image| Arc::new(ImageLibrary::with_base(&config.initial_version, image)));
    let config = Arc::new(config);
    let mut devices = JoinSet::new();
    for index in 0..config.devices.len() {
        let sim = SimDevice {
            index,
            config: Arc::clone(&config),
            stats: Arc::clone(&stats),
            http: http.clone(),
            connects: Arc::clone(&connects),
            images: images.clone(),
        };
        devices.spawn(sim.run());
    }
    let all_done = async { while devices.join_next().await.is_some() {} };
    match duration {
        Some(limit) => {
            let _ = tokio::time::timeout(limit, all_done).await;
        }
        None => all_done.await,
    }
    devices.shutdown().await;
    // Aborted devices could not lower their gauges.
    stats
        .connected
        .store(0, std::sync::atomic::Ordering::Relaxed);
    stats
        .downloading
        .store(0, std::sync::atomic::Ordering::Relaxed);
    Ok(stats.snapshot())
}

/// A handle that reports for `device` (the echo's), without its handler: a handler holding
/// its own device would keep it alive forever.
fn reporter<H>(device: &Device<H>) -> Device<()> {
    Device {
        inner: Arc::clone(&device.inner),
        handler: Arc::new(()),
    }
}

/// How one connected stretch of a device's life ended.
enum Stretch {
    /// Go offline for a while, then reconnect and pull.
    Offline(Duration),
    /// Reconnect at once (churn).
    Reconnect,
    /// The device is done.
    Done,
}

/// What a device waiting for a package got.
enum Next {
    Package(Box<UpgradePush>),
    /// Its connected stretch is over (churn).
    Churn,
    /// The device was closed.
    Closed,
}

struct SimDevice {
    index: usize,
    config: Arc<SimConfig>,
    stats: Arc<SimStats>,
    http: reqwest::Client,
    connects: Arc<Semaphore>,
    images: Option<Arc<ImageLibrary>>,
}

/// What a device remembers across reconnects.
struct Memory {
    version: String,
    notified: bool,
    went_offline: bool,
    pull_due: bool,
}

impl SimDevice {
    async fn run(self) {
        let behaviour = self
            .config
            .behaviour
            .for_device(self.index, self.config.devices.len());
        let mut mem = Memory {
            version: self.config.initial_version.clone(),
            notified: false,
            went_offline: false,
            pull_due: self.config.pull,
        };
        loop {
            let device = self.connect(&behaviour).await;
            SimStats::inc(&self.stats.connected);
            let stretch = self.serve(&device, &behaviour, &mut mem).await;
            device.close().await;
            SimStats::dec(&self.stats.connected);
            match stretch {
                Stretch::Offline(d) => {
                    tokio::time::sleep(d).await;
                    mem.pull_due = true;
                }
                Stretch::Reconnect => SimStats::inc(&self.stats.reconnects),
                Stretch::Done => break,
            }
        }
        SimStats::inc(&self.stats.finished);
    }

    /// Connects, retrying with backoff; at most `connect_concurrency` attempts run at once.
    async fn connect(&self, behaviour: &Behaviour) -> Device<SimHandler> {
        let creds = &self.config.devices[self.index];
        let addr = self.config.mqtt_addrs[self.index % self.config.mqtt_addrs.len()];
        let backoff = Backoff {
            min: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        let mut attempt = 0;
        loop {
            let permit = self.connects.acquire().await;
            let mut cfg = DeviceConfig::new(
                &creds.product_key,
                &creds.device_name,
                &creds.device_secret,
                addr.ip().to_string(),
                addr.port(),
            );
            cfg.sign_method = self.config.sign_method;
            // One attempt waits this long for a CONNACK; failures are counted per attempt.
            cfg.connect_timeout = Duration::from_secs(5);
            cfg.keep_alive = self.config.keep_alive;
            cfg.trusted_keys = self.config.trusted_keys.clone();
            cfg.delta_memory_limit = self.config.delta_memory_limit;
            cfg.tls_ca_pem = self.config.tls_ca_pem.clone();
            let echo = self
                .config
                .echo
                .map(|echo| DeviceEcho::new(echo, self.index, Arc::clone(&self.stats)));
            let handler = SimHandler::new(
                behaviour.clone(),
                Arc::clone(&self.stats),
                self.images.clone(),
            )
            .with_download_retries(self.config.download_retries)
            .with_echo(echo);
            match Device::connect_with_http(cfg, handler, self.http.clone()).await {
                Ok(device) => {
                    SimStats::inc(&self.stats.connections);
                    if let Some(echo) = &device.handler().echo {
                        echo.attach(reporter(&device));
                    }
                    return device;
                }
                Err(e) => {
                    drop(permit);
                    let counter = match e {
                        SdkError::Refused(_) => &self.stats.auth_failures,
                        _ => &self.stats.connect_failures,
                    };
                    SimStats::inc(counter);
                    tracing::debug!(device = %creds.device_name, error = %e, "connect failed");
                    tokio::time::sleep(backoff.delay(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Reports the version, then handles packages until the device is done or goes offline.
    async fn serve(
        &self,
        device: &Device<SimHandler>,
        behaviour: &Behaviour,
        mem: &mut Memory,
    ) -> Stretch {
        let module = self.config.module.as_deref();
        let echo = device.handler().echo.as_ref();
        if let Err(e) = device.report_version(module, &mem.version).await {
            tracing::debug!(error = %e, "version report failed");
        }
        let churn_at = self.config.churn.map(|every| {
            tokio::time::Instant::now() + every.mul_f64(0.5 + jitter(self.index as u64))
        });
        if let Some(echo) = echo {
            echo.on_version(module, &mem.version, false).await;
        }
        loop {
            let push = match self.next_package(device, mem, churn_at).await {
                Next::Package(push) => *push,
                Next::Churn => return Stretch::Reconnect,
                Next::Closed => return Stretch::Done,
            };
            if push.data.version == mem.version {
                // Already there (a re-push after success): say so again.
                let _ = device.report_version(module, &mem.version).await;
                if let Some(echo) = echo {
                    echo.on_version(module, &mem.version, true).await;
                }
                continue;
            }
            if !mem.notified {
                mem.notified = true;
                SimStats::inc(&self.stats.notified);
            }
            if let Behaviour::OfflineThenOnline { offline_for } = behaviour
                && !mem.went_offline
            {
                mem.went_offline = true;
                return Stretch::Offline(*offline_for);
            }
            device.handler().reset();
            device.handler().set_running(&mem.version);
            SimStats::inc(&self.stats.downloading);
            let result = device.run_update(&push).await;
            SimStats::dec(&self.stats.downloading);
            let reported_version = result.is_ok();
            match result {
                Ok(done) if done.version == push.data.version => {
                    SimStats::inc(&self.stats.succeeded);
                    mem.version = done.version;
                }
                Ok(done) => {
                    SimStats::inc(&self.stats.wrong_version);
                    mem.version = done.version;
                }
                Err(e) => match e.step() {
                    Some(step) => {
                        self.stats.record_failure(step);
                        if let Some(echo) = echo {
                            echo.on_failure(module, step).await;
                        }
                    }
                    // The device was closed under us.
                    None => return Stretch::Done,
                },
            }
            if let (Some(echo), true) = (echo, reported_version) {
                echo.on_version(module, &mem.version, true).await;
            }
            if self.config.stop_after_update {
                return Stretch::Done;
            }
        }
    }

    /// The next package: a due pull's reply, else the next push (pulling again every
    /// `pull_interval` when pulling is on), until `churn_at`.
    async fn next_package(
        &self,
        device: &Device<SimHandler>,
        mem: &mut Memory,
        churn_at: Option<tokio::time::Instant>,
    ) -> Next {
        let churn = async {
            match churn_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(churn);
        loop {
            if mem.pull_due {
                mem.pull_due = false;
                match device.request_firmware(self.config.module.as_deref()).await {
                    Ok(Some(push)) => return Next::Package(Box::new(push)),
                    Ok(None) => {}
                    Err(SdkError::Closed | SdkError::Client(_)) => return Next::Closed,
                    Err(e) => tracing::debug!(error = %e, "pull failed"),
                }
            }
            let pull_timer = async {
                if self.config.pull {
                    tokio::time::sleep(self.config.pull_interval).await;
                } else {
                    std::future::pending().await
                }
            };
            tokio::select! {
                push = device.next_push() => {
                    return push.map_or(Next::Closed, |push| Next::Package(Box::new(push)));
                }
                () = pull_timer => mem.pull_due = true,
                () = &mut churn => return Next::Churn,
            }
        }
    }
}

/// A number in [0, 1) that differs from device to device and from call to call.
fn jitter(seed: u64) -> f64 {
    use std::hash::{BuildHasher, RandomState};
    (RandomState::new().hash_one(seed) % 10_000) as f64 / 10_000.0
}
