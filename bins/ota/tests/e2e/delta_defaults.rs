//! The server-wide delta default (`delta_from_latest`): packages whose request does not say
//! which deltas to make get them from the N most recent versions, on the native REST face
//! and on Aliyun `CreateOTAFirmware` alike; explicit requests keep to what they say.

use crate::deltas::{delta_sources_of, src_versions, upload, upload_with};
use crate::fixtures::{self, fleet, unique};
use crate::harness::{Server, poll_value};
use ota_api::aliyun::sign_v1::percent_encode;
use serde_json::{Value, json};

/// A signed Aliyun RPC call (signature v1, as `aliyun-python-sdk-core` sends it) on the
/// server's `POST /`; returns the answer's body.
async fn aliyun(server: &Server, action: &str, params: &[(&str, &str)]) -> Value {
    use crate::harness::{KEY_ID, KEY_SECRET};
    use std::collections::BTreeMap;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut all: BTreeMap<String, String> = [
        ("Action", action),
        ("Version", "2018-01-20"),
        ("Format", "JSON"),
        ("AccessKeyId", KEY_ID),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ]
    .iter()
    .chain(params)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.insert("SignatureNonce".into(), unique("nonce-"));
    all.insert("Timestamp".into(), iso_utc(secs));
    let signature = ota_api::aliyun::sign_v1::signature(KEY_SECRET, "POST", &all);
    all.insert("Signature".into(), signature);
    let form: Vec<String> = all
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("http://{}/", server.http))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.join("&"))
        .send()
        .await
        .expect("Aliyun call");
    let status = response.status();
    let body: Value = response.json().await.expect("Aliyun answer");
    assert!(status.is_success(), "{action}: {status} {body}");
    body
}

