//! MQTT block download (`thing/file/download`, spec §2.5), as the Link SDK 4.x does it:
//! ask for one block at a time, wait up to the timeout for the binary reply, check its CRC,
//! and resend a block up to three times before failing.
//!
//! Replies are matched by the echoed request id when present and by offset always, so a late
//! answer to an earlier (timed-out) request is skipped instead of written at the wrong place.

use std::io::{Seek, Write};

use bytes::Bytes;
use ota_protocol::{BlockReply, DeviceMessage, FileBlockRequest, TopicKind};
use rumqttc::QoS;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{DownloadOptions, Partial, Progress};
use crate::event_loop::Shared;
use crate::{Device, SdkError};

/// The `fileToken` the Link SDK sends.
const FILE_TOKEN: &str = "default";

/// Clears the block-reply slot however the download ends.
struct Listening<'a>(&'a Shared);

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        *self.0.blocks.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

enum Outcome {
    /// The block was written.
    Written,
    /// Resend (timeout, CRC, error code).
    Retry(String),
}

impl<H> Device<H> {
    /// Fetches stream `(stream_id, file_id)` into `dest` from `st.offset` on.
    pub(super) async fn fetch_blocks<W: Write + Seek + Send, P: Progress>(
        &self,
        (stream_id, file_id): (u64, u64),
        size: Option<u64>,
        dest: &mut W,
        st: &mut Partial,
        opts: DownloadOptions,
        progress: &mut P,
    ) -> Result<(), SdkError> {
        let _one_download = self.inner.block_lock.lock().await;
        let (tx, mut rx) = mpsc::channel(4);
        *self
            .inner
            .shared
            .blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(tx);
        let _listening = Listening(&self.inner.shared);

        let mut total = size;
        let block_size = opts.block_size.max(1);
        while total.is_none_or(|t| st.offset < t) {
            let want = total.map_or(block_size, |t| block_size.min(t - st.offset));
            let mut last = String::new();
            let mut written = false;
            for _ in 0..=opts.block_retries {
                let id = self.next_id();
                let req = DeviceMessage::FileDownload(FileBlockRequest {
                    id: Some(id.clone()),
                    stream_id,
                    file_id,
                    offset: st.offset,
                    size: want,
                    file_token: Some(FILE_TOKEN.into()),
                });
                self.publish(TopicKind::FileDownload, &req, QoS::AtMostOnce)
                    .await?;
                match self
                    .await_block(&mut rx, &id, &mut total, dest, st, opts)
                    .await?
                {
                    Outcome::Written => {
                        written = true;
                        break;
                    }
                    Outcome::Retry(reason) => last = reason,
                }
            }
            if !written {
                return Err(SdkError::Block {
                    offset: st.offset,
                    reason: last,
                });
            }
            progress
                .on_bytes(st.offset, total)
                .await
                .map_err(|a| SdkError::Aborted {
                    step: a.step,
                    desc: a.desc,
                })?;
        }
        Ok(())
    }

    async fn await_block<W: Write + Seek + Send>(
        &self,
        rx: &mut mpsc::Receiver<Bytes>,
        id: &str,
        total: &mut Option<u64>,
        dest: &mut W,
        st: &mut Partial,
        opts: DownloadOptions,
    ) -> Result<Outcome, SdkError> {
        let deadline = Instant::now() + opts.block_timeout;
        loop {
            let payload = match tokio::time::timeout_at(deadline, rx.recv()).await {
                Err(_) => return Ok(Outcome::Retry("no reply within timeout".into())),
                Ok(None) => return Err(SdkError::Closed),
                Ok(Some(p)) => p,
            };
            let reply = match BlockReply::decode(&payload) {
                Ok(r) => r,
                Err(e) => return Ok(Outcome::Retry(e.to_string())),
            };
            if reply.header.id.as_deref().is_some_and(|r| r != id) {
                continue;
            }
            if reply.header.code != 200 {
                let h = &reply.header;
                return Ok(Outcome::Retry(format!("code {}: {}", h.code, h.msg)));
            }
            let Some(data) = reply.header.data.as_ref() else {
                return Ok(Outcome::Retry("reply without data".into()));
            };
            if data.b_offset != st.offset {
                continue;
            }
            match *total {
                Some(t) if t != data.file_length => {
                    return Err(SdkError::SizeMismatch {
                        expected: t,
                        actual: data.file_length,
                    });
                }
                _ => *total = Some(data.file_length),
            }
            if reply.block.is_empty() && st.offset < data.file_length {
                return Ok(Outcome::Retry("empty block before end of file".into()));
            }
            if st.offset + reply.block.len() as u64 > data.file_length {
                return Ok(Outcome::Retry("block runs past the end of the file".into()));
            }
            st.write(dest, reply.block)?;
            return Ok(Outcome::Written);
        }
    }
}
