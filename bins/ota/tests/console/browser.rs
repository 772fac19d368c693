//! A headless Chromium session: starts `chromedriver` on a free port with a fresh profile,
//! and offers the few actions the scenarios need (fill, click, wait, screenshot).

use anyhow::{Context, bail};
use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any wait in a scenario may take before it is a failure.
pub const DEADLINE: Duration = Duration::from_secs(45);

static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Each browser scenario runs alone (server, fleet and browser): on a 2-core machine three
/// Chromiums and three servers (one creating a 100,000-device batch) at once starve each
/// other past any sensible deadline. Hold the guard for the whole test.
pub async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}

/// `None` when the browser is missing and `OTA_SKIP_BROWSER=1` allows skipping.
pub fn available() -> bool {
    if std::path::Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    if std::env::var("OTA_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED: {CHROMEDRIVER} is missing and OTA_SKIP_BROWSER=1 (install chromium and chromium-driver)"
        );
        return false;
    }
    panic!(
        "{CHROMEDRIVER} is missing: apt-get install chromium chromium-driver (or set OTA_SKIP_BROWSER=1 to skip)"
    );
}

/// Where screenshots go: `target/console-screenshots/`.
pub fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("console-screenshots")
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub base: String,
}

impl Browser {
    pub async fn start(base: &str) -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let end = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > end {
                bail!("chromedriver did not listen on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir()?;
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1360,900".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("opening a WebDriver session")?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
            base: base.to_owned(),
        })
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
    }

    /// Opens a console path.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{}{path}", self.base)).await?;
        Ok(())
    }

    /// Signs in on the login page and waits until the console has left it (an `h1` alone
    /// would also match the login page while the form is still being submitted).
    pub async fn sign_in(&self, key_id: &str, secret: &str) -> anyhow::Result<()> {
        self.goto("/console/login").await?;
        self.fill("#key_id", key_id).await?;
        self.fill("#secret", secret).await?;
        self.click("button[type=submit]").await?;
        self.wait_js(
            "the console to leave the login page",
            "location.pathname !== '/console/login' && !!document.querySelector('h1')",
        )
        .await
    }

    pub async fn path(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.path().to_owned())
    }

    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        match self
            .client
            .wait()
            .at_most(DEADLINE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => Ok(e),
            Err(err) => {
                // Say where the browser was and what it showed, so a timeout explains itself.
                let url = self.client.current_url().await.map(|u| u.to_string());
                let body = self.js("return document.body.innerText").await;
                let body = body.ok().and_then(|v| v.as_str().map(str::to_owned));
                let shown: String = body.unwrap_or_default().chars().take(600).collect();
                Err(anyhow::Error::new(err).context(format!(
                    "waiting for {css} at {}; page text:\n{shown}",
                    url.unwrap_or_default()
                )))
            }
        }
    }

    pub async fn count(&self, css: &str) -> anyhow::Result<usize> {
        Ok(self.client.find_all(Locator::Css(css)).await?.len())
    }

    /// Replaces the value of an input.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        for attempt in 1.. {
            let e = self.find(css).await?;
            let r = match e.clear().await {
                Ok(()) => e.send_keys(text).await,
                Err(err) => Err(err),
            };
            match r {
                Err(err) if retry_stale(&err, attempt).await => continue,
                r => return Ok(r?),
            }
        }
        unreachable!("the loop returns")
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        for attempt in 1.. {
            match self.find(css).await?.click().await {
                Err(err) if retry_stale(&err, attempt).await => continue,
                r => return Ok(r?),
            }
        }
        unreachable!("the loop returns")
    }

    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        for attempt in 1.. {
            match self.find(css).await?.text().await {
                Err(err) if retry_stale(&err, attempt).await => continue,
                r => return Ok(r?),
            }
        }
        unreachable!("the loop returns")
    }

    pub async fn js(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Waits until `script` (a JS expression) is truthy.
    pub async fn wait_js(&self, what: &str, expr: &str) -> anyhow::Result<()> {
        let end = Instant::now() + DEADLINE;
        loop {
            let v = self.js(&format!("return !!({expr});")).await?;
            if v == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > end {
                let body = self
                    .js("return document.body.innerText")
                    .await
                    .unwrap_or_default();
                bail!(
                    "timed out waiting for {what}; page text:\n{}",
                    body.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the text of `css` contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) -> anyhow::Result<()> {
        let expr = format!(
            "(document.querySelector({sel}) || {{}}).innerText && document.querySelector({sel}).innerText.includes({needle})",
            sel = json!(css),
            needle = json!(needle)
        );
        self.wait_js(&format!("{css} to contain {needle:?}"), &expr)
            .await
    }

    /// The number shown by a live counter (`data-live="KEY"`).
    pub async fn live(&self, key: &str) -> anyhow::Result<i64> {
        let t = self.text(&format!("[data-live=\"{key}\"]")).await?;
        Ok(t.trim().parse().unwrap_or(-1))
    }

    /// Saves a screenshot of the whole page as `target/console-screenshots/{name}.png`:
    /// the window is made as tall as the page first.
    pub async fn shot(&self, name: &str) -> anyhow::Result<PathBuf> {
        self.js("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur();")
            .await?;
        let height = self
            .js("return document.documentElement.scrollHeight")
            .await?
            .as_u64()
            .unwrap_or(900)
            .clamp(700, 4000);
        self.client
            .set_window_size(1360, height as u32 + 120)
            .await?;
        let expr = format!("return window.innerHeight >= {}", height.saturating_sub(40));
        for _ in 0..20 {
            if self.js(&expr).await? == Value::Bool(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let png = self.client.screenshot().await?;
        self.client.set_window_size(1360, 900).await?;
        let dir = shots_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }
}

/// Live regions of the console re-render themselves, so an element found just before a
/// refresh can be stale by the time it is used. True (after a short pause) when `err` is that
/// and the caller should find the element again; at most 20 attempts.
async fn retry_stale(err: &CmdError, attempt: u32) -> bool {
    if !err.is_stale_element_reference() || attempt >= 20 {
        return false;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    true
}
