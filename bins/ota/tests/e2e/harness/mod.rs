//! The server under test: the real `ota` binary as a child process, on a temporary data
//! directory and ephemeral ports, with an adjustable clock. Tests talk to it only as
//! operators and devices do (signed REST calls, MQTT, HTTP downloads), so what passes here
//! passes for a deployed platform — including a kill and restart on the same data.
//! The server logs errors to stderr; `E2E_SERVER_LOG=debug` (an `OTA_LOG` filter) shows more.

use ota::client::ApiClient;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

mod batches;
pub use batches::{count, poll_value};

pub const KEY_ID: &str = "e2e-admin";
pub const KEY_SECRET: &str = "e2e-secret-7f3a9c1d5b";
/// How long any wait in a scenario may take before it is a failure.
pub const DEADLINE: Duration = Duration::from_secs(30);
pub const MINUTE_MS: i64 = 60_000;

/// A running server; the process is killed (and a PostgreSQL schema dropped) on drop.
pub struct Server {
    child: Child,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
    /// The server's ready line (its listeners' addresses), when started by [`Server::launch`].
    pub ready: Value,
    pub api: ApiClient,
    database_url: Option<String>,
    /// Extra `OTA_*` settings, kept for restarts.
    env: Vec<(String, String)>,
    // Dropped after the child: the schema goes once nothing uses it.
    _pg: Option<PgSchema>,
    /// The data directory the server runs on (its own `dir`, or a sibling's).
    data: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// The external broker the broker scenarios use: the test Mosquitto (`OTA_TEST_MQTT_BROKER`,
/// default `127.0.0.1:1883`).
pub fn test_broker() -> String {
    std::env::var("OTA_TEST_MQTT_BROKER").unwrap_or_else(|_| "127.0.0.1:1883".into())
}

/// Settings that put a server on the test broker as a platform of its own: scenarios run
/// in parallel on one broker, and each platform's nodes need a shared-subscription group
/// no other platform uses.
pub fn broker_env() -> Vec<(String, String)> {
    vec![
        ("OTA_MQTT_BROKER".into(), test_broker()),
        (
            "OTA_MQTT_SHARE_GROUP".into(),
            format!("e2e{:016x}", rand::random::<u64>()),
        ),
    ]
}

impl Server {
    /// The server's Prometheus page (`/metrics`).
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of the counter whose line starts with `line_start` (a name, or a name
    /// with labels), 0 when absent.
    pub async fn counter(&self, line_start: &str) -> u64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(line_start))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    /// A server on SQLite in a fresh data directory.
    pub async fn start() -> Server {
        Self::launch(None, None, &[]).await
    }

    /// A server on SQLite with extra settings as environment variables, e.g.
    /// `[("OTA_DELTA_FROM_LATEST", "2")]`.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Server {
        Self::launch(None, None, env).await
    }

