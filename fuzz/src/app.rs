//! The whole HTTP application on a throw-away store, and requests written as raw HTTP text.
//!
//! The API targets send what a client could send to the real router (`ota_api::router`) over
//! SQLite in memory and a package directory in a temporary folder, so parsing, validation and
//! the core's own checks all run as in production. An input is a request in HTTP/1.1 text
//! form (`METHOD target`, header lines, an empty line, the body), which keeps seeds readable.
//! Placeholders let inputs name what exists only at run time (`{{PK}}` the seeded product,
//! `{{FW}}` its package, `{{DN}}` a registered device), and the header `x-fuzz-sign` asks the
//! harness to sign the request validly (`ota`: the native API's signature; `v1` and `acs3`:
//! the Aliyun RPC signatures) so the fuzzer reaches what lies behind the signature checks.
//! Without it the request goes out exactly as written.
//!
//! Every few thousand requests the application is rebuilt from scratch, so what earlier
//! inputs created (products, devices, nonces) does not pile up.

use axum::Router;
use axum::body::Body;
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use ota_api::AppState;
use ota_api::aliyun::{fuzzing as rpc, sign_v1};
use ota_blob::{DirStore, UrlSigner};
use ota_core::{Core, CoreConfig, SystemClock, UploadPurpose};
use ota_store::Store;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower::ServiceExt;

/// Requests served by one application before it is rebuilt.
const REBUILD_AFTER: u64 = 5_000;
const KEY_ID: &str = "FUZZKEY";
const SECRET: &str = "fuzz-secret";
pub(crate) const DEVICE: &str = "dev1";

