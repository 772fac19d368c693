//! The admin commands and the simulator, run as a user runs them: every error names the
//! thing it is about (the file, the field, the conflict), and says it once.

use crate::fixtures::{self, fleet};
use crate::harness::{KEY_ID, KEY_SECRET, Server};

/// Runs `ota ARGS` against `server`; returns (success, stdout, stderr).
pub(crate) fn ota(server: &Server, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ota"))
        .args(args)
        .env("OTA_URL", format!("http://{}", server.http))
        .env("OTA_ACCESS_KEY_ID", KEY_ID)
        .env("OTA_ACCESS_KEY_SECRET", KEY_SECRET)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ota");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_error_names_the_thing() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("lamp.bin");
    std::fs::write(&image, fixtures::payload(4096, 1)).unwrap();
    let image = image.to_str().unwrap();
    let pk = fleet.pk.as_str();
    let (ok, out, err) = ota(
        &server,
        &[
            "firmware",
            "upload",
            pk,
            image,
            "--version",
            "2.0.0",
            "--no-verify",
        ],
    );
    assert!(ok, "{err}");
    let firmware: serde_json::Value = serde_json::from_str(&out).unwrap();
    let firmware_id = firmware["firmware_id"].as_str().unwrap();

    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<&str>, &[&str])> = vec![
        ("a file that is not there", vec!["firmware", "upload", pk, "nosuch.bin", "--version", "3.0.0"],
            &["nosuch.bin", "No such file"]),
        ("a bad version", vec!["firmware", "upload", pk, image, "--version", "2.0 beta!"],
            &["DestVersion"]),
        ("a version uploaded before", vec!["firmware", "upload", pk, image, "--version", "2.0.0", "--no-verify"],
            &["DestVersion", "already has a package of version 2.0.0"]),
        ("a field that does not read", vec!["job", "create", firmware_id, "--set", "maximum_per_minute=abc"],
            &["maximum_per_minute", "invalid type"]),
        ("a credentials file that is not there", vec!["sim", "--credentials", "nope.csv", "--mqtt", "127.0.0.1:1"],
            &["nope.csv"]),
    ];
    for (what, args, expected) in rows {
        let (ok, _, err) = ota(&server, &args);
        assert!(!ok, "{what}: succeeded");
        for text in expected {
            assert!(err.contains(text), "{what}: {text:?} not in {err}");
        }
        for line in err.lines().filter(|l| !l.trim().is_empty()) {
            assert_eq!(
                err.matches(line.trim()).count(),
                1,
                "{what}: said twice: {err}"
            );
        }
        assert!(!err.contains('\u{1b}'), "{what}: colour codes in {err:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_not_written_to_a_terminal_carry_no_colour_codes() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_ota"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--mqtt-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--adjustable-clock")
        .env("OTA_ACCESS_KEY_ID", KEY_ID)
        .env("OTA_ACCESS_KEY_SECRET", KEY_SECRET)
        .env("OTA_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(crate::harness::DEADLINE, async {
        loop {
            let line = lines.next_line().await.unwrap().expect("the server logs");
            if line.contains("adjustable") {
                return line;
            }
        }
    })
    .await
    .expect("the warning about the adjustable clock");
    assert!(!line.contains('\u{1b}'), "{line:?}");
    server.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_says_when_no_device_gets_in() {
    let server = Server::start().await;
    let fleet = fleet(&server, 2).await;
    let nothing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nothing.local_addr().unwrap().to_string();
    drop(nothing);
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.csv");
    let lines: String = fleet
        .devices
        .iter()
        .map(|d| format!("{},{},not-the-secret\n", d.product_key, d.device_name))
        .collect();
    std::fs::write(&wrong, lines).unwrap();
    let mqtt = server.mqtt.to_string();
    let wrong = wrong.to_str().unwrap();
    #[rustfmt::skip]
    let rows: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        ("nothing listening", vec!["sim", "--credentials", wrong, "--mqtt", &closed, "--connect-wait", "7"],
            vec![closed.as_str(), "attempts reached no broker"]),
        ("wrong secrets", vec!["sim", "--credentials", wrong, "--mqtt", &mqtt, "--connect-wait", "3"],
            vec![mqtt.as_str(), "were refused: wrong credentials"]),
        ("no endpoint given", vec!["sim", "--credentials", wrong], vec!["--mqtt"]),
        ("an endpoint that is no address", vec!["sim", "--credentials", wrong, "--mqtt", "localhost"],
            vec!["not HOST:PORT"]),
    ];
    for (what, args, expected) in rows {
        let (ok, _, err) = ota(&server, &args);
        assert!(!ok, "{what}: succeeded");
        for text in expected {
            assert!(err.contains(text), "{what}: {text:?} not in {err}");
        }
    }
    // A host name is an address too.
    let (ok, out, err) = ota(
        &server,
        &[
            "sim",
            "--product-key",
            &fleet.pk,
            "--devices",
            "1",
            "--json",
            "--duration",
            "2",
            "--mqtt",
            &format!("localhost:{}", server.mqtt.port()),
        ],
    );
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(summary["connect_failures"], 0, "{summary}");
    assert_eq!(summary["auth_failures"], 0, "{summary}");
}

