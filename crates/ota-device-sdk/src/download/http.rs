//! HTTP download with `Range: bytes=N-` resume.
//!
//! A cut-off transfer is retried from where it stopped; `206` continues, `200` means the
//! server ignored the range and the file starts over (the spec accepts both, §2.3). Retries
//! are counted per failure without progress, so a slow but moving link never gives up.

use std::io::{Seek, Write};
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};

use super::{DownloadOptions, Partial, Progress};
use crate::SdkError;

/// Fetches `url` into `dest` from `st.offset` on.
pub(super) async fn fetch<W: Write + Seek + Send, P: Progress>(
    http: &reqwest::Client,
    url: &str,
    size: Option<u64>,
    dest: &mut W,
    st: &mut Partial,
    opts: DownloadOptions,
    progress: &mut P,
) -> Result<(), SdkError> {
    let mut failures = 0u32;
    loop {
        if size.is_some_and(|s| st.offset >= s) {
            return Ok(());
        }
        let started_at = st.offset;
        let reason = match attempt(http, url, size, dest, st, progress).await {
            Ok(()) => return Ok(()),
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(reason)) => reason,
        };
        if st.offset > started_at {
            failures = 0;
        }
        failures += 1;
        if failures > opts.http_retries {
            return Err(SdkError::Interrupted {
                offset: st.offset,
                reason,
            });
        }
        tracing::debug!(url, offset = st.offset, %reason, "download interrupted; resuming");
        tokio::time::sleep(resume_pause(failures)).await;
    }
}

/// The pause before resuming after the `failures`-th failure in a row: 0.5 s doubling to
/// 15 s, so the default retries ride out about a minute of a download server's outage.
fn resume_pause(failures: u32) -> Duration {
    Duration::from_millis(500)
        .saturating_mul(1 << failures.saturating_sub(1).min(8))
        .min(Duration::from_secs(15))
}

enum Failure {
    /// Worth another request (network trouble, 5xx, short body).
    Retry(String),
    /// Not (4xx, local I/O, abort, size overrun).
    Fatal(SdkError),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Fatal(e.into())
    }
}

async fn attempt<W: Write + Seek + Send, P: Progress>(
    http: &reqwest::Client,
    url: &str,
    size: Option<u64>,
    dest: &mut W,
    st: &mut Partial,
    progress: &mut P,
) -> Result<(), Failure> {
    let mut req = http.get(url);
    if st.offset > 0 {
        req = req.header(RANGE, format!("bytes={}-", st.offset));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    match resp.status() {
        StatusCode::PARTIAL_CONTENT => {
            let start = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(range_start);
            if start.is_some_and(|s| s != st.offset) {
                // A range we did not ask for: ask again from the top rather than guess.
                st.restart(dest)?;
                return Err(Failure::Retry(format!(
                    "unexpected Content-Range {start:?}"
                )));
            }
        }
        StatusCode::OK => {
            if st.offset > 0 {
                tracing::debug!(url, "server ignored Range; starting over");
                st.restart(dest)?;
            }
        }
        StatusCode::RANGE_NOT_SATISFIABLE if size == Some(st.offset) => return Ok(()),
        s if s.is_server_error() => return Err(Failure::Retry(format!("HTTP {s}"))),
        s => return Err(Failure::Fatal(SdkError::HttpStatus(s.as_u16()))),
    }
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Failure::Retry(e.to_string()))?;
        if let Some(s) = size
            && st.offset + chunk.len() as u64 > s
        {
            return Err(Failure::Fatal(SdkError::SizeMismatch {
                expected: s,
                actual: st.offset + chunk.len() as u64,
            }));
        }
        st.write(dest, &chunk)?;
        progress.on_bytes(st.offset, size).await.map_err(|a| {
            Failure::Fatal(SdkError::Aborted {
                step: a.step,
                desc: a.desc,
            })
        })?;
    }
    match size {
        Some(s) if st.offset < s => Err(Failure::Retry(format!(
            "body ended at {} of {s} bytes",
            st.offset
        ))),
        _ => Ok(()),
    }
}

/// The first byte of `Content-Range: bytes START-END/TOTAL`.
fn range_start(v: &str) -> Option<u64> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::range_start;

    #[test]
    fn content_range_start() {
        assert_eq!(range_start("bytes 100-999/1000"), Some(100));
        assert_eq!(range_start("bytes 0-0/1"), Some(0));
        assert_eq!(range_start("bytes */1000"), None);
        assert_eq!(range_start("items 1-2/3"), None);
    }
}

#[cfg(test)]
mod resume_tests {
    use super::*;

    #[test]
    fn pauses_double_to_fifteen_seconds_and_default_retries_last_about_a_minute() {
        let pauses: Vec<u64> = (1..=9)
            .map(|n| resume_pause(n).as_millis() as u64)
            .collect();
        assert_eq!(
            pauses,
            [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000]
        );
        let retries = crate::DownloadOptions::default().http_retries;
        let total: u64 = (1..=retries)
            .map(|n| resume_pause(n).as_millis() as u64)
            .sum();
        assert!(
            (50_000..=70_000).contains(&total),
            "{total} ms over {retries} retries"
        );
    }
}
