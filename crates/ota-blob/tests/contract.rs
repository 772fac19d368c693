//! One contract, both backends: every check runs against a local directory and against a real
//! S3-compatible server (`s3s-fs`), so the two behave the same to the service layer.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use ota_blob::testing::S3TestServer;
use ota_blob::{BlobError, BlobStore, DirStore, S3Store};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
    let parts: Vec<_> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    futures::stream::iter(parts)
}

/// Pseudo-random bytes, so parts of a large upload differ.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

async fn read_all(store: &BlobStore, key: &str) -> Vec<u8> {
    let mut stream = store.read_stream(key).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

async fn contract(store: BlobStore) {
    // Streams, hashes and reads back.
    let info = store
        .put_stream("a/b.bin", chunks(b"hello world", 3), 100)
        .await
        .unwrap();
    assert_eq!(info.size, 11);
    assert_eq!(info.md5, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(
        info.sha256,
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    );
    assert_eq!(store.size("a/b.bin").await.unwrap(), 11);
    assert_eq!(store.read_range("a/b.bin", 6, 100).await.unwrap(), "world");
    assert_eq!(store.read_range("a/b.bin", 2, 3).await.unwrap(), "llo");
    assert_eq!(store.read_range("a/b.bin", 11, 10).await.unwrap(), "");
    assert_eq!(store.read_range("a/b.bin", 50, 10).await.unwrap(), "");
    assert_eq!(read_all(&store, "a/b.bin").await, b"hello world");

    // An empty object is an object.
    let empty = store.put_bytes("empty.bin", Bytes::new()).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(store.size("empty.bin").await.unwrap(), 0);
    assert_eq!(read_all(&store, "empty.bin").await, b"");

    // Larger than several multipart parts, sent in odd-sized chunks.
    let big = noise(19 * 1024 * 1024 + 123, 7);
    let info = store
        .put_stream("big/firmware.bin", chunks(&big, 300_007), u64::MAX)
        .await
        .unwrap();
    assert_eq!(info.size, big.len() as u64);
    assert_eq!(info.sha256, hex::encode(Sha256::digest(&big)));
    let across = 8 * 1024 * 1024 - 10;
    assert_eq!(
        store
            .read_range("big/firmware.bin", across as u64, 20)
            .await
            .unwrap(),
        big[across..across + 20]
    );
    assert_eq!(read_all(&store, "big/firmware.bin").await, big);

    // Too large: refused and nothing kept, also after parts were already sent.
    for (key, len, limit) in [
        ("small-over.bin", 1000, 999),
        ("big-over.bin", 18 << 20, 17 << 20),
    ] {
        let err = store
            .put_stream(key, chunks(&noise(len, 3), 65_536), limit)
            .await
            .unwrap_err();
        assert!(
            matches!(err, BlobError::TooLarge { limit: l } if l == limit),
            "{err}"
        );
        assert!(
            matches!(store.size(key).await, Err(BlobError::NotFound(_))),
            "{key} kept"
        );
    }

    // A client that goes away mid-upload leaves nothing.
    let body = futures::stream::iter(vec![Ok(Bytes::from("abc")), Err("reset".to_owned())]);
    let err = store.put_stream("cut.bin", body, 100).await.unwrap_err();
    assert!(matches!(err, BlobError::Interrupted(_)), "{err}");
    assert!(matches!(
        store.size("cut.bin").await,
        Err(BlobError::NotFound(_))
    ));

    // Missing objects are NotFound on every read; deleting one is not an error.
    assert!(matches!(
        store.size("nope").await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.read_range("nope", 0, 4).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(
        store.read_stream("nope").await,
        Err(BlobError::NotFound(_))
    ));
    store.delete("nope").await.unwrap();
    store.delete("a/b.bin").await.unwrap();
    assert!(matches!(
        store.size("a/b.bin").await,
        Err(BlobError::NotFound(_))
    ));

    // Keys that could escape a directory or confuse a URL are refused before any request.
    for key in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a b", "a?b"] {
        let err = store.put_bytes(key, Bytes::from("x")).await.unwrap_err();
        assert!(matches!(err, BlobError::InvalidKey(_)), "{key}: {err}");
        assert!(
            matches!(store.size(key).await, Err(BlobError::InvalidKey(_))),
            "{key}"
        );
    }
}

#[tokio::test]
async fn directory_backend_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::from(DirStore::open(dir.path()).await.unwrap());
    assert!(store.local_path("a/b.bin").is_some());
    assert!(
        store
            .presigned_get("a/b.bin", Duration::from_secs(60))
            .await
            .is_none()
    );
    contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_keeps_the_contract() {
    let server = S3TestServer::start();
    let s3 = S3Store::connect(&server.config("ota/packages")).unwrap();
    s3.check().await.unwrap();
    let store = BlobStore::from(s3);
    assert!(store.local_path("a/b.bin").is_none());
    contract(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_presigned_urls_serve_ranges_and_expire() {
    let server = S3TestServer::start();
    let store = BlobStore::from(S3Store::connect(&server.config("")).unwrap());
    let data = noise(100_000, 11);
    store
        .put_bytes("pkg/fw.bin", Bytes::from(data.clone()))
        .await
        .unwrap();
    let http = reqwest::Client::new();

    let url = store
        .presigned_get("pkg/fw.bin", Duration::from_secs(300))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !url.contains(&server.secret_access_key),
        "secret in the URL"
    );
    let whole = http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().await.unwrap(), data);
    // A resumed download: the rest from an offset.
    let rest = http
        .get(&url)
        .header("Range", "bytes=99000-")
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 206);
    assert_eq!(rest.bytes().await.unwrap(), data[99_000..]);

    // An altered signature or key is refused.
    let at = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &url[at..=at] == "0" { "1" } else { "0" };
    let tampered = format!("{}{flipped}{}", &url[..at], &url[at + 1..]);
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);
    let other_key = url.replacen("pkg/fw.bin", "pkg/fx.bin", 1);
    assert_eq!(http.get(&other_key).send().await.unwrap().status(), 403);

    // Without a signature the bucket is closed.
    let bare = url.split('?').next().unwrap();
    assert_eq!(http.get(bare).send().await.unwrap().status(), 403);

    // An expired URL is refused.
    let short = store
        .presigned_get("pkg/fw.bin", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(http.get(&short).send().await.unwrap().status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_wrong_credentials_fail_the_start_up_check() {
    let server = S3TestServer::start();
    let mut config = server.config("");
    config.secret_access_key = Some("wrong".to_owned());
    let err = S3Store::connect(&config)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Backend(_)), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "secret in the error: {err}"
    );
}
