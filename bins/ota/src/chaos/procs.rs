//! The processes the fault suite starts, stops and kills: each one a child of the harness,
//! signalled by its own process id and nothing else (never by name), killed when dropped, its
//! output appended to a log file in the run's directory.
//!
//! A service is described once ([`Daemon`]) so it can be started again after a stop on the
//! same port and data, which is what a restart means here.

use anyhow::{Context, bail};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it soon after).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("probing a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; false after `limit`.
pub async fn wait_listening(port: u16, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// Sends `signal` (a name such as `KILL`, `QUIT`, `TERM`) to the process `pid`.
pub fn send_signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed");
    }
    Ok(())
}

/// Whether the harness runs as root (some servers refuse to, PostgreSQL among them).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Finds `name`: `override_var` if set, else the first of `candidates` that exists, else on
/// `PATH`. The error names what is missing and how to say where it is.
pub fn find_program(
    name: &str,
    override_var: &str,
    candidates: &[PathBuf],
) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(override_var) {
        return Ok(PathBuf::from(path));
    }
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    candidates
        .iter()
        .chain(on_path.iter())
        .find(|p| p.is_file())
        .cloned()
        .with_context(|| {
            format!(
                "{name} not found (looked in {} and on PATH; set {override_var})",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// A long-running service the harness owns: how to start it, and the running child.
pub struct Daemon {
    pub name: String,
    program: PathBuf,
    args: Vec<OsString>,
    /// Run as this user through `setpriv` (the harness runs as root, the service refuses to).
    run_as: Option<String>,
    log: PathBuf,
    /// The signal that stops it cleanly when the harness drops it.
    stop_signal: &'static str,
    child: Option<Child>,
}

impl Daemon {
    pub fn new(name: &str, program: &Path, log: &Path) -> Daemon {
        Daemon {
            name: name.to_owned(),
            program: program.to_owned(),
            args: Vec::new(),
            run_as: None,
            log: log.to_owned(),
            stop_signal: "KILL",
            child: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Daemon {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Daemon {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn run_as(mut self, user: Option<String>) -> Daemon {
        self.run_as = user;
        self
    }

    pub fn stop_signal(mut self, signal: &'static str) -> Daemon {
        self.stop_signal = signal;
        self
    }

    /// Starts the service (not waiting for it to be ready: each service has its own test).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.name);
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = match &self.run_as {
            // setpriv runs the program in its own place (exec), so the pid is the service's.
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--init-groups")
                    .arg(&self.program);
                c
            }
            None => Command::new(&self.program),
        };
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends `signal` and waits (at most `grace`, then SIGKILL) for the process to exit.
    pub async fn stop(&mut self, signal: &str, grace: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            send_signal(pid, signal)?;
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Waits for a one-off command to finish; fails unless it exits with status 0 in time.
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else {
            bail!("{} was not started", self.name);
        };
        let status = tokio::time::timeout(limit, child.wait())
            .await
            .with_context(|| format!("{} did not finish within {limit:?}", self.name))??;
        self.child = None;
        if !status.success() {
            bail!("{} exited with {status}", self.name);
        }
        Ok(())
    }

    /// SIGKILL, and waits for the exit.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.stop("KILL", Duration::from_secs(10)).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if self.stop_signal != "KILL"
            && let Some(pid) = child.id()
            && send_signal(pid, self.stop_signal).is_ok()
        {
            let end = Instant::now() + Duration::from_secs(10);
            while Instant::now() < end {
                if !matches!(child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.start_kill();
    }
}
