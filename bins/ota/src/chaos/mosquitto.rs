//! A Mosquitto of the harness's own, on a free loopback port with a generated
//! configuration: the external broker of the multi-node and broker-restart scenarios. The
//! machine's Mosquitto (1883) serves other tests and is never touched.
//!
//! The configuration admits anonymous clients (nodes and simulated devices; the broker's
//! HTTP auth hook needs a plugin Mosquitto does not ship), keeps nothing on disk (a restart
//! forgets every session, as a crash does), and lets a node's queue grow far beyond the
//! default 1,000 messages, so a rollout's burst of reports is not dropped by the broker
//! before a node reads it: what the scenarios measure is the platform, not that limit.

use super::procs::{Daemon, find_program, free_port, wait_listening};
use anyhow::bail;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Mosquitto {
    daemon: Daemon,
    pub port: u16,
}

impl Mosquitto {
    /// Writes the configuration under `root` and starts the broker.
    pub async fn start(root: &Path) -> anyhow::Result<Mosquitto> {
        let program = find_program(
            "mosquitto",
            "OTA_CHAOS_MOSQUITTO",
            &[PathBuf::from("/usr/sbin/mosquitto")],
        )?;
        let port = free_port()?;
        let conf = root.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 max_queued_messages 1000000\n\
                 max_inflight_messages 1000\n\
                 set_tcp_nodelay true\n\
                 log_dest stderr\n\
                 log_type error\n\
                 log_type warning\n"
            ),
        )?;
        let daemon = Daemon::new("mosquitto", &program, &root.join("mosquitto.log"))
            .arg("-c")
            .arg(&conf);
        let mut broker = Mosquitto { daemon, port };
        broker.start_again().await?;
        Ok(broker)
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL: every session and message in flight is gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.daemon.kill().await
    }

    /// Starts the broker on the same port; returns how long it took to accept connections.
    pub async fn start_again(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.daemon.start()?;
        if !wait_listening(self.port, Duration::from_secs(20)).await {
            bail!("mosquitto did not listen on {} within 20 s", self.port);
        }
        Ok(started.elapsed())
    }
}
