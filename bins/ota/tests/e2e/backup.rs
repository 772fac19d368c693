//! `ota backup` of a running platform mid-rollout, `ota restore` after the server is gone:
//! the rollout finishes on the restored platform, and devices that updated after the backup
//! end SUCCEEDED by their version alone, without downloading again.

use crate::fixtures::{self, fleet, job, package};
use crate::harness::{Server, count};
use ota_device_sdk::sim::{self, Behaviour, DeviceCredentials, SimConfig, SimStats};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Simulated devices that stay connected (and reconnect) after updating.
fn keep_running(server: &Server, devices: &[DeviceCredentials]) -> tokio::task::JoinHandle<()> {
    let mut config = SimConfig::new(devices.to_vec(), vec![server.mqtt]);
    config.behaviour = Behaviour::Succeed;
    config.stop_after_update = false;
    config.duration = Some(Duration::from_secs(120));
    let stats = Arc::new(SimStats::default());
    tokio::spawn(async move {
        let _ = sim::run(config, stats).await;
    })
}

fn ota(args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ota"))
        .args(args)
        .output()
        .expect("run ota");
    assert!(
        out.status.success(),
        "ota {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON summary")
}

fn remove_store_and_packages(data: &Path) {
    for name in ["ota.db", "ota.db-wal", "ota.db-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }
    std::fs::remove_dir_all(data.join("packages")).expect("remove packages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_backed_up_midway_finishes_after_a_restore() {
    let mut server = Server::start().await;
    let fleet = fleet(&server, 12).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 32 * 1024).await;
    let id = fixtures::id(&job(&server, &pkg, json!({"target_selection": "ALL"})).await);
    // Four devices update before the backup, four after it, four after the restore.
    let before = keep_running(&server, &fleet.devices[..4]);
    server
        .wait_job(&id, "four updated", |j| count(j, "SUCCEEDED") == 4)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("mid-rollout.tar");
    let data = server.data_dir().to_owned();
    let summary = ota(&[
        "backup",
        archive.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(summary["packages"], 1, "{summary}");
    assert_eq!(summary["missing"], json!([]), "{summary}");

    let after = keep_running(&server, &fleet.devices[4..8]);
    server
        .wait_job(&id, "eight updated", |j| count(j, "SUCCEEDED") == 8)
        .await;

    // The server and its data are lost; the archive is all there is.
    server.kill().await;
    remove_store_and_packages(&data);
    let restored = ota(&[
        "restore",
        archive.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(restored["packages"], 1, "{restored}");
    server.start_again().await;
    let job = server.job(&id).await;
    assert_eq!(count(&job, "SUCCEEDED"), 4, "the backup's state: {job}");

    // The devices reconnect to the restored server; the last four come online.
    let last = keep_running(&server, &fleet.devices[8..]);
    let job = server
        .wait_job(&id, "every device updated", |j| j["status"] == "COMPLETED")
        .await;
    assert_eq!(count(&job, "SUCCEEDED"), 12, "{job}");
    assert_eq!(
        server.counter("ota_downloads_total ").await,
        4,
        "only the devices that had not updated download"
    );
    for sims in [before, after, last] {
        sims.abort();
    }
}

#[tokio::test]
async fn backup_and_restore_refuse_what_they_cannot_do_safely() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("ota.db"), b"a store").unwrap();
    let not_a_backup = dir.path().join("other.tar");
    std::fs::write(&not_a_backup, vec![0u8; 1024]).unwrap();
    let nowhere = dir.path().join("nowhere");
    for (command, archive, data, expected) in [
        ("restore", &not_a_backup, &data, "exists"),
        (
            "restore",
            &not_a_backup,
            &dir.path().join("new"),
            "not an ota backup",
        ),
        ("backup", &dir.path().join("b.tar"), &nowhere, "no store at"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ota"))
            .args([command, archive.to_str().unwrap(), "--data-dir"])
            .arg(data)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{stderr}");
    }
}
