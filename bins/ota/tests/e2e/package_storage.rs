//! Packages in an S3 bucket (a real S3-compatible server, `s3s-fs`): uploads land in the
//! bucket and nowhere on the node, pushes carry presigned bucket URLs so devices download
//! from the storage service, MQTT block download and delta generation read the bucket, and
//! download URLs the server signed before the packages moved to the bucket keep working.

use crate::deltas::{delta_from_1_0_0, delta_update, job_for_all, upload};
use crate::fixtures::{self, expect_push, fleet, package};
use crate::harness::Server;
use ota_blob::testing::S3TestServer;
use ota_blob::{BlobStore, S3Store};

/// The `OTA_S3_*` settings that put a server's packages in `s3`'s bucket under `prefix`.
fn s3_env(s3: &S3TestServer, prefix: &str) -> Vec<(String, String)> {
    [
        ("OTA_S3_BUCKET", s3.bucket.as_str()),
        ("OTA_S3_ENDPOINT", s3.endpoint.as_str()),
        ("OTA_S3_REGION", "us-east-1"),
        ("OTA_S3_PREFIX", prefix),
        ("OTA_S3_ACCESS_KEY_ID", s3.access_key_id.as_str()),
        ("OTA_S3_SECRET_ACCESS_KEY", s3.secret_access_key.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn on_s3(s3: &S3TestServer, prefix: &str) -> Server {
    let env = s3_env(s3, prefix);
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start_with_env(&refs).await
}

/// Files under `dir`, recursively, as paths relative to it.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_download_packages_and_deltas_straight_from_the_bucket() {
    let s3 = S3TestServer::start();
    let server = on_s3(&s3, "fleet-a").await;
    let fleet = fleet(&server, 2).await;
    let old = fixtures::payload(64 * 1024, 3);
    let mut new = old.clone();
    new[5000..5100].fill(0x5A);
    new.extend_from_slice(b"two");
    upload(&server, &fleet.pk, "1.0.0", old.clone()).await;
    let new_id = upload(&server, &fleet.pk, "2.0.0", new.clone()).await;
    assert!(
        files_under(&server.data_dir().join("packages")).is_empty(),
        "package bytes on the node"
    );

    // The operator's download link is a presigned bucket URL that serves the package.
    let fw = server
        .api
        .get(&format!("/firmwares/{new_id}"))
        .await
        .unwrap();
    let url = fw["download_urls"][0].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/{}/fleet-a/", s3.endpoint, s3.bucket)),
        "{url}"
    );
    assert!(url.contains("X-Amz-Signature=") && !url.contains(&s3.secret_access_key));
    let fetched = reqwest::get(url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap(), new);

    // A delta generated from the bucket's objects into the bucket.
    let (deltas, delta_size) = delta_from_1_0_0(&server, &new_id).await;
    assert!(delta_size < new.len() as u64 / 2, "{deltas}");

    let on_old = fixtures::online_trusting(&server, &fleet.devices[0], "1.0.0").await;
    let on_older = fixtures::online_trusting(&server, &fleet.devices[1], "0.9.0").await;
    fixtures::wait_reported(&server, &fleet.pk, 2).await;
    let batch = job_for_all(&server, &new_id, &new).await;
    let id = fixtures::id(&batch);

    // The device on 1.0.0 gets the delta's bucket URL and rebuilds the new image.
    delta_update(&on_old, delta_size, &old, &new).await;
    // The device on 0.9.0 gets the full package's bucket URL.
    let push = expect_push(&on_older).await;
    assert!(!push.data.is_diff, "{push:?}");
    let pushed = push.data.url.clone().unwrap();
    assert!(pushed.starts_with(&s3.endpoint), "{pushed}");
    on_older
        .run_update(&push)
        .await
        .expect("full update from the bucket");
    assert_eq!(on_older.handler().installed.lock().unwrap()[0], new);
    for i in 0..2 {
        server.wait_status(&id, fleet.name(i), "SUCCEEDED").await;
    }
    // Downloads went to the bucket, not through the node.
    assert_eq!(server.counter("ota_downloads_total").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_block_download_reads_the_bucket() {
    let s3 = S3TestServer::start();
    crate::delivery::mqtt_block_update(&on_s3(&s3, "").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_signed_before_packages_moved_to_the_bucket_keep_working() {
    let s3 = S3TestServer::start();
    let mut server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 40_000).await;
    let fw = server
        .api
        .get(&format!("/firmwares/{}", pkg.id))
        .await
        .unwrap();
    let issued = fw["download_urls"][0].as_str().unwrap().to_owned();
    assert!(issued.contains("/dl/"), "{issued}");

    // The operator copies the package directory into the bucket and restarts on it.
    let packages = server.data_dir().join("packages");
    let bucket = BlobStore::from(S3Store::connect(&s3.config("moved")).unwrap());
    for file in files_under(&packages) {
        let bytes = std::fs::read(packages.join(&file)).unwrap();
        bucket
            .put_bytes(file.to_str().unwrap(), bytes.into())
            .await
            .unwrap();
    }
    std::fs::remove_dir_all(&packages).unwrap();
    server.set_env(&s3_env(&s3, "moved"));
    server.restart().await;

    // The old URL redirects to the bucket for what is left of its lifetime.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = no_follow.get(&issued).send().await.unwrap();
    assert_eq!(answer.status(), 307);
    let location = answer.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&s3.endpoint), "{location}");
    let followed = reqwest::get(&issued).await.unwrap();
    assert_eq!(followed.status(), 200);
    assert_eq!(followed.bytes().await.unwrap(), pkg.bytes);
    // A tampered one does not.
    let tampered = issued.replacen("expires=", "expires=9", 1);
    assert_eq!(no_follow.get(&tampered).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn a_wrong_bucket_credential_stops_the_start_and_is_not_logged() {
    let s3 = S3TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut env = s3_env(&s3, "");
    env.retain(|(k, _)| k != "OTA_S3_SECRET_ACCESS_KEY");
    let wrong = "not-the-secret-4e1f";
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_ota"))
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--mqtt-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .envs(env)
        .env("OTA_S3_SECRET_ACCESS_KEY", wrong)
        .env("OTA_LOG", "debug")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("reaching the S3 package bucket"), "{said}");
    assert!(!said.contains(wrong), "secret in the output: {said}");
}
