//! A package server with `Range: bytes=N-` support that can misbehave on purpose: cut the
//! first response after N bytes, or ignore ranges altogether.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;

struct St {
    data: Bytes,
    drop_first_after: Mutex<Option<usize>>,
    ignore_range: bool,
    ranges: Mutex<Vec<Option<String>>>,
}

/// A running server; `url` serves the package.
pub struct FileServer {
    pub url: String,
    st: Arc<St>,
}

impl FileServer {
    /// Serves `data` at `/pkg.bin`; the first response is cut after `drop_first_after` bytes.
    pub async fn start(data: Vec<u8>, drop_first_after: Option<usize>, ignore_range: bool) -> Self {
        let st = Arc::new(St {
            data: Bytes::from(data),
            drop_first_after: Mutex::new(drop_first_after),
            ignore_range,
            ranges: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/pkg.bin", get(serve))
            .with_state(Arc::clone(&st));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FileServer {
            url: format!("http://{addr}/pkg.bin"),
            st,
        }
    }

    /// The `Range` header of every request so far.
    pub fn ranges(&self) -> Vec<Option<String>> {
        self.st.ranges.lock().unwrap().clone()
    }
}

async fn serve(State(st): State<Arc<St>>, headers: HeaderMap) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    st.ranges.lock().unwrap().push(range.clone());
    let len = st.data.len();
    let start = range
        .as_deref()
        .filter(|_| !st.ignore_range)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let (mut resp, body_bytes) = match start {
        Some(s) if s >= len => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .body(Body::empty())
                .unwrap();
        }
        Some(s) => (
            Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(
                    header::CONTENT_RANGE,
                    format!("bytes {s}-{}/{len}", len - 1),
                ),
            st.data.slice(s..),
        ),
        None => (
            Response::builder()
                .status(StatusCode::OK)
                .header(header::ACCEPT_RANGES, "bytes"),
            st.data.clone(),
        ),
    };
    resp = resp.header(header::CONTENT_LENGTH, body_bytes.len());
    let cut = st.drop_first_after.lock().unwrap().take();
    let body = match cut {
        None => Body::from(body_bytes),
        Some(n) => {
            let head = body_bytes.slice(..n.min(body_bytes.len()));
            // Let the head reach the client before the connection dies.
            let fail = futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err::<Bytes, std::io::Error>(std::io::Error::other("cut on purpose"))
            });
            Body::from_stream(futures::stream::iter([Ok(head)]).chain(fail))
        }
    };
    resp.body(body).unwrap()
}
