//! One `ota serve` process of the platform under test: started through [`Launch`], killed
//! with SIGKILL by its own process id, and started again on the same data and the same
//! ports (devices and download URLs keep working), timing each start from spawn to the
//! server's ready line.

use crate::client::ApiClient;
use crate::launch::{Launch, ServerProcess};
use anyhow::Context;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct Node {
    pub name: String,
    launch: Launch,
    process: Option<ServerProcess>,
    pub http: std::net::SocketAddr,
    /// The address devices connect to: this node's MQTT endpoint, or the external broker.
    pub mqtt: std::net::SocketAddr,
}

/// A start that failed to bind its old port (another process took it meanwhile, or the
/// kernel had not let go of it yet) is tried again this many times.
const START_TRIES: u32 = 20;

impl Node {
    /// Starts a node; returns it with the time from spawn to ready.
    pub async fn start(name: &str, launch: Launch) -> anyhow::Result<(Node, Duration)> {
        let started = Instant::now();
        let process = launch
            .start()
            .await
            .with_context(|| format!("starting {name}"))?;
        let ready = started.elapsed();
        let mut launch = launch;
        // From now on the same ports: devices and URLs already handed out point at them.
        launch.http = process.http;
        launch.mqtt = process.mqtt;
        Ok((
            Node {
                name: name.to_owned(),
                http: process.http,
                mqtt: process.mqtt,
                launch,
                process: Some(process),
            },
            ready,
        ))
    }

    /// A signed client of this node's API.
    pub fn api(&self) -> ApiClient {
        ApiClient::new(
            &format!("http://{}", self.http),
            &self.launch.key_id,
            &self.launch.secret,
        )
    }

    /// SIGKILL (no graceful shutdown), and waits for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut process) = self.process.take() {
            process.child.start_kill()?;
            process.child.wait().await?;
        }
        Ok(())
    }

    /// Starts the node again on its data and ports; returns the time from the (last)
    /// spawn to ready.
    pub async fn restart(&mut self) -> anyhow::Result<Duration> {
        let mut last = None;
        for _ in 0..START_TRIES {
            let started = Instant::now();
            match self.launch.start().await {
                Ok(process) => {
                    self.process = Some(process);
                    return Ok(started.elapsed());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(last
            .unwrap_or_else(|| anyhow::anyhow!("no start attempted"))
            .context(format!("restarting {}", self.name)))
    }

    /// The node's task-transition counters (`ota_task_transitions_total` by target status)
    /// since it started.
    pub async fn transitions(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let text = reqwest::Client::new()
            .get(format!("http://{}/metrics", self.http))
            .timeout(Duration::from_secs(5))
            .send()
            .await?
            .text()
            .await?;
        Ok(parse_transitions(&text))
    }
}

/// `ota_task_transitions_total{to="S"} N` lines, summed by `S`.
pub fn parse_transitions(metrics: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("ota_task_transitions_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let status = labels
            .split(',')
            .find_map(|l| l.trim().strip_prefix("to=\""))
            .map(|s| s.trim_end_matches('"'));
        if let (Some(status), Ok(value)) = (status, value.trim().parse::<f64>()) {
            *out.entry(status.to_owned()).or_insert(0) += value as u64;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_transitions;

    #[test]
    fn transitions_by_status() {
        let text = "# TYPE ota_task_transitions_total counter\n\
                    ota_task_transitions_total{to=\"SUCCEEDED\"} 12\n\
                    ota_task_transitions_total{to=\"NOTIFIED\"} 30\n\
                    ota_task_transitions_totally 5\n";
        let t = parse_transitions(text);
        assert_eq!(t["SUCCEEDED"], 12);
        assert_eq!(t["NOTIFIED"], 30);
        assert_eq!(t.len(), 2);
    }
}
