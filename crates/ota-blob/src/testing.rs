//! A real S3-compatible server for tests: `s3s-fs` on a free loopback port with a fresh
//! directory, a bucket and credentials, stopped when dropped.
//!
//! Install it with `cargo install s3s-fs --version 0.14.1 --features binary --locked` (CI
//! does); `OTA_TEST_S3S_FS` may name the binary.

use crate::S3Config;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `s3s-fs` holding one bucket.
pub struct S3TestServer {
    child: Child,
    _root: tempfile::TempDir,
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl S3TestServer {
    /// Starts the server and waits until it answers.
    pub fn start() -> S3TestServer {
        let binary = find_binary();
        let root = tempfile::tempdir().expect("temporary directory");
        let bucket = "packages".to_owned();
        std::fs::create_dir(root.path().join(&bucket)).expect("bucket directory");
        let access_key_id = "ota-test".to_owned();
        let secret_access_key = format!("secret-{}", uuid::Uuid::new_v4().simple());
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&binary)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--access-key",
                    &access_key_id,
                    "--secret-key",
                    &secret_access_key,
                ])
                .arg(root.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
            if wait_listening(port, &mut child) {
                return S3TestServer {
                    child,
                    _root: root,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    bucket,
                    access_key_id,
                    secret_access_key,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start listening");
    }

    /// Settings that reach this server's bucket under `prefix`.
    pub fn config(&self, prefix: &str) -> S3Config {
        S3Config {
            bucket: self.bucket.clone(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".to_owned()),
            access_key_id: Some(self.access_key_id.clone()),
            secret_access_key: Some(self.secret_access_key.clone()),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("OTA_TEST_S3S_FS") {
        return PathBuf::from(path);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME").or_else(|| {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo").into_os_string())
    }) {
        candidates.push(PathBuf::from(home).join("bin").join("s3s-fs"));
    }
    candidates.into_iter().find(|p| p.is_file()).expect(
        "the S3 tests need s3s-fs: `cargo install s3s-fs --version 0.14.1 --features binary \
             --locked` (or set OTA_TEST_S3S_FS)",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_listening(port: u16, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