/// A request as written in an input.
pub(crate) struct Raw {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Raw {
    /// Parses HTTP/1.1-like text leniently: the first line is `METHOD target`, then
    /// `name: value` lines up to an empty line; the rest is the body.
    pub(crate) fn parse(data: &[u8]) -> Option<Raw> {
        let split = [&b"\r\n\r\n"[..], b"\n\n"]
            .iter()
            .filter_map(|sep| find(data, sep).map(|p| (p, sep.len())))
            .min();
        let (head, body) = match split {
            Some((p, n)) => (&data[..p], &data[p + n..]),
            None => (data, &data[data.len()..]),
        };
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let mut first = lines
            .next()?
            .split(|&b| b == b' ')
            .filter(|s| !s.is_empty());
        let (method, target) = (first.next()?.to_vec(), first.next()?.to_vec());
        let headers = lines
            .filter_map(|l| {
                let p = l.iter().position(|&b| b == b':')?;
                Some((
                    l[..p].trim_ascii().to_vec(),
                    l[p + 1..].trim_ascii().to_vec(),
                ))
            })
            .collect();
        Some(Raw {
            method,
            target,
            headers,
            body: body.to_vec(),
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    fn set_header(&mut self, name: &str, value: String) {
        self.headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        self.headers
            .push((name.as_bytes().to_vec(), value.into_bytes()));
    }
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(p) = find(rest, from) {
        out.extend_from_slice(&rest[..p]);
        out.extend_from_slice(to);
        rest = &rest[p + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// A running application and what the harness seeded into it.
pub(crate) struct App {
    rt: tokio::runtime::Runtime,
    router: Router,
    pub state: AppState,
    _dir: tempfile::TempDir,
    pub product_key: String,
    pub firmware_id: String,
    upload: Option<(ota_core::UploadGrant, Instant)>,
    served: u64,
    nonce: u64,
}

thread_local! {
    static APP: RefCell<Option<App>> = const { RefCell::new(None) };
}

/// Runs `f` with the application, building (or rebuilding) it first when due.
pub(crate) fn with_app<T>(f: impl FnOnce(&mut App) -> T) -> T {
    APP.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|a| a.served >= REBUILD_AFTER) {
            // Drop the old one first: its runtime must stop before the new one starts.
            *slot = None;
            *slot = Some(App::build());
        }
        let app = slot.as_mut().expect("built");
        app.served += 1;
        f(app)
    })
}

fn wall_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl App {
    fn build() -> App {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temporary directory");
        let (state, product_key) = rt.block_on(async {
            let store = Store::connect("sqlite::memory:").await.expect("store");
            let blobs = DirStore::open(&dir.path().join("packages"))
                .await
                .expect("package directory");
            let core = Core::new(
                store,
                blobs,
                UrlSigner::new("url-secret".to_owned()),
                Arc::new(SystemClock),
                CoreConfig::default(),
            );
            core.teams()
                .prepare(Some((KEY_ID, SECRET)))
                .await
                .expect("key");
            let product = core
                .registry()
                .create_product("fuzz", None)
                .await
                .expect("seed product");
            core.registry()
                .register_devices(&product.product_key, &[Some(DEVICE.to_owned())])
                .await
                .expect("seed device");
            let state = AppState {
                core,
                metrics: None,
                online: Arc::new(|| 0),
                clock: None,
            };
            (state, product.product_key.0)
        });
        let router = ota_api::router(state.clone());
        let mut app = App {
            rt,
            router,
            state,
            _dir: dir,
            product_key,
            firmware_id: String::new(),
            upload: None,
            served: 0,
            nonce: 0,
        };
        app.firmware_id = app.seed_firmware();
        app
    }

    /// A package through the native API itself, as a client would create it.
    fn seed_firmware(&mut self) -> String {
        let upload = self
            .send_signed(
                Raw {
                    method: b"PUT".to_vec(),
                    target: b"/api/v1/uploads/fw.bin".to_vec(),
                    headers: Vec::new(),
                    body: vec![0xA5; 1024],
                },
                false,
            )
            .expect("seed upload request");
        let upload: serde_json::Value = serde_json::from_slice(&upload.1).expect("upload answer");
        let body = serde_json::json!({
            "product_key": self.product_key, "name": "fw-1", "dest_version": "1.0.1",
            "url": upload["url"], "size": 1024, "sign": upload["md5"], "sign_method": "Md5",
        });
        let (status, answer) = self
            .send_signed(
                Raw {
                    method: b"POST".to_vec(),
                    target: b"/api/v1/firmwares".to_vec(),
                    headers: vec![(b"content-type".to_vec(), b"application/json".to_vec())],
                    body: body.to_string().into_bytes(),
                },
                true,
            )
            .expect("seed firmware request");
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("firmware answer");
        assert_eq!(status, 201, "seed firmware: {answer}");
        answer["firmware_id"]
            .as_str()
            .expect("firmware_id")
            .to_owned()
    }

    fn next_nonce(&mut self) -> String {
        self.nonce += 1;
        format!("fuzz-nonce-{}", self.nonce)
    }

    /// Replaces the placeholders of an input with what exists in this application.
    pub(crate) fn substitute(&self, data: &[u8]) -> Vec<u8> {
        let data = replace(data, b"{{PK}}", self.product_key.as_bytes());
        let data = replace(&data, b"{{FW}}", self.firmware_id.as_bytes());
        replace(&data, b"{{DN}}", DEVICE.as_bytes())
    }

    /// A fresh upload grant for the OSS form (grants are valid for a minute).
    pub(crate) fn upload_grant(&mut self) -> ota_core::UploadGrant {
        if let Some((grant, at)) = &self.upload
            && at.elapsed() < Duration::from_secs(30)
        {
            return grant.clone();
        }
        let grant = self
            .rt
            .block_on(
                self.state
                    .core
                    .firmwares()
                    .grant_upload(UploadPurpose::DeviceList),
            )
            .expect("upload grant");
        self.upload = Some((grant.clone(), Instant::now()));
        grant
    }

    pub(crate) fn secret(&self) -> &'static str {
        SECRET
    }

    pub(crate) fn key_id(&self) -> &'static str {
        KEY_ID
    }

    /// Signs `raw` as the native API client does and sends it.
    fn send_signed(&mut self, mut raw: Raw, body_signed: bool) -> Option<(u16, Vec<u8>)> {
        let nonce = self.next_nonce();
        let method = String::from_utf8_lossy(&raw.method).into_owned();
        let target = String::from_utf8_lossy(&raw.target).into_owned();
        let body = body_signed.then_some(&raw.body[..]);
        for (name, value) in
            ota_api::sign::sign_headers(KEY_ID, SECRET, &method, &target, body, wall_secs(), &nonce)
        {
            raw.set_header(name, value);
        }
        self.send(raw)
    }

    /// Sends `raw`, first signing it if it asks (`x-fuzz-sign`). `None` when it is no
    /// request `http` can represent.
    pub(crate) fn send_raw(&mut self, mut raw: Raw) -> Option<(u16, Vec<u8>)> {
        match raw.header("x-fuzz-sign").map(<[u8]>::to_ascii_lowercase) {
            Some(mode) if mode == b"ota" => {
                let unsigned = raw.header("x-ota-content-sha256") == Some(b"UNSIGNED-PAYLOAD");
                return self.send_signed(raw, !unsigned);
            }
            Some(mode) if mode == b"v1" => self.sign_v1(&mut raw),
            Some(mode) if mode == b"acs3" => self.sign_acs3(&mut raw),
            _ => {}
        }
        self.send(raw)
    }

    /// Aliyun signature v1: the key, nonce and time go into the query, then `Signature` over
    /// every parameter as the server merges them (query first, then a form body).
    fn sign_v1(&mut self, raw: &mut Raw) {
        let now = time::OffsetDateTime::from_unix_timestamp(wall_secs())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let nonce = self.next_nonce();
        let target = String::from_utf8_lossy(&raw.target).into_owned();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut query = query.to_owned();
        for (k, v) in [
            ("AccessKeyId", KEY_ID),
            ("SignatureNonce", &nonce),
            ("Timestamp", &now),
        ] {
            let sep = if query.is_empty() { "" } else { "&" };
            query = format!("{query}{sep}{k}={}", sign_v1::percent_encode(v));
        }
        let mut pairs = rpc::decode_pairs(&query);
        let is_form = raw.header("content-type").is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with(b"application/x-www-form-urlencoded")
        });
        if is_form {
            pairs.extend(rpc::decode_pairs(&String::from_utf8_lossy(&raw.body)));
        }
        let params = rpc::Params::from_pairs(pairs);
        let method = String::from_utf8_lossy(&raw.method).into_owned();
        let signature = sign_v1::signature(SECRET, &method, params.all());
        raw.target = format!(
            "{path}?{query}&Signature={}",
            sign_v1::percent_encode(&signature)
        )
        .into_bytes();
    }

