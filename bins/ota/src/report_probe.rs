//! A device that reports its version again and again and times each report from sending
//! it to the server's PUBACK. The server acknowledges a report only once it is stored
//! (ADR 0007), so the times are how long live device traffic waits for the store while
//! something else loads it (a million-task batch being created, say).

use anyhow::{Context, bail};
use ota_device_sdk::DeviceConfig;
use ota_device_sdk::sim::DeviceCredentials;
use ota_protocol::{DeviceMessage, TopicKind};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A running probe.
pub struct ReportProbe {
    latencies: Arc<Mutex<Vec<Duration>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl ReportProbe {
    /// Connects `device` to `mqtt` and sends a version report every `every`.
    pub async fn start(
        device: &DeviceCredentials,
        mqtt: SocketAddr,
        every: Duration,
    ) -> anyhow::Result<ReportProbe> {
        let config = DeviceConfig::new(
            &device.product_key,
            &device.device_name,
            &device.device_secret,
            mqtt.ip().to_string(),
            mqtt.port(),
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as u64;
        let creds = config.credentials(now);
        let mut opts = MqttOptions::new(creds.client_id, mqtt.ip().to_string(), mqtt.port());
        opts.set_credentials(creds.username, creds.password)
            .set_keep_alive(Duration::from_secs(60))
            .set_inflight(64);
        let (client, mut events) = AsyncClient::new(opts, 64);
        // Connected before the first report is timed.
        loop {
            match events.poll().await.context("probe connect")? {
                Event::Incoming(Packet::ConnAck(_)) => break,
                Event::Incoming(Packet::Disconnect) => bail!("probe refused"),
                _ => {}
            }
        }
        let topic = TopicKind::Inform.topic(&device.product_key, &device.device_name);
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            client,
            events,
            topic,
            every,
            latencies.clone(),
            stop.clone(),
        ));
        Ok(ReportProbe {
            latencies,
            stop,
            task,
        })
    }

    /// The report times measured since the last call.
    pub fn take(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.latencies.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.task.await?
    }
}

async fn run(
    client: AsyncClient,
    mut events: rumqttc::EventLoop,
    topic: String,
    every: Duration,
    latencies: Arc<Mutex<Vec<Duration>>>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sent: HashMap<u16, Instant> = HashMap::new();
    let mut queued: std::collections::VecDeque<Instant> = Default::default();
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                n += 1;
                let report = DeviceMessage::Inform {
                    id: Some(n.to_string()),
                    version: format!("1.0.{}", n % 2),
                    module: None,
                    delta_formats: Vec::new(),
                    delta_memory: None,
                };
                // Not awaited: this task also drives the event loop.
                if client.try_publish(&topic, QoS::AtLeastOnce, false, report.to_payload()).is_ok() {
                    queued.push_back(Instant::now());
                }
            }
            event = events.poll() => match event.context("probe connection")? {
                Event::Outgoing(Outgoing::Publish(pkid)) => {
                    if let Some(at) = queued.pop_front() {
                        sent.insert(pkid, at);
                    }
                }
                Event::Incoming(Packet::PubAck(ack)) => {
                    if let Some(at) = sent.remove(&ack.pkid) {
                        latencies
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(at.elapsed());
                    }
                }
                _ => {}
            },
        }
    }
}

/// The `p`-th percentile (0-100) of `times` in milliseconds, 0 for none.
pub fn percentile_ms(times: &mut [Duration], p: f64) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    times.sort_unstable();
    let rank = ((p / 100.0) * (times.len() - 1) as f64).round() as usize;
    times[rank.min(times.len() - 1)].as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_by_rank() {
        let mut t: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&mut t, 50.0), 51.0);
        assert_eq!(percentile_ms(&mut t, 99.0), 99.0);
        assert_eq!(percentile_ms(&mut t, 100.0), 100.0);
        assert_eq!(percentile_ms(&mut [], 99.0), 0.0);
    }
}