#[test]
fn check_config_prints_the_settings_in_force_and_refuses_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("ota.toml");
    std::fs::write(
        &good,
        "http_addr = \"localhost:8081\"\nmqtt_broker = \"broker:1883\"\n\
         mqtt_broker_password = \"hunter2\"\nfirmware_quota = 9\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "firmware_qouta = 9\n").unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ota"))
            .args(["serve", "--check-config", "--config"])
            .arg(file)
            .env("OTA_NUDGE_SECS", "60")
            .output()
            .unwrap()
    };
    let out = run(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "firmware_quota = 9",
        "nudge_secs = 60",
        ":8081\"",
        "mqtt_broker_password = \"***\"",
    ] {
        assert!(shown.contains(line), "{line} not in {shown}");
    }
    assert!(!shown.contains("hunter2"));
    let out = run(&bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("firmware_qouta"), "{err}");
}

/// `ota job watch` follows a batch to its end: a line per change when not on a terminal,
/// then the batch's JSON with its final counts on stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_watch_follows_a_batch_to_its_end() {
    let server = Server::start().await;
    let fleet = fleet(&server, 4).await;
    let pkg = fixtures::package(&server, &fleet.pk, "2.0.0", 16 * 1024).await;
    let mix: ota_device_sdk::sim::Behaviour = "mix:75=succeed,25=fail:-3".parse().unwrap();
    let (_, sim) = fixtures::simulate(&server, fleet.devices.clone(), mix);
    fixtures::wait_reported(&server, &fleet.pk, 4).await;
    let id = fixtures::id(
        &fixtures::job(
            &server,
            &pkg,
            serde_json::json!({"target_selection": "ALL"}),
        )
        .await,
    );
    let (ok, out, err) = ota(&server, &["job", "watch", &id, "--every", "0.2"]);
    assert!(ok, "{err}");
    let done: serde_json::Value = serde_json::from_str(&out).expect("the batch as JSON");
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["counts"]["by_status"]["SUCCEEDED"], 3, "{done}");
    assert_eq!(done["counts"]["by_status"]["FAILED"], 1, "{done}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("COMPLETED 4/4 finished (SUCCEEDED 3, FAILED 1)"),
        "{err}"
    );
    assert!(last.ends_with("failures: VERIFY_FAILED 1"), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "bars drawn off a terminal: {err:?}"
    );
    sim.abort();

    let (ok, _, err) = ota(&server, &["job", "watch", "no-such-batch"]);
    assert!(!ok);
    assert!(
        err.contains("no-such-batch") || err.contains("404"),
        "{err}"
    );
}