/// `secs` since the epoch as ISO 8601 UTC (days to civil date, proleptic Gregorian).
pub(crate) fn iso_utc(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// Uploads `bytes` and creates a package through Aliyun `CreateOTAFirmware` with `extra`
/// parameters; returns its id.
async fn aliyun_package(
    server: &Server,
    pk: &str,
    version: &str,
    bytes: Vec<u8>,
    extra: &[(&str, &str)],
) -> String {
    let upload = server
        .api
        .upload_bytes(&format!("{}.bin", unique("pkg")), bytes)
        .await
        .expect("upload");
    let name = unique("fw-");
    let mut params = vec![
        ("ProductKey", pk),
        ("FirmwareName", name.as_str()),
        ("DestVersion", version),
        ("FirmwareUrl", upload["url"].as_str().unwrap()),
        ("NeedToVerify", "false"),
    ];
    params.extend_from_slice(extra);
    let created = aliyun(server, "CreateOTAFirmware", &params).await;
    created["Data"]["FirmwareId"]
        .as_str()
        .unwrap_or_else(|| panic!("no FirmwareId: {created}"))
        .to_owned()
}

/// With `delta_from_latest` set on the server, a full single-file package whose request
/// does not say which deltas to make gets them from the N most recent other versions of its
/// module — on the native REST face and on Aliyun `CreateOTAFirmware` alike; an explicit 0,
/// an explicit list, a differential package and a multi-file package keep to what they say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_default_makes_deltas_for_packages_that_do_not_say() {
    let server = Server::start_with_env(&[("OTA_DELTA_FROM_LATEST", "2")]).await;
    let fleet = fleet(&server, 0).await;
    let base = fixtures::payload(8 * 1024, 3);
    let image = |tag: &[u8]| {
        let mut bytes = base.clone();
        bytes.extend_from_slice(tag);
        bytes
    };
    // "Most recent" is by creation time: a second between packages keeps the order sure.
    let tick = || server.advance_clock(1_000);
    let created = |v: &Value| src_versions(&v["deltas"]);

    // REST without delta fields: the first package has nothing to diff from, the next ones
    // take the (at most) two most recent others.
    let first = upload_with(&server, &fleet.pk, "1.0", image(b"1.0"), json!({})).await;
    assert!(created(&first).is_empty(), "{first}");
    tick().await;
    let second = upload_with(&server, &fleet.pk, "1.1", image(b"1.1"), json!({})).await;
    assert_eq!(created(&second), ["1.0"], "{second}");
    tick().await;
    let third = upload_with(&server, &fleet.pk, "1.2", image(b"1.2"), json!({})).await;
    assert_eq!(created(&third), ["1.0", "1.1"], "{third}");
    let third_id = third["firmware_id"].as_str().unwrap();
    tick().await;

    // Generated for real: similar images give READY patches.
    let path = format!("/firmwares/{third_id}/deltas");
    let (ok, deltas) = poll_value(
        || async { server.api.get(&path).await.unwrap() },
        |v: &Value| {
            v["items"]
                .as_array()
                .is_some_and(|items| items.iter().all(|d| d["status"] == "READY"))
        },
    )
    .await;
    assert!(ok, "deltas never ready: {deltas}");

    // Explicit zero: none. An explicit list: exactly that, the default is not added.
    let none = upload_with(
        &server,
        &fleet.pk,
        "1.3",
        image(b"1.3"),
        json!({"delta_from_latest": 0}),
    )
    .await;
    assert!(created(&none).is_empty(), "{none}");
    let none_id = none["firmware_id"].as_str().unwrap();
    assert!(delta_sources_of(&server, none_id).await.is_empty());
    tick().await;
    let named = upload_with(
        &server,
        &fleet.pk,
        "1.4",
        image(b"1.4"),
        json!({"delta_from_versions": ["1.0"]}),
    )
    .await;
    assert_eq!(created(&named), ["1.0"], "{named}");
    tick().await;

    // A multi-file package never gets generated deltas.
    let mut files = Vec::new();
    for i in 0..2 {
        let upload = server
            .api
            .upload_bytes(&format!("{}.bin", unique("part")), image(&[i]))
            .await
            .unwrap();
        files.push(json!({"name": format!("part{i}.bin"), "url": upload["url"]}));
    }
    let multi = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": fleet.pk, "name": unique("fw-"), "dest_version": "1.5",
                    "files": files, "need_to_verify": false}),
        )
        .await
        .expect("create a multi-file package");
    assert!(created(&multi).is_empty(), "{multi}");

    // Aliyun tooling, unchanged: a full package gets the default deltas (the two most
    // recent full single-file versions, 1.4 and 1.3), an operator-uploaded differential
    // package (Type=1) none.
    let full = aliyun_package(&server, &fleet.pk, "2.0", image(b"2.0"), &[]).await;
    assert_eq!(delta_sources_of(&server, &full).await, ["1.3", "1.4"]);
    let diff = aliyun_package(
        &server,
        &fleet.pk,
        "2.1",
        image(b"patch"),
        &[("Type", "1"), ("SrcVersion", "2.0")],
    )
    .await;
    assert!(delta_sources_of(&server, &diff).await.is_empty());
}

/// Without the setting (the default), a package whose request says nothing gets no
/// deltas, on either face: today's behaviour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_packages_get_only_the_deltas_they_ask_for() {
    let server = Server::start().await;
    let fleet = fleet(&server, 0).await;
    upload(&server, &fleet.pk, "1.0", fixtures::payload(4 * 1024, 1)).await;
    let rest = upload_with(
        &server,
        &fleet.pk,
        "1.1",
        fixtures::payload(4 * 1024, 2),
        json!({}),
    )
    .await;
    assert_eq!(rest["deltas"], json!([]), "{rest}");
    let full = aliyun_package(
        &server,
        &fleet.pk,
        "1.2",
        fixtures::payload(4 * 1024, 3),
        &[],
    )
    .await;
    assert!(delta_sources_of(&server, &full).await.is_empty());
}

/// A bad setting stops the server at startup, naming the setting.
#[tokio::test]
async fn a_bad_default_is_refused_at_startup() {
    for value in ["11", "-1", "two"] {
        let dir = tempfile::tempdir().unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ota"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--http-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0"])
            .env("OTA_DELTA_FROM_LATEST", value)
            .env("OTA_LOG", "error")
            .env_remove("OTA_CONFIG")
            .output()
            .await
            .expect("run ota serve");
        assert!(!out.status.success(), "{value}: the server started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("delta_from_latest"), "{value}: {stderr}");
        assert!(stderr.contains("between 0 and 10"), "{value}: {stderr}");
    }
}
