//! The S3 backend: objects in a bucket of any S3-compatible service (AWS S3, MinIO, Ceph,
//! Garage, R2). Several stateless nodes share one bucket, and devices download straight from
//! the service through presigned URLs, so package bytes never pass through the nodes.
//!
//! Uploads go up as multipart uploads while their digests are computed; an upload that breaks
//! the size limit or fails is aborted, so the key never appears. Reads of a range (MQTT block
//! download, delta generation) are ranged GETs.

use crate::digests::Digests;
use crate::{BlobError, BlobInfo, ByteStream};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{ObjectStoreExt, WriteMultipart};
use std::time::Duration;

/// Where the bucket is and how to sign requests to it.
#[derive(Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// Endpoint URL of an S3-compatible service, e.g. `http://127.0.0.1:9000`; unset: AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Credentials; unset: the standard `AWS_*` environment variables.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Prefix under which every key is stored, e.g. `ota/`.
    pub prefix: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Parts of a multipart upload; S3 wants at least 5 MiB for every part but the last.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once per upload: bounds an upload's memory to about 3 parts.
const PARTS_IN_FLIGHT: usize = 2;

/// Objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    s3: AmazonS3,
    prefix: String,
}

impl S3Store {
    /// Configures the client. No request is made; use [`S3Store::check`] to test the bucket.
    pub fn connect(config: &S3Config) -> Result<Self, BlobError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&config.bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let s3 = builder
            .build()
            .map_err(|e| BlobError::Backend(e.to_string()))?;
        let prefix = config.prefix.trim_matches('/');
        Ok(Self {
            s3,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// Lists the bucket once, so a wrong bucket, endpoint or credential fails at start-up.
    pub async fn check(&self) -> Result<(), BlobError> {
        use object_store::ObjectStore;
        let prefix = Path::from(self.prefix.trim_end_matches('/'));
        self.s3
            .list_with_delimiter(Some(&prefix))
            .await
            .map(|_| ())
            .map_err(|e| BlobError::Backend(e.to_string()))
    }

    fn path_of(&self, key: &str) -> Result<Path, BlobError> {
        crate::key::check_key(key)?;
        Ok(Path::from(format!("{}{key}", self.prefix)))
    }

    /// Streams `body` into the object `key` as a multipart upload, hashing as it goes. At
    /// most `limit` bytes are accepted; past that the upload is aborted and
    /// [`BlobError::TooLarge`] returned.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        mut body: S,
        limit: u64,
    ) -> Result<BlobInfo, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.path_of(key)?;
        let upload = self
            .s3
            .put_multipart(&path)
            .await
            .map_err(|e| fail(key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut digests = Digests::default();
        let written: Result<(), BlobError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| BlobError::Interrupted(e.to_string()))?;
                digests.update_within(&chunk, limit)?;
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(|e| fail(key, e))?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        if let Err(err) = written {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(key, %abort, "aborting a failed multipart upload failed");
            }
            return Err(err);
        }
        writer.finish().await.map_err(|e| fail(key, e))?;
        let (size, md5, sha256) = digests.finish();
        Ok(BlobInfo {
            key: key.to_owned(),
            size,
            md5,
            sha256,
        })
    }

    /// Size of the object, or NotFound.
    pub async fn size(&self, key: &str) -> Result<u64, BlobError> {
        let path = self.path_of(key)?;
        let meta = self.s3.head(&path).await.map_err(|e| fail(key, e))?;
        Ok(meta.size)
    }

    /// Reads `len` bytes at `offset` (fewer at the end of the object, none past it).
    pub async fn read_range(&self, key: &str, offset: u64, len: usize) -> Result<Bytes, BlobError> {
        let path = self.path_of(key)?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        match self.s3.get_range(&path, offset..offset + len as u64).await {
            Ok(bytes) => Ok(bytes),
            // A range starting at or past the end is unsatisfiable to S3; to a reader it is
            // the end of the object.
            Err(err) if !matches!(err, object_store::Error::NotFound { .. }) => {
                if offset >= self.size(key).await? {
                    Ok(Bytes::new())
                } else {
                    Err(fail(key, err))
                }
            }
            Err(err) => Err(fail(key, err)),
        }
    }

    /// The whole object as a stream of chunks.
    pub async fn read_stream(&self, key: &str) -> Result<ByteStream, BlobError> {
        let path = self.path_of(key)?;
        let result = self.s3.get(&path).await.map_err(|e| fail(key, e))?;
        let owned_key = key.to_owned();
        Ok(result
            .into_stream()
            .map_err(move |e| fail(&owned_key, e))
            .boxed())
    }

    /// A temporary copy of the object (deleted when the file is closed), rewound.
    pub async fn open_file(&self, key: &str) -> Result<std::fs::File, BlobError> {
        use tokio::io::AsyncWriteExt;
        let mut body = self.read_stream(key).await?;
        let copy = tokio::task::spawn_blocking(tempfile::tempfile)
            .await
            .map_err(std::io::Error::other)??;
        let mut copy = tokio::fs::File::from_std(copy);
        while let Some(chunk) = body.next().await {
            copy.write_all(&chunk?).await?;
        }
        copy.flush().await?;
        let mut copy = copy.into_std().await;
        std::io::Seek::rewind(&mut copy)?;
        Ok(copy)
    }

    /// Removes the object; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path_of(key)?;
        match self.s3.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(fail(key, e)),
        }
    }

    /// A presigned GET URL for the object, valid for `ttl` (S3 allows at most 7 days).
    pub async fn presigned_get(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        let path = self.path_of(key)?;
        let ttl = ttl.clamp(Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600));
        let url = self
            .s3
            .signed_url(http::Method::GET, &path, ttl)
            .await
            .map_err(|e| fail(key, e))?;
        Ok(url.to_string())
    }
}

fn fail(key: &str, err: object_store::Error) -> BlobError {
    match err {
        object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_owned()),
        other => BlobError::Backend(other.to_string()),
    }
}