    /// Aliyun ACS3-HMAC-SHA256: date, nonce and body digest headers, then `Authorization`
    /// over them and any `x-acs-*` headers the input has.
    fn sign_acs3(&mut self, raw: &mut Raw) {
        let now = time::OffsetDateTime::from_unix_timestamp(wall_secs())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let nonce = self.next_nonce();
        raw.set_header("x-acs-date", now);
        raw.set_header("x-acs-signature-nonce", nonce);
        raw.set_header(
            "x-acs-content-sha256",
            hex::encode(Sha256::digest(&raw.body)),
        );
        let Some(request) = to_request(raw) else {
            return;
        };
        let mut signed: Vec<String> = request
            .headers()
            .keys()
            .map(|n| n.as_str().to_owned())
            .filter(|n| n.starts_with("x-acs-") || n == "host")
            .collect();
        signed.sort();
        signed.dedup();
        let query = rpc::decode_pairs(request.uri().query().unwrap_or(""));
        let canonical = rpc::canonical_request(
            request.method().as_str(),
            request.uri().path(),
            &query,
            request.headers(),
            &signed,
            &hex::encode(Sha256::digest(&raw.body)),
        );
        let signature = rpc::signature(SECRET, &canonical);
        raw.set_header(
            "authorization",
            format!(
                "ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders={},Signature={signature}",
                signed.join(";")
            ),
        );
    }

    /// Sends `raw` through the router and reads the whole answer.
    pub(crate) fn send(&mut self, raw: Raw) -> Option<(u16, Vec<u8>)> {
        let request = to_request(&raw)?;
        let router = self.router.clone();
        Some(self.rt.block_on(async move {
            let response = router.oneshot(request).await.expect("infallible");
            let status = response.status().as_u16();
            let body = axum::body::to_bytes(response.into_body(), 64 << 20)
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default();
            (status, body)
        }))
    }
}

/// The `http` request `raw` describes; `None` when its method, target or a header is not
/// representable (a real server would have refused the bytes before routing).
pub(crate) fn to_request(raw: &Raw) -> Option<Request<Body>> {
    let method = Method::from_bytes(&raw.method).ok()?;
    let uri = Uri::try_from(raw.target.as_slice()).ok()?;
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in &raw.headers {
        let name = HeaderName::from_bytes(name).ok()?;
        let value = HeaderValue::from_bytes(value).ok()?;
        builder = builder.header(name, value);
    }
    builder.body(Body::from(raw.body.clone())).ok()
}

/// The status every API target refuses: a bad request must get a clear 4xx, never an
/// internal error.
pub(crate) fn check_status(status: u16, body: &[u8]) {
    if std::env::var_os("OTA_FUZZ_DEBUG").is_some() {
        eprintln!(
            "{status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    assert!(
        status != 500,
        "internal error: {}",
        String::from_utf8_lossy(body)
    );
}
