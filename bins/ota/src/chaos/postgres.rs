//! A PostgreSQL cluster of the harness's own: `initdb` into the run's directory, `postgres`
//! on a free loopback port. The machine's PostgreSQL serves other tests and is never
//! touched; this one can be stopped the hard way and started again on the same data.
//!
//! PostgreSQL refuses to run as root. When the harness is root, the cluster runs as the
//! `postgres` user (override with `OTA_CHAOS_PG_USER`) through `setpriv`, which replaces
//! itself with the server, so the process id the harness signals is the server's.

use super::procs::{Daemon, find_program, free_port, running_as_root};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running (or stopped) cluster.
pub struct Postgres {
    daemon: Daemon,
    bin: PathBuf,
    pub port: u16,
    user: Option<String>,
}

/// The directory holding `initdb`, `postgres` and `pg_isready`: `OTA_CHAOS_PG_BIN`, else the
/// newest `/usr/lib/postgresql/*/bin`, else `PATH`.
fn bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("OTA_CHAOS_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let initdb = find_program("initdb", "OTA_CHAOS_PG_BIN", &[]).context(
        "the PostgreSQL scenarios need the PostgreSQL server binaries (initdb, postgres, \
         pg_isready): install postgresql or set OTA_CHAOS_PG_BIN to their directory",
    )?;
    Ok(initdb.parent().map(Path::to_owned).unwrap_or_default())
}

impl Postgres {
    /// Creates a cluster under `root/pg` and starts it; returns once it accepts queries.
    pub async fn start(root: &Path) -> anyhow::Result<Postgres> {
        let bin = bin_dir()?;
        for tool in ["initdb", "postgres", "pg_isready"] {
            if !bin.join(tool).is_file() {
                bail!(
                    "the PostgreSQL scenarios need {tool} in {}: install postgresql or set \
                     OTA_CHAOS_PG_BIN",
                    bin.display()
                );
            }
        }
        let user = running_as_root()
            .then(|| std::env::var("OTA_CHAOS_PG_USER").unwrap_or_else(|_| "postgres".into()));
        let home = root.join("pg");
        std::fs::create_dir_all(&home)?;
        if let Some(user) = &user {
            // The run's directory is root's; the cluster's user must reach into it.
            make_traversable(root)?;
            let status = std::process::Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&home)
                .status()
                .context("running chown")?;
            if !status.success() {
                bail!(
                    "chown {user}: {} failed (is there a {user} user? set OTA_CHAOS_PG_USER)",
                    home.display()
                );
            }
        }
        let data = home.join("data");
        let log = root.join("postgres.log");
        let mut initdb = Daemon::new("initdb", &bin.join("initdb"), &log)
            .run_as(user.clone())
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        initdb.start()?;
        initdb
            .wait_exit(Duration::from_secs(120))
            .await
            .with_context(|| format!("initdb failed; see {}", log.display()))?;

        let port = free_port()?;
        let daemon = Daemon::new("postgres", &bin.join("postgres"), &log)
            .run_as(user.clone())
            .arg("-D")
            .arg(&data)
            .arg("-p")
            .arg(port.to_string())
            .arg("-k")
            .arg(&home)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ])
            // Stopped with SIGQUIT when dropped: the server's children go with it.
            .stop_signal("QUIT");
        let mut pg = Postgres {
            daemon,
            bin,
            port,
            user,
        };
        pg.start_again().await?;
        Ok(pg)
    }

    /// The platform's database URL.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server as a crash would (SIGQUIT, "immediate shutdown": no checkpoint,
    /// every connection cut, crash recovery on the next start).
    pub async fn stop_immediately(&mut self) -> anyhow::Result<()> {
        self.daemon.stop("QUIT", Duration::from_secs(30)).await
    }

    /// Starts the server on the same data and port; returns how long it took to accept
    /// queries.
    pub async fn start_again(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.daemon.start()?;
        let end = started + Duration::from_secs(60);
        while Instant::now() < end {
            if !self.daemon.is_running() {
                bail!("postgres exited while starting; see its log");
            }
            if self.is_ready().await {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("postgres did not accept connections within 60 s")
    }

    async fn is_ready(&self) -> bool {
        tokio::process::Command::new(self.bin.join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    /// Who the cluster runs as (`None`: the harness's own user).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

/// Lets other users into `dir` (search permission only), which a fresh temporary directory
/// does not.
fn make_traversable(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perms = std::fs::metadata(dir)?.permissions();
    perms.set_mode(perms.mode() | 0o011);
    std::fs::set_permissions(dir, perms)?;
    Ok(())
}
