//! Scenario 15: the API's refusals and the download endpoint. Unsigned, mis-signed and
//! replayed requests are 401 with a stable code; invalid parameters are 400 naming the
//! Aliyun parameter and its rule; download URLs are refused when tampered with or expired
//! and honour `Range`; and every documented route is actually routed.

use crate::fixtures::{self, fleet, job, package, try_job};
use crate::harness::{KEY_ID, KEY_SECRET, Server};
use ota::client::ApiClient;
use serde_json::{Value, json};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_failures_are_401_with_a_code() {
    let server = Server::start().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", server.http);

    let (status, body) = status_and_body(
        http.get(format!("{base}/api/v1/products"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("MissingAuthentication")),
        "{body}"
    );

    let forged = ApiClient::new(&base, KEY_ID, "not-the-secret");
    let err = forged.get("/products").await.unwrap_err();
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("SignatureDoesNotMatch")),
        "{body}"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers = ota_api::sign::sign_headers(
        KEY_ID,
        KEY_SECRET,
        "GET",
        "/api/v1/products",
        Some(b""),
        now,
        "e2e-nonce-once",
    );
    let send = || {
        let mut request = http.get(format!("{base}/api/v1/products"));
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let (status, body) = status_and_body(send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("SignatureNonceUsed")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_name_the_field_and_rule() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let upload = server
        .api
        .upload_bytes("p.bin", vec![1, 2, 3])
        .await
        .unwrap();
    let err = server
        .api
        .post(
            "/firmwares",
            &json!({"product_key": fleet.pk, "name": "bad-version", "dest_version": "2.0 beta!",
                    "url": upload["url"], "need_to_verify": false}),
        )
        .await
        .unwrap_err();
    let expect = |err: anyhow::Error, field: &str, rule: &str| {
        let (status, body) = fixtures::failure(&err);
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "InvalidParameter", "{body}");
        assert_eq!(body["field"], field, "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(rule),
            "{field}: message {message:?} lacks {rule:?}"
        );
    };
    expect(err, "DestVersion", "");

    let pkg = package(&server, &fleet.pk, "2.0.0", 1024).await;
    let err = try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "tags": [{"key": "bad key!", "value": "v"}]}),
    )
    .await
    .unwrap_err();
    expect(err, "Tag.1.Key", "");
    let err = try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "maximum_per_minute": 5}),
    )
    .await
    .unwrap_err();
    expect(err, "MaximumPerMinute", "10-10000");
    let err = try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "retry_interval": 10}),
    )
    .await
    .unwrap_err();
    expect(err, "RetryCount", "");
    // A body that does not even read as the request is refused the same way.
    let err = try_job(
        &server,
        &pkg,
        json!({"target_selection": "ALL", "maximum_per_minute": "abc"}),
    )
    .await
    .unwrap_err();
    expect(err, "maximum_per_minute", "invalid type: string");
    let err = server
        .api
        .post(
            &format!("/products/{}/devices", fleet.pk),
            &json!({"count": -1}),
        )
        .await
        .unwrap_err();
    expect(err, "count", "invalid value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_signed_expire_and_resume() {
    let server = Server::start().await;
    let fleet = fleet(&server, 1).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 10_000).await;
    let fw = server
        .api
        .get(&format!("/firmwares/{}", pkg.id))
        .await
        .unwrap();
    let url = fw["download_urls"][0].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();

    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.bytes().await.unwrap().as_ref(), pkg.bytes.as_slice());

    let part = http
        .get(&url)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        "bytes 1000-1999/10000"
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &pkg.bytes[1000..2000]);
    ranges_answer_as_http_says(&http, &url, &pkg.bytes).await;

    // A package of several chunks of the mapped file (256 KiB each), read whole and in a
    // range across a chunk boundary.
    let large = package(&server, &fleet.pk, "3.0.0", 600_000).await;
    let fw = server
        .api
        .get(&format!("/firmwares/{}", large.id))
        .await
        .unwrap();
    let large_url = fw["download_urls"][0].as_str().unwrap();
    let whole = http.get(large_url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(
        whole.bytes().await.unwrap().as_ref(),
        large.bytes.as_slice()
    );
    ranges_answer_as_http_says(&http, large_url, &large.bytes).await;
    let across = http
        .get(large_url)
        .header("range", "bytes=262000-524999")
        .send()
        .await
        .unwrap();
    assert_eq!(across.status(), 206);
    assert_eq!(
        across.bytes().await.unwrap().as_ref(),
        &large.bytes[262_000..525_000]
    );

    let tampered = if url.ends_with('0') {
        format!("{}1", &url[..url.len() - 1])
    } else {
        format!("{}0", &url[..url.len() - 1])
    };
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(http.get(unsigned).send().await.unwrap().status(), 403);

    // Past the URL's lifetime (24 h by default) the same URL is refused, while signed API
    // calls keep working: their freshness is judged by real time.
    server.advance_clock(25 * 3_600_000).await;
    assert_eq!(http.get(&url).send().await.unwrap().status(), 403);
    let fresh = server
        .api
        .get(&format!("/firmwares/{}", pkg.id))
        .await
        .unwrap();
    let fresh_url = fresh["download_urls"][0].as_str().unwrap();
    assert_eq!(http.get(fresh_url).send().await.unwrap().status(), 200);
}

