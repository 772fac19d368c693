//! Getting a package's files onto the device: what to fetch ([`FileSpec`], derived from a
//! push), where bytes go (any `Read + Write + Seek`, or a [`DownloadTarget`]), and how far it
//! got ([`Progress`]).
//!
//! Every byte is hashed as it is written, so verification needs no second pass and a
//! [`DiscardSink`] can download gigabytes in constant memory. Resuming needs the hash of the
//! bytes already held: an explicit `resume_from` re-reads them from the destination, while
//! retries inside one call keep the running hash.

mod http;
mod mqtt;

use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ota_protocol::{SignMethod, UpgradeData};

use crate::{Device, Hasher, SdkError};

/// Where a file comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Plain HTTP GET with `Range` resume.
    Http {
        /// The URL from the push.
        url: String,
    },
    /// MQTT block download (`dProtocol: "mqtt"`).
    Mqtt {
        /// `streamId` from the push.
        stream_id: u64,
        /// `streamFileId` from the push (1 when absent).
        file_id: u64,
    },
}

/// One file to download and verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// File name (`fileName` of a multi-file package; `firmware` for a single file).
    pub name: String,
    /// Announced size, checked at the end when known.
    pub size: Option<u64>,
    /// How to fetch it.
    pub source: FileSource,
    /// Algorithm of `digest`.
    pub sign_method: SignMethod,
    /// Expected digest (hex, any case); `None` skips verification.
    pub digest: Option<String>,
}

impl FileSpec {
    /// The files of a pushed package: `files[]` when present, else the single file by URL or
    /// MQTT stream. The digest is `sign` in `signMethod`, falling back to `md5`; a package
    /// without any digest is refused, as Python linkkit does.
    pub fn from_data(data: &UpgradeData) -> Result<Vec<FileSpec>, SdkError> {
        let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        if let Some(files) = data.files.as_ref().filter(|f| !f.is_empty()) {
            return files
                .iter()
                .map(|f| {
                    let (sign_method, digest) = if !f.file_sign.is_empty() {
                        (data.sign_method, f.file_sign.clone())
                    } else {
                        let md5 = nonempty(&f.file_md5).ok_or_else(|| {
                            SdkError::BadPush(format!("file {} has no digest", f.file_name))
                        })?;
                        (SignMethod::Md5, md5)
                    };
                    Ok(FileSpec {
                        name: f.file_name.clone(),
                        size: Some(f.file_size),
                        source: FileSource::Http {
                            url: f.file_url.clone(),
                        },
                        sign_method,
                        digest: Some(digest),
                    })
                })
                .collect();
        }
        let source = if data.is_mqtt_download() {
            FileSource::Mqtt {
                stream_id: data
                    .stream_id
                    .ok_or_else(|| SdkError::BadPush("mqtt download without streamId".into()))?,
                file_id: data.stream_file_id.unwrap_or(1),
            }
        } else {
            FileSource::Http {
                url: nonempty(&data.url)
                    .ok_or_else(|| SdkError::BadPush("no url and no files".into()))?,
            }
        };
        let (sign_method, digest) = match (nonempty(&data.sign), nonempty(&data.md5)) {
            (Some(sign), _) => (data.sign_method, sign),
            (None, Some(md5)) => (SignMethod::Md5, md5),
            (None, None) => return Err(SdkError::BadPush("no sign and no md5".into())),
        };
        Ok(vec![FileSpec {
            name: "firmware".into(),
            size: data.size,
            source,
            sign_method,
            digest: Some(digest),
        }])
    }
}

/// Where [`Device::run_update`] puts a file; chosen by the
/// [`UpdateHandler`](crate::UpdateHandler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadTarget {
    /// A file on disk (created or truncated).
    Path(PathBuf),
    /// Kept in memory (small packages, tests).
    Memory,
    /// Hashed and dropped (the simulator).
    Discard,
}

/// Where a downloaded file ended up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredFile {
    /// On disk.
    Path(PathBuf),
    /// In memory.
    Memory(Vec<u8>),
    /// Nowhere: only its digest was kept.
    Discarded,
    /// In the writer the caller passed to [`Device::download`].
    Writer,
}

/// A downloaded and verified file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// [`FileSpec::name`].
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// Computed digest in the spec's algorithm, lower-case hex.
    pub digest: String,
    /// Where it is.
    pub stored: StoredFile,
}

/// A progress hook's request to stop, reported as `step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abort {
    /// Failure step to report (-1..=-4).
    pub step: i32,
    /// Why.
    pub desc: String,
}

/// Told after every chunk how many bytes of the current file are held.
pub trait Progress: Send {
    /// `done` of `total` bytes (total unknown until the first block reply of an MQTT
    /// download without `size`). An error aborts the download.
    fn on_bytes(
        &mut self,
        done: u64,
        total: Option<u64>,
    ) -> impl Future<Output = Result<(), Abort>> + Send;
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    async fn on_bytes(&mut self, _: u64, _: Option<u64>) -> Result<(), Abort> {
        Ok(())
    }
}