    /// A server on a fresh schema of the test PostgreSQL (`OTA_TEST_PG_URL`, default
    /// `postgres://postgres@127.0.0.1:5432/test`); `None` when `OTA_TEST_SKIP_PG=1`.
    pub async fn start_postgres() -> Option<Server> {
        if std::env::var("OTA_TEST_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        let pg = PgSchema::create().await;
        let url = pg.url();
        Some(Self::launch(Some(url), Some(pg), &[]).await)
    }

    /// As [`Server::start_postgres`], with extra settings.
    pub async fn start_postgres_with_env(env: &[(&str, &str)]) -> Option<Server> {
        if std::env::var("OTA_TEST_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        let pg = PgSchema::create().await;
        let url = pg.url();
        Some(Self::launch(Some(url), Some(pg), env).await)
    }

    /// A second node of the same platform: the same database, data directory and
    /// settings, its own ports. Drop it before `self`.
    pub async fn sibling(&self) -> Server {
        self.sibling_with(&[]).await
    }

    /// A second node like [`Server::sibling`], with `extra` settings added or replaced.
    pub async fn sibling_with(&self, extra: &[(&str, &str)]) -> Server {
        let mut env = self.env.clone();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (child, http, mqtt) =
            spawn(&self.data, any, any, self.database_url.as_deref(), &env).await;
        Server {
            child,
            http,
            mqtt,
            ready: Value::Null,
            api: ApiClient::new(&format!("http://{http}"), KEY_ID, KEY_SECRET),
            database_url: self.database_url.clone(),
            env,
            _pg: None,
            data: self.data.clone(),
            _dir: None,
        }
    }

    /// Starts a second node like [`Server::sibling_with`] that is expected to refuse to
    /// start: returns what it wrote to stderr; panics if it became ready.
    pub async fn sibling_refused(&self, extra: &[(&str, &str)]) -> String {
        let mut env = self.env.clone();
        env.extend(owned_env(extra));
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut command = command(&self.data, any, any, self.database_url.as_deref(), &env);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = tokio::time::timeout(DEADLINE, command.output())
            .await
            .expect("the refused node never exited")
            .expect("run ota serve");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !out.status.success() && !stdout.contains("\"ready\""),
            "the node started: {stdout}"
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Two nodes of one platform on a fresh schema of the test PostgreSQL, started at the
    /// same moment (both race to set the platform up); `None` when `OTA_TEST_SKIP_PG=1`.
    pub async fn start_postgres_pair(env: &[(&str, &str)]) -> Option<(Server, Server)> {
        if std::env::var("OTA_TEST_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        let pg = PgSchema::create().await;
        let url = pg.url();
        let dir = tempfile::tempdir().expect("temp dir");
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let env = owned_env(env);
        let ((a, a_http, a_mqtt), (b, b_http, b_mqtt)) = tokio::join!(
            spawn(dir.path(), any, any, Some(&url), &env),
            spawn(dir.path(), any, any, Some(&url), &env)
        );
        let data = dir.path().to_owned();
        let node = |child, http: SocketAddr, mqtt| Server {
            child,
            http,
            mqtt,
            ready: Value::Null,
            api: ApiClient::new(&format!("http://{http}"), KEY_ID, KEY_SECRET),
            database_url: Some(url.clone()),
            env: env.clone(),
            _pg: None,
            data: data.clone(),
            _dir: None,
        };
        let second = node(b, b_http, b_mqtt);
        let mut first = node(a, a_http, a_mqtt);
        first._pg = Some(pg);
        first._dir = Some(dir);
        Some((first, second))
    }

    /// The process id (to freeze it with SIGSTOP in a scenario).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// Kills the process (SIGKILL: no graceful shutdown, no deregistration) and leaves it
    /// dead.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("kill the server");
    }

    /// Stops the process cleanly (SIGTERM) and waits until it exited.
    pub async fn stop(&mut self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("send SIGTERM");
        assert!(status.success());
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the server never stopped")
            .expect("wait for the server");
    }

    /// As [`Server::start_postgres_with_env`], with the HTTP server on `http` (for a
    /// scenario that must give its address to something started before the server, such as
    /// a broker's HTTP hooks).
    pub async fn start_postgres_at(http: SocketAddr, env: &[(&str, &str)]) -> Option<Server> {
        if std::env::var("OTA_TEST_SKIP_PG").as_deref() == Ok("1") {
            return None;
        }
        let pg = PgSchema::create().await;
        let url = pg.url();
        Some(Self::launch_at(http, Some(url), Some(pg), env).await)
    }

    async fn launch(
        database_url: Option<String>,
        pg: Option<PgSchema>,
        env: &[(&str, &str)],
    ) -> Server {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        Self::launch_at(any, database_url, pg, env).await
    }

    async fn launch_at(
        http: SocketAddr,
        database_url: Option<String>,
        pg: Option<PgSchema>,
        env: &[(&str, &str)],
    ) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let env = owned_env(env);
        let (child, ready) = try_spawn_ready(dir.path(), http, any, database_url.as_deref(), &env)
            .await
            .expect("start the server");
        let (http, mqtt) = (ready_addr(&ready, "http"), ready_addr(&ready, "mqtt"));
        Server {
            child,
            http,
            mqtt,
            ready,
            api: ApiClient::new(&format!("http://{http}"), KEY_ID, KEY_SECRET),
            database_url,
            env,
            _pg: pg,
            data: dir.path().to_owned(),
            _dir: Some(dir),
        }
    }

    /// Waits until the dispatcher and the timer worker have each finished `n` more ticks
    /// from now: whatever they would do about the state now, they have done.
    pub async fn wait_engine_ticks(&self, n: u64) {
        let ticks = |worker: &'static str| {
            let line = format!("ota_engine_ticks_total{{worker=\"{worker}\"}} ");
            async move { self.counter(&line).await }
        };
        let start = (ticks("dispatcher").await, ticks("timers").await);
        let deadline = Instant::now() + DEADLINE;
        loop {
            let now = (ticks("dispatcher").await, ticks("timers").await);
            if now.0 >= start.0 + n && now.1 >= start.1 + n {
                return;
            }
            assert!(Instant::now() < deadline, "the engine stopped ticking");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The server's resident memory now, in KiB (Linux `/proc`).
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.id().expect("the server runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// The server's data directory (database file, stored packages).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data
    }

    /// Kills the process (SIGKILL: no graceful shutdown) and starts it again on the same
    /// data and the same ports, so devices and URLs keep working.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.start_again().await;
    }

    /// Starts the server again after [`Server::kill`], on the same data and ports.
    pub async fn start_again(&mut self) {
        let mut last = None;
        for _ in 0..20 {
            match try_spawn(
                &self.data,
                self.http,
                self.mqtt,
                self.database_url.as_deref(),
                &self.env,
            )
            .await
            {
                Ok((child, _, _)) => {
                    self.child = child;
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("restart failed: {last:?}");
    }

    /// Adds or replaces settings for the next [`Server::restart`].
    pub fn set_env(&mut self, extra: &[(String, String)]) {
        for (key, value) in extra {
            self.env.retain(|(k, _)| k != key);
            self.env.push((key.clone(), value.clone()));
        }
    }

    /// The platform's current time (ms).
    pub async fn now(&self) -> i64 {
        self.advance_clock(0).await
    }

    /// Moves the platform's clock forward; returns the new time.
    pub async fn advance_clock(&self, ms: i64) -> i64 {
        let v = self
            .api
            .post("/debug/clock", &json!({"advance_ms": ms}))
            .await
            .expect("advance the clock");
        v["now"].as_i64().expect("now")
    }
}

/// A loopback address with a port free right now (for a process started later).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

async fn spawn(
    dir: &std::path::Path,
    http: SocketAddr,
    mqtt: SocketAddr,
    database_url: Option<&str>,
    env: &[(String, String)],
) -> (Child, SocketAddr, SocketAddr) {
    try_spawn(dir, http, mqtt, database_url, env)
        .await
        .expect("start the server")
}

/// `ota serve` on `dir`, the addresses and store given, with the scenario's settings.
fn command(
    dir: &std::path::Path,
    http: SocketAddr,
    mqtt: SocketAddr,
    database_url: Option<&str>,
    env: &[(String, String)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ota"));
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .arg("--http-addr")
        .arg(http.to_string())
        .arg("--mqtt-addr")
        .arg(mqtt.to_string())
        .arg("--adjustable-clock")
        .env("OTA_ACCESS_KEY_ID", KEY_ID)
        .env("OTA_ACCESS_KEY_SECRET", KEY_SECRET)
        .env(
            "OTA_LOG",
            std::env::var("E2E_SERVER_LOG").unwrap_or_else(|_| "error".into()),
        )
        .env_remove("OTA_DATABASE_URL")
        .env_remove("OTA_DELTA_FROM_LATEST")
        .env_remove("OTA_MQTT_BROKER")
        .env_remove("OTA_MQTT_BROKER_USERNAME")
        .env_remove("OTA_MQTT_BROKER_PASSWORD")
        .env_remove("OTA_MQTT_HTTP_AUTH_SECRET")
        .env_remove("OTA_MQTT_SHARE_GROUP")
        .env_remove("OTA_MQTT_PRESENCE_TIMEOUT_SECS")
        .env_remove("OTA_S3_BUCKET")
        .env_remove("OTA_S3_ENDPOINT")
        .env_remove("OTA_S3_PREFIX")
        .env_remove("OTA_S3_ACCESS_KEY_ID")
        .env_remove("OTA_S3_SECRET_ACCESS_KEY")
        .env_remove("OTA_PUBLIC_URL")
        .env_remove("OTA_NODE_LEASE_SECS")
        .env_remove("OTA_SERVER_KEY_FILE")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    if let Some(url) = database_url {
        // Every node of a shared store needs the same server key; any test's nodes may
        // meet on one store, so they all use one file.
        command.env("OTA_DATABASE_URL", url).env(
            "OTA_SERVER_KEY_FILE",
            std::env::temp_dir().join("ota-e2e-server.key"),
        );
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

async fn try_spawn(
    dir: &std::path::Path,
    http: SocketAddr,
    mqtt: SocketAddr,
    database_url: Option<&str>,
    env: &[(String, String)],
) -> anyhow::Result<(Child, SocketAddr, SocketAddr)> {
    let (child, ready) = try_spawn_ready(dir, http, mqtt, database_url, env).await?;
    let (http, mqtt) = (ready_addr(&ready, "http"), ready_addr(&ready, "mqtt"));
    Ok((child, http, mqtt))
}

/// The address `key` of a ready line.
pub fn ready_addr(ready: &Value, key: &str) -> SocketAddr {
    ready[key]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("ready line without {key}: {e}: {ready}"))
}

/// Starts the server and returns it with its ready line.
async fn try_spawn_ready(
    dir: &std::path::Path,
    http: SocketAddr,
    mqtt: SocketAddr,
    database_url: Option<&str>,
    env: &[(String, String)],
) -> anyhow::Result<(Child, Value)> {
    let mut command = command(dir, http, mqtt, database_url, env);
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await? {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && v["event"] == "ready"
            {
                return Ok(v);
            }
        }
        anyhow::bail!("the server exited before it was ready")
    })
    .await??;
    // Keep reading so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, ready))
}

/// A throw-away schema in the test database, dropped with the server.
struct PgSchema {
    base: String,
    schema: String,
}

impl PgSchema {
    async fn create() -> PgSchema {
        let base = std::env::var("OTA_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("e2e_{:016x}", rand::random::<u64>());
        pg_admin(&base, &format!("CREATE SCHEMA {schema}")).await;
        PgSchema { base, schema }
    }

    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.base, self.schema
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, sql) = (
            self.base.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(pg_admin(&base, &sql)))
        })
        .join();
    }
}

async fn pg_admin(url: &str, sql: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} (set OTA_TEST_SKIP_PG=1 to skip): {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect(sql);
    conn.close().await.ok();
}

/// `OTA_*` settings as the server keeps them for restarts.
fn owned_env(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
