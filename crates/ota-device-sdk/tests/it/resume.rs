//! HTTP resume: a transfer cut by the server continues with `Range: bytes=N-`, within one
//! call (retries) or across calls (`resume_from`), and starts over when the server ignores
//! the range.

use std::io::Cursor;

use ota_device_sdk::{
    Device, DownloadOptions, FileSource, FileSpec, NoProgress, SdkError, SignMethod, StoredFile,
};

use crate::support::http::FileServer;
use crate::support::{Keep, device_config, digest, package, unique_pk};

const LEN: usize = 120_000;
const CUT: usize = 30_000;

fn spec(url: &str, data: &[u8]) -> FileSpec {
    FileSpec {
        name: "firmware".into(),
        size: Some(data.len() as u64),
        source: FileSource::Http { url: url.into() },
        sign_method: SignMethod::Sha256,
        digest: Some(digest(SignMethod::Sha256, data)),
    }
}

async fn device() -> Device<Keep> {
    Device::connect(device_config(&unique_pk("res"), "d1"), Keep::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn cut_transfer_resumes_with_range() {
    let data = package(LEN);
    let server = FileServer::start(data.clone(), Some(CUT), false).await;
    let device = device().await;
    let mut out = Cursor::new(Vec::new());
    let done = device
        .download(&spec(&server.url, &data), &mut out, 0)
        .await
        .unwrap();
    assert_eq!(done.size, LEN as u64);
    assert_eq!(done.stored, StoredFile::Writer);
    assert_eq!(out.into_inner(), data);
    assert_eq!(server.ranges(), [None, Some(format!("bytes={CUT}-"))]);
}

#[tokio::test]
async fn resume_from_continues_a_previous_call() {
    let data = package(LEN);
    let server = FileServer::start(data.clone(), Some(CUT), false).await;
    let device = device().await;
    let spec = spec(&server.url, &data);
    let no_retry = DownloadOptions {
        http_retries: 0,
        ..DownloadOptions::default()
    };
    let mut out = Cursor::new(Vec::new());
    let err = device
        .download_with(&spec, &mut out, 0, no_retry, &mut NoProgress)
        .await
        .unwrap_err();
    let SdkError::Interrupted { offset, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(offset, CUT as u64);
    device.download(&spec, &mut out, offset).await.unwrap();
    assert_eq!(out.into_inner(), data);
    assert_eq!(server.ranges(), [None, Some(format!("bytes={CUT}-"))]);
}

#[tokio::test]
async fn ignored_range_starts_over() {
    let data = package(LEN);
    let server = FileServer::start(data.clone(), Some(CUT), true).await;
    let device = device().await;
    let mut out = Cursor::new(Vec::new());
    device
        .download(&spec(&server.url, &data), &mut out, 0)
        .await
        .unwrap();
    assert_eq!(out.into_inner(), data);
    assert_eq!(server.ranges(), [None, Some(format!("bytes={CUT}-"))]);
}

#[tokio::test]
async fn partial_file_on_disk_is_resumed() {
    let data = package(LEN);
    let server = FileServer::start(data.clone(), None, false).await;
    let device = device().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fw.bin");
    std::fs::write(&path, &data[..10_000]).unwrap();
    let done = device
        .download_to_path(
            &spec(&server.url, &data),
            &path,
            true,
            DownloadOptions::default(),
            &mut NoProgress,
        )
        .await
        .unwrap();
    assert_eq!(done.stored, StoredFile::Path(path.clone()));
    assert_eq!(std::fs::read(&path).unwrap(), data);
    assert_eq!(server.ranges(), [Some("bytes=10000-".to_owned())]);
}