/// Download tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadOptions {
    /// HTTP: reconnects (each resuming with `Range`) after a failure that made no progress,
    /// pausing 0.5 s doubling to 15 s in between (8: about a minute of patience).
    pub http_retries: u32,
    /// MQTT: bytes asked per block (the Link SDK uses 5 KiB).
    pub block_size: u64,
    /// MQTT: resends of one block before giving up (the Link SDK uses 3).
    pub block_retries: u32,
    /// MQTT: wait for one block reply (the Link SDK uses 10 s).
    pub block_timeout: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            http_retries: 8,
            block_size: 5 * 1024,
            block_retries: 3,
            block_timeout: Duration::from_secs(10),
        }
    }
}

/// A `Read + Write + Seek` sink that keeps nothing: position only. Reading fails, so it
/// cannot be resumed with `resume_from`; retries within one download still work.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink {
    pos: u64,
}

impl Write for DiscardSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for DiscardSink {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match pos {
            SeekFrom::Start(p) => self.pos = p,
            _ => return Err(io::Error::other("DiscardSink seeks from the start only")),
        }
        Ok(self.pos)
    }
}

impl Read for DiscardSink {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("DiscardSink keeps no bytes"))
    }
}

/// The running state of one file: bytes held and their hash.
pub(crate) struct Partial {
    pub offset: u64,
    pub hasher: Hasher,
}

impl Partial {
    pub fn write<W: Write>(&mut self, dest: &mut W, bytes: &[u8]) -> io::Result<()> {
        dest.write_all(bytes)?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Back to byte 0 (the server ignored `Range`).
    pub fn restart<W: Seek>(&mut self, dest: &mut W) -> io::Result<()> {
        dest.seek(SeekFrom::Start(0))?;
        self.hasher.reset();
        self.offset = 0;
        Ok(())
    }
}

impl<H> Device<H> {
    /// Downloads and verifies `file` into `dest` with default options, resuming after the
    /// first `resume_from` bytes already in `dest` (they are re-read to hash them).
    pub async fn download<W: Read + Write + Seek + Send>(
        &self,
        file: &FileSpec,
        dest: &mut W,
        resume_from: u64,
    ) -> Result<DownloadedFile, SdkError> {
        self.download_with(
            file,
            dest,
            resume_from,
            DownloadOptions::default(),
            &mut NoProgress,
        )
        .await
    }

    /// [`Device::download`] with options and a progress hook.
    pub async fn download_with<W: Read + Write + Seek + Send, P: Progress>(
        &self,
        file: &FileSpec,
        dest: &mut W,
        resume_from: u64,
        opts: DownloadOptions,
        progress: &mut P,
    ) -> Result<DownloadedFile, SdkError> {
        let mut st = Partial {
            offset: 0,
            hasher: Hasher::new(file.sign_method),
        };
        dest.seek(SeekFrom::Start(0))?;
        if resume_from > 0 {
            let mut prefix = (&mut *dest).take(resume_from);
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = prefix.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                st.hasher.update(&buf[..n]);
                st.offset += n as u64;
            }
            if st.offset != resume_from {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "resume_from {resume_from} but only {} bytes held",
                        st.offset
                    ),
                )
                .into());
            }
            dest.seek(SeekFrom::Start(resume_from))?;
        }
        match &file.source {
            FileSource::Http { url } => {
                let http = &self.inner.http;
                http::fetch(http, url, file.size, dest, &mut st, opts, progress).await?;
            }
            FileSource::Mqtt { stream_id, file_id } => {
                let ids = (*stream_id, *file_id);
                self.fetch_blocks(ids, file.size, dest, &mut st, opts, progress)
                    .await?;
            }
        }
        dest.flush()?;
        if let Some(expected) = file.size
            && expected != st.offset
        {
            return Err(SdkError::SizeMismatch {
                expected,
                actual: st.offset,
            });
        }
        let actual = st.hasher.hex();
        if let Some(expected) = &file.digest
            && !expected.eq_ignore_ascii_case(&actual)
        {
            return Err(SdkError::DigestMismatch {
                expected: expected.to_ascii_lowercase(),
                actual,
            });
        }
        Ok(DownloadedFile {
            name: file.name.clone(),
            size: st.offset,
            digest: actual,
            stored: StoredFile::Writer,
        })
    }

    /// Downloads `file` to `path`. With `resume`, bytes already in the file (up to the
    /// announced size) are kept and only the rest is fetched; otherwise the file is truncated.
    pub async fn download_to_path<P: Progress>(
        &self,
        file: &FileSpec,
        path: &Path,
        resume: bool,
        opts: DownloadOptions,
        progress: &mut P,
    ) -> Result<DownloadedFile, SdkError> {
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(!resume)
            .open(path)?;
        let mut held = f.metadata()?.len();
        if let Some(size) = file.size
            && held > size
        {
            f.set_len(0)?;
            held = 0;
        }
        let mut done = self
            .download_with(file, &mut f, held, opts, progress)
            .await?;
        f.set_len(done.size)?;
        done.stored = StoredFile::Path(path.to_owned());
        Ok(done)
    }
}
