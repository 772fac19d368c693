//! An S3-compatible package bucket of the harness's own: `s3s-fs` (a real S3 server on a
//! directory, checking SigV4 and presigned URLs) on a free loopback port, which the
//! scenarios stop and start again on the same port and directory.
//!
//! The platform is pointed at a [`CountingProxy`] in front of it, so presigned download
//! URLs lead through the proxy, which counts the ranged requests devices make when they
//! resume (the bucket's own logs would not say) and can slow downloads to a device link's
//! pace.

use super::procs::{Daemon, find_program, free_port, wait_listening};
use super::proxy::CountingProxy;
use anyhow::bail;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const BUCKET: &str = "packages";
const ACCESS_KEY: &str = "ota-chaos";

pub struct S3Bucket {
    daemon: Daemon,
    port: u16,
    secret: String,
    /// What the platform and devices talk to.
    pub proxy: CountingProxy,
}

fn program() -> anyhow::Result<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    {
        candidates.push(home.join("bin").join("s3s-fs"));
    }
    find_program("s3s-fs", "OTA_TEST_S3S_FS", &candidates).map_err(|e| {
        e.context(
            "the S3 scenarios need s3s-fs: `cargo install s3s-fs --version 0.14.1 \
             --features binary --locked`",
        )
    })
}

impl S3Bucket {
    /// Starts `s3s-fs` on a fresh directory under `root` with one bucket, and the proxy
    /// (passing responses on at `throttle` bytes a second per connection, if given).
    pub async fn start(root: &Path, throttle: Option<u64>) -> anyhow::Result<S3Bucket> {
        let program = program()?;
        let data = root.join("s3");
        std::fs::create_dir_all(data.join(BUCKET))?;
        let port = free_port()?;
        let secret = format!("secret-{:032x}", rand::random::<u128>());
        let daemon = Daemon::new("s3s-fs", &program, &root.join("s3s-fs.log"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", &secret])
            .arg(&data);
        let proxy = CountingProxy::start(([127, 0, 0, 1], port).into(), throttle).await?;
        let mut bucket = S3Bucket {
            daemon,
            port,
            secret,
            proxy,
        };
        bucket.start_again().await?;
        Ok(bucket)
    }

    /// The `OTA_S3_*` settings that put a server's packages in this bucket (through the
    /// proxy).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("OTA_S3_BUCKET", BUCKET.to_owned()),
            ("OTA_S3_ENDPOINT", format!("http://{}", self.proxy.addr)),
            ("OTA_S3_REGION", "us-east-1".to_owned()),
            ("OTA_S3_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("OTA_S3_SECRET_ACCESS_KEY", self.secret.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// SIGKILL: downloads in flight are cut off.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.daemon.kill().await
    }

    /// Starts `s3s-fs` on the same port and directory; returns how long it took to listen.
    pub async fn start_again(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.daemon.start()?;
        if !wait_listening(self.port, Duration::from_secs(20)).await {
            bail!("s3s-fs did not listen on {} within 20 s", self.port);
        }
        Ok(started.elapsed())
    }
}