/// The download route's answers to the `Range` forms, `HEAD` and a conditional request,
/// for a package of `bytes`.
async fn ranges_answer_as_http_says(http: &reqwest::Client, url: &str, bytes: &[u8]) {
    let len = bytes.len();
    let get = |range: &str| http.get(url).header("range", range.to_owned()).send();
    // (Range, status, bytes expected)
    let cases: [(String, u16, Option<std::ops::Range<usize>>); 5] = [
        (format!("bytes={}-", len - 100), 206, Some(len - 100..len)),
        ("bytes=-500".to_owned(), 206, Some(len - 500..len)),
        (format!("bytes=0-{}", len + 5), 206, Some(0..len)),
        (format!("bytes={}-", len + 1), 416, None),
        ("bytes=0-1,5-6".to_owned(), 416, None),
    ];
    for (range, status, want) in cases {
        let answer = get(&range).await.unwrap();
        assert_eq!(answer.status(), status, "{range}");
        if let Some(want) = want {
            assert_eq!(
                answer.headers()["content-range"].to_str().unwrap(),
                format!("bytes {}-{}/{len}", want.start, want.end - 1),
                "{range}"
            );
            assert_eq!(
                answer.bytes().await.unwrap().as_ref(),
                &bytes[want],
                "{range}"
            );
        } else {
            assert_eq!(
                answer.headers()["content-range"].to_str().unwrap(),
                format!("bytes */{len}"),
                "{range}"
            );
        }
    }
    let head = http.head(url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"].to_str().unwrap(),
        len.to_string()
    );
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    assert!(head.bytes().await.unwrap().is_empty());
    let etag = http.get(url).send().await.unwrap().headers()["etag"].clone();
    let unchanged = http
        .get(url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert!(unchanged.bytes().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_routed() {
    let server = Server::start().await;
    let doc = server.api.get("/openapi.json").await.unwrap();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let path = path.strip_prefix("/api/v1").unwrap().to_owned();
        for method in item.as_object().unwrap().keys() {
            routes.push((method.clone(), path.clone()));
        }
    }
    assert!(routes.len() >= 46, "{} documented operations", routes.len());
    for (method, path) in &routes {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "e2e-missing"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method: reqwest::Method = method.to_uppercase().parse().unwrap();
        let body = (method != reqwest::Method::GET && method != reqwest::Method::DELETE)
            .then(|| json!({}));
        let (status, reply) = match server
            .api
            .call(method.clone(), &concrete, body.as_ref())
            .await
        {
            Ok(v) => (200, v),
            Err(e) => fixtures::failure(&e),
        };
        assert_ne!(status, 405, "{method} {path}: method not routed");
        if status == 404 {
            assert!(
                reply["code"].is_string(),
                "{method} {path}: bare 404 (not routed): {reply}"
            );
        }
    }
}

/// A batch's task list (and a product's device list) pages by keyset: following
/// `next_after` walks the same items, in the same order, as the numbered pages, and stops
/// at the last page; `after` with a page number is refused naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_task_list_pages_by_keyset() {
    let server = Server::start().await;
    let fleet = fleet(&server, 25).await;
    let pkg = package(&server, &fleet.pk, "2.0.0", 1024).await;
    let batch = fixtures::id(
        &job(
            &server,
            &pkg,
            json!({"target_selection": "ALL", "maximum_per_minute": 10}),
        )
        .await,
    );
    let list = format!("/jobs/{batch}/tasks?page_size=10");
    let task_ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["task_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut numbered = Vec::new();
    for n in 1..=3 {
        let page = server.api.get(&format!("{list}&page={n}")).await.unwrap();
        assert_eq!(page["total"], 25, "{page}");
        numbered.extend(task_ids(&page));
    }
    let mut by_key = Vec::new();
    let mut path = list.clone();
    let mut pages = 0;
    loop {
        let page = server.api.get(&path).await.unwrap();
        pages += 1;
        by_key.extend(task_ids(&page));
        match page["next_after"].as_str() {
            Some(after) => path = format!("{list}&after={after}"),
            None => break,
        }
    }
    assert_eq!((pages, by_key.len()), (3, 25));
    assert_eq!(by_key, numbered);
    // The product's device list pages the same way, by name.
    let devices = format!("/products/{}/devices?page_size=10", fleet.pk);
    let mut walked = Vec::new();
    let mut path = devices.clone();
    loop {
        let page = server.api.get(&path).await.unwrap();
        assert_eq!(page["total"], 25, "{page}");
        walked.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["device_name"].clone()),
        );
        match page["next_after"].as_str() {
            Some(after) => path = format!("{devices}&after={after}"),
            None => break,
        }
    }
    let mut numbered_devices = Vec::new();
    for n in 1..=3 {
        let page = server
            .api
            .get(&format!("{devices}&page={n}"))
            .await
            .unwrap();
        numbered_devices.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["device_name"].clone()),
        );
    }
    assert_eq!(walked, numbered_devices);
    let err = server
        .api
        .get(&format!("{list}&page=2&after={}", numbered[9]))
        .await
        .unwrap_err();
    let (status, body) = fixtures::failure(&err);
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("after")),
        "{body}"
    );
}
