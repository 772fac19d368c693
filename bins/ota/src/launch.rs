//! Starts `ota serve` as a child process and waits for its ready line: used by the
//! benchmarks (which measure the server's own memory), the fault suite (which kills and
//! restarts it) and the end-to-end tests.

use anyhow::{Context, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server process; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
    pub database_url: Option<String>,
    pub key_id: String,
    pub secret: String,
    pub adjustable_clock: bool,
    pub log: String,
    /// Further `OTA_*` settings (external broker, S3 bucket, …). Other `OTA_*` variables of
    /// the caller's environment are not passed on, so a shell's settings never change
    /// what is started.
    pub env: Vec<(String, String)>,
    /// Append the server's log (stderr) to this file instead of sharing ours.
    pub log_file: Option<PathBuf>,
    /// The server key file; nodes sharing one store must share it. `None`: the data
    /// directory's own.
    pub server_key_file: Option<PathBuf>,
}

/// The server a benchmark starts for itself, as its command line chooses it (flattened
/// into each `ota bench` command).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OwnServer {
    /// Store URL; default is a SQLite file in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
    /// The server binary (default: this executable).
    #[arg(long)]
    pub server: Option<PathBuf>,
}

impl OwnServer {
    /// Starts it ([`start_own`]).
    pub async fn start(
        &self,
    ) -> anyhow::Result<(tempfile::TempDir, ServerProcess, crate::client::ApiClient)> {
        start_own(self.server.as_deref(), self.database_url.clone()).await
    }

    /// The name of its store ([`store_name`]).
    pub fn store_name(&self) -> &'static str {
        store_name(self.database_url.as_deref())
    }
}

/// A server of a benchmark's own: started from `binary` (default: this executable) with
/// its data in a new temporary directory (removed when the returned handle is dropped) and
/// its store at `database_url` (default: SQLite in that directory), with a client signing
/// as its bootstrap key.
pub async fn start_own(
    binary: Option<&Path>,
    database_url: Option<String>,
) -> anyhow::Result<(tempfile::TempDir, ServerProcess, crate::client::ApiClient)> {
    let dir = tempfile::tempdir()?;
    let binary = match binary {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()?,
    };
    let mut launch = Launch::new(&binary, dir.path());
    launch.database_url = database_url;
    let server = launch.start().await?;
    let api = crate::client::ApiClient::new(
        &format!("http://{}", server.http),
        &launch.key_id,
        &launch.secret,
    );
    Ok((dir, server, api))
}

/// The name of the store a `database_url` (as [`start_own`] takes it) selects.
pub fn store_name(database_url: Option<&str>) -> &'static str {
    if database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

impl Launch {
    pub fn new(binary: &Path, data_dir: &Path) -> Launch {
        Launch {
            binary: binary.to_owned(),
            data_dir: data_dir.to_owned(),
            http: "127.0.0.1:0".parse().expect("address"),
            mqtt: "127.0.0.1:0".parse().expect("address"),
            database_url: None,
            key_id: "bench".to_owned(),
            secret: format!("{:032x}", rand::random::<u128>()),
            adjustable_clock: false,
            log: "warn".to_owned(),
            env: Vec::new(),
            log_file: None,
            server_key_file: None,
        }
    }

    /// Starts the server and waits (at most 60 s) for it to be ready.
    pub async fn start(&self) -> anyhow::Result<ServerProcess> {
        let mut command = Command::new(&self.binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OTA_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--http-addr")
            .arg(self.http.to_string())
            .arg("--mqtt-addr")
            .arg(self.mqtt.to_string())
            .env("OTA_ACCESS_KEY_ID", &self.key_id)
            .env("OTA_ACCESS_KEY_SECRET", &self.secret)
            .env("OTA_LOG", &self.log)
            .env_remove("RUST_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(
                self.server_key_file
                    .iter()
                    .map(|path| ("OTA_SERVER_KEY_FILE", path.as_os_str())),
            )
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        match &self.log_file {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening the server log {}", path.display()))?;
                command.stderr(file);
            }
            None => {
                command.stderr(Stdio::inherit());
            }
        }
        if let Some(url) = &self.database_url {
            command.arg("--database-url").arg(url);
        }
        if self.adjustable_clock {
            command.arg("--adjustable-clock");
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["event"] == "ready"
                {
                    return Ok::<_, anyhow::Error>(v);
                }
            }
            bail!("the server exited before it was ready")
        })
        .await
        .context("the server did not become ready within 60 s")??;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess {
            child,
            http: ready["http"]
                .as_str()
                .context("ready line without http")?
                .parse()?,
            mqtt: ready["mqtt"]
                .as_str()
                .context("ready line without mqtt")?
                .parse()?,
        })
    }
}

impl ServerProcess {
    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The server's peak resident memory (VmHWM) in KiB, from /proc.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    /// Current resident memory (VmRSS) in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_kib("VmRSS")
    }

    /// The part of the resident memory that maps files (RssFile: the binary's code and
    /// read-only data paged in as it runs, not memory the server allocated), in KiB.
    pub fn rss_file_kib(&self) -> Option<u64> {
        self.status_kib("RssFile")
    }

    /// The anonymous part of the resident memory (RssAnon: what the server allocated, as
    /// opposed to files it maps), in KiB.
    pub fn rss_anon_kib(&self) -> Option<u64> {
        self.status_kib("RssAnon")
    }

    /// A `… kB` field of `/proc/<pid>/status`.
    fn status_kib(&self, field: &str) -> Option<u64> {
        status_kib_of(self.child.id()?, field)
    }

    /// File descriptors the server holds open now.
    pub fn open_fds(&self) -> Option<usize> {
        let pid = self.child.id()?;
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    /// The server's Prometheus page (`/metrics`).
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(reqwest::get(format!("http://{}/metrics", self.http))
            .await?
            .text()
            .await?)
    }

    /// CPU time (user + system) the server has used so far, in seconds.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds_of(self.child.id()?)
    }

    /// Stops the server with SIGTERM and waits for it to exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(20), self.child.wait()).await;
        let _ = self.child.kill().await;
        Ok(())
    }
}

/// A `… kB` field of `/proc/<pid>/status` (`VmHWM`, `VmRSS`, `RssAnon`, …).
pub fn status_kib_of(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time (user + system) process `pid` has used so far, in seconds, from /proc.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The sum of every series of metric `name` on a Prometheus page, `None` when it has none.
pub fn metric_sum(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::metric_sum;

    #[test]
    fn metric_sum_adds_every_series_of_the_name_and_only_of_it() {
        let page = "# TYPE ota_pushes_total counter\n\
                    ota_pushes_total 12\n\
                    ota_pushes_total_other 100\n\
                    ota_task_transitions_total{to=\"SUCCEEDED\"} 3\n\
                    ota_task_transitions_total{to=\"FAILED\"} 2\n";
        let cases = [
            ("ota_pushes_total", Some(12.0)),
            ("ota_task_transitions_total", Some(5.0)),
            ("ota_pushes", None),
            ("ota_absent_total", None),
        ];
        for (name, want) in cases {
            assert_eq!(metric_sum(page, name), want, "{name}");
        }
    }
}
