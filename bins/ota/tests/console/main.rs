//! Browser tests of the web console: the real `ota serve` binary, driven through a real
//! headless Chromium over WebDriver (Debian `chromium` + `chromium-driver`), with simulated
//! devices (the fleet simulator, in-process) doing real MQTT updates. A complete rollout is
//! clicked through the pages, and every page is saved as a screenshot under
//! `target/console-screenshots/` for people to look at. A read-only user is shown no
//! control they may not use, and the admin finds their refused attempt in the audit log. A
//! rollout in waves is made with the wave wizard and approved, and paused, from its page.
//!
//! Without `/usr/bin/chromedriver` the tests fail, unless `OTA_SKIP_BROWSER=1` says to skip.

mod browser;
mod deltas;
mod rollout;
mod rollout_batch;
mod rollout_package;
mod scale;
mod server;
mod teams;
mod waves;
