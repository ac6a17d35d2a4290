//! Staging through an S3-compatible bucket (AWS S3, Cloudflare R2, Supabase Storage, MinIO):
//! the app uploads the dataset, the pod downloads it with a presigned GET and uploads its
//! artifacts with presigned PUTs. The pod never holds the bucket's credentials.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncRead;

use super::objects::{self, Downloaded, ObjectInfo};
use super::s3_client::S3Client;
use super::s3_config::{S3Config, check_key};
use super::sigv4::PresignRequest;
use super::staged::{Backend, Staged, redact_url};
use super::upload::{self, Uploaded};
use crate::clock::Clock;
use crate::script::DatasetSource;
use crate::{Error, Result};

/// A presigned URL: whoever holds it may make one kind of request on one object until
/// `expires_at`. `Debug` hides its signature.
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The URL, signature included.
    pub url: String,
    /// `GET` or `PUT`.
    pub method: &'static str,
    /// When it stops working, Unix seconds.
    pub expires_at: u64,
}

impl fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("url", &redact_url(&self.url))
            .field("method", &self.method)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One bucket, for staging datasets and collecting artifacts.
///
/// ```no_run
/// # async fn demo() -> trainpod::Result<()> {
/// use std::time::Duration;
/// use trainpod::staging::{BucketStaging, S3Config, sigv4::Credentials};
///
/// let config = S3Config::builder()
///     .endpoint("https://<account>.r2.cloudflarestorage.com")
///     .region("auto")
///     .bucket("datasets")
///     .credentials(Credentials::new("<access key id>", "<secret access key>")?)
///     .build()?;
/// let bucket = BucketStaging::new(config)?;
/// // Upload (multipart above 16 MiB) and presign a GET the pod can use for 6 hours.
/// let staged = bucket
///     .stage_dataset("train.jsonl", "jobs/job-1/train.jsonl", Duration::from_secs(6 * 3600))
///     .await?;
/// // staged.source goes into the pod's config; the pod checks bytes and sha256.
/// let upload = bucket.presign_put("jobs/job-1/model.tar.gz", Duration::from_secs(6 * 3600))?;
/// # let _ = (staged, upload);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct BucketStaging {
    client: S3Client,
}

impl BucketStaging {
    /// A bucket client with its own HTTP client and the system clock.
    pub fn new(config: S3Config) -> Result<Self> {
        Ok(BucketStaging {
            client: S3Client::new(config)?,
        })
    }

    /// Shares an HTTP client (one per process is fastest: it keeps connections).
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.client.http = http;
        self
    }

    /// Signs with this clock (tests, or a clock corrected for skew).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.client.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &S3Config {
        &self.client.config
    }

    /// Uploads a local file to `key`: one PUT up to the multipart threshold, parts above it,
    /// one part in memory at a time. A failed multipart upload is aborted. If the future is
    /// dropped mid-way the incomplete upload stays until a bucket lifecycle rule
    /// (`AbortIncompleteMultipartUpload`) removes it.
    pub async fn upload_file(&self, path: impl AsRef<Path>, key: &str) -> Result<Uploaded> {
        check_key(key)?;
        let (file, len) = open(path.as_ref()).await?;
        upload::upload(&self.client, file, len, key).await
    }

    /// Uploads exactly `len` bytes from `reader` to `key`, as [`BucketStaging::upload_file`].
    pub async fn upload_reader<R: AsyncRead + Unpin>(
        &self,
        reader: R,
        len: u64,
        key: &str,
    ) -> Result<Uploaded> {
        check_key(key)?;
        upload::upload(&self.client, reader, len, key).await
    }

    /// The object's size and tag, or `None` when `key` does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>> {
        check_key(key)?;
        objects::head(&self.client, key).await
    }

    /// Every object whose key starts with `prefix`, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        objects::list(&self.client, prefix).await
    }

    /// Downloads every object under `prefix` into `dest_dir` (the pod's artifacts, after
    /// the job). Keys that would land outside `dest_dir` fail the call before any write.
    pub async fn download_artifacts(
        &self,
        prefix: &str,
        dest_dir: impl AsRef<Path>,
    ) -> Result<Vec<Downloaded>> {
        objects::download_prefix(&self.client, prefix, dest_dir.as_ref()).await
    }

    /// A URL that downloads `key` without credentials for `ttl` (1 s to 7 days).
    pub fn presign_get(&self, key: &str, ttl: Duration) -> Result<PresignedUrl> {
        self.presign("GET", key, ttl)
    }

    /// A URL that uploads `key` (one PUT of up to 5 GiB) without credentials for `ttl`.
    pub fn presign_put(&self, key: &str, ttl: Duration) -> Result<PresignedUrl> {
        self.presign("PUT", key, ttl)
    }

    fn presign(&self, method: &'static str, key: &str, ttl: Duration) -> Result<PresignedUrl> {
        check_key(key)?;
        let loc = self.client.config.locate(key);
        let now = self.client.clock.now_unix_secs();
        let secs = ttl.as_secs();
        let signed = self.client.signer.presign(
            &PresignRequest {
                method,
                host: &loc.host,
                path: &loc.path,
                query: &[],
            },
            now,
            secs,
        )?;
        Ok(PresignedUrl {
            url: format!("{}{}?{}", loc.origin, signed.path, signed.query),
            method,
            expires_at: now + secs,
        })
    }

    /// Uploads the dataset at `path` to `key` and presigns a GET for `ttl`: the pod downloads
    /// it and checks its size and sha256 (computed during the upload, from the bytes sent).
    pub async fn stage_dataset(
        &self,
        path: impl AsRef<Path>,
        key: &str,
        ttl: Duration,
    ) -> Result<Staged> {
        // Checked before uploading, so a bad ttl costs no transfer.
        super::sigv4::check_expires(ttl.as_secs())?;
        let uploaded = self.upload_file(path, key).await?;
        let url = self.presign_get(key, ttl)?;
        Ok(Staged {
            source: DatasetSource::Url {
                url: url.url,
                token: None,
                bytes: uploaded.bytes,
                sha256: uploaded.sha256,
            },
            backend: Backend::Bucket,
            key: Some(uploaded.key),
            expires_at: Some(url.expires_at),
        })
    }
}

/// Opens a local file for upload, with its size.
pub(crate) async fn open(path: &Path) -> Result<(tokio::fs::File, u64)> {
    let fail = |e: std::io::Error| {
        Error::invalid_input(format!("could not read {}: {e}", path.display())).with_source(e)
    };
    let file = tokio::fs::File::open(path).await.map_err(fail)?;
    let meta = file.metadata().await.map_err(fail)?;
    if !meta.is_file() {
        return Err(Error::invalid_input(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok((file, meta.len()))
}
