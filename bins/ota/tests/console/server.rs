//! The server under test (`ota serve` as a child process) and signed REST calls for the
//! set-up a browser scenario does not need to click through (device secrets for the
//! simulator, a fleet of 100,000 devices).

use ota::client::ApiClient;
use ota::launch::{Launch, ServerProcess};

pub const KEY_ID: &str = "console-admin";
pub const KEY_SECRET: &str = "console-secret-4b1f9e";

pub struct Server {
    pub process: ServerProcess,
    pub api: ApiClient,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub async fn start() -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let mut launch = Launch::new(std::path::Path::new(env!("CARGO_BIN_EXE_ota")), dir.path());
        launch.key_id = KEY_ID.to_owned();
        launch.secret = KEY_SECRET.to_owned();
        launch.log = "error".to_owned();
        let process = launch.start().await?;
        let base = format!("http://{}", process.http);
        Ok(Server {
            api: ApiClient::new(&base, KEY_ID, KEY_SECRET),
            base,
            process,
            _dir: dir,
        })
    }
}
