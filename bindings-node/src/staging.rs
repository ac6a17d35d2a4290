//! `AppStaging` and the dataset grant: serve staged datasets from a Node route (Next.js,
//! Express). Every rule lives in core; this converts. The grant keeps the file core opened
//! beneath the root inside Rust: `read()` hands its body over chunk by chunk, read on core's
//! blocking threads, and the file is closed at the end, on `close()`, or when the grant is
//! collected (a route that threw). `index.js` adds `stream()` and `webStream()` around `read()`.

use crate::errors::{Result, invalid, map, to_js};
use crate::promise::{rejected, spawn};
use crate::tokens::{Claims, Tokens};
use napi::Env;
use napi::bindgen_prelude::{Buffer, Either, Null, PromiseRaw};
use napi_derive::napi;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Mutex;
use trainpod::number;
use trainpod::staging::{self, DownloadRequest, GrantBody};

/// Options of `AppStaging`.
#[napi(object)]
#[derive(Debug, Default)]
pub struct AppStagingOptions {
    /// Accept `?token=` when no `Authorization` header is sent (default true).
    pub allow_query_token: Option<bool>,
    /// Serve files with more than one hard link (default false).
    pub allow_hardlinks: Option<bool>,
}

/// What `signedDownloadUrl` needs.
#[napi(object)]
#[derive(Debug)]
pub struct SignedDownloadOptions {
    /// The app's base URL; the dataset URL is `<baseUrl>/datasets/<dataset>`.
    pub base_url: String,
    /// The job.
    pub job: String,
    /// The user the job belongs to.
    pub user: String,
    /// The dataset id.
    pub dataset: String,
    /// Lifetime in seconds (default 900, at most 86400).
    pub ttl_secs: Option<f64>,
}

/// A download URL for one dataset and job.
#[napi(object)]
pub struct SignedDownload {
    /// The URL; send the token as `Authorization: Bearer <token>`.
    pub url: String,
    /// The URL with `?token=`, only for tools that cannot set headers.
    pub url_with_token: String,
    /// The `dataset.read` token.
    pub token: String,
    /// When the token expires, Unix seconds.
    pub expires_at: f64,
    /// The file's size in bytes.
    pub size: f64,
    /// The file's sha256, lowercase hex.
    pub sha256: String,
}

/// A header or parameter as a route reads it: `Headers.get` and `URLSearchParams.get` give
/// `null` for a missing one, Node's `req.headers` gives `undefined`; both mean absent. (The
/// fields spell the type out: napi recognises optional fields by their written `Option`.)
pub(crate) fn present(value: &Option<Either<String, Null>>) -> Option<&str> {
    match value {
        Some(Either::A(s)) => Some(s),
        _ => None,
    }
}

/// The request fields of a dataset download.
#[napi(object)]
#[derive(Debug)]
pub struct DownloadRequestOptions {
    /// The `Authorization` header.
    pub authorization: Option<Either<String, Null>>,
    /// The `token` query parameter.
    pub query_token: Option<Either<String, Null>>,
    /// The dataset id from the route.
    pub dataset_id: String,
    /// The `Range` header.
    pub range: Option<Either<String, Null>>,
    /// The `If-Range` header.
    pub if_range: Option<Either<String, Null>>,
    /// The job the route names, if it names one.
    pub job: Option<Either<String, Null>>,
}

/// An authorized download: answer `status` with `headers`, then send the body that `read()`
/// gives (`index.js`: `stream()`, `webStream()`), or `close()` it unsent (HEAD, errors).
#[napi]
pub struct DatasetGrant {
    /// 200, 206 or 416.
    #[napi(readonly)]
    pub status: u32,
    headers: HashMap<String, String>,
    /// First byte of the body within the file.
    #[napi(readonly)]
    pub offset: f64,
    /// Bytes of body.
    #[napi(readonly)]
    pub length: f64,
    /// The file's size.
    #[napi(readonly)]
    pub size: f64,
    /// The file's sha256, lowercase hex.
    #[napi(readonly)]
    pub sha256: String,
    /// The strong ETag.
    #[napi(readonly)]
    pub etag: String,
    /// The dataset id.
    #[napi(readonly)]
    pub dataset: String,
    claims: Claims,
    body: Arc<Mutex<GrantBody>>,
}

impl DatasetGrant {
    /// A core grant for JavaScript: its file stays in Rust, behind `read()`.
    pub(crate) fn new(grant: staging::Grant) -> Result<DatasetGrant> {
        // Sizes and offsets cross as doubles, exact up to 2^53 - 1.
        if grant.size > number::MAX_SAFE_INTEGER {
            return Err(invalid("the dataset is larger than 2^53 - 1 bytes"));
        }
        Ok(DatasetGrant {
            status: u32::from(grant.status),
            headers: grant
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            offset: grant.offset as f64,
            length: grant.length as f64,
            size: grant.size as f64,
            sha256: grant.sha256.clone(),
            etag: grant.etag.clone(),
            dataset: grant.dataset.clone(),
            claims: grant.claims.clone().into(),
            body: Arc::new(Mutex::new(grant.into_body())),
        })
    }
}

#[napi]
impl DatasetGrant {
    /// Response headers (lowercase names).
    #[napi(getter, catch_unwind)]
    pub fn headers(&self) -> HashMap<String, String> {
        self.headers.clone()
    }

    /// The verified token's claims.
    #[napi(getter, catch_unwind)]
    pub fn claims(&self) -> Claims {
        self.claims.clone()
    }

    /// The body's next chunk (at most 256 KiB), read off the JavaScript thread; `null` once it
    /// is all sent or closed. Reads are taken in order, one at a time.
    #[napi(ts_return_type = "Promise<Buffer | null>", catch_unwind)]
    pub fn read<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<Buffer>>> {
        let body = self.body.clone();
        spawn(
            env,
            async move { body.lock().await.next_chunk().await },
            |_, chunk| Ok(chunk.map(Buffer::from)),
        )
    }

    /// Close the file without sending the rest; later reads give `null`.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        // A read in flight holds the lock: it closes the file itself when it ends, and the
        // grant's collection drops it at the latest.
        if let Ok(mut body) = self.body.try_lock() {
            body.close();
        }
    }
}

impl std::fmt::Debug for DatasetGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasetGrant")
            .field("status", &self.status)
            .field("dataset", &self.dataset)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SignedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDownload")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Datasets under one root directory, addressed by id, served through signed URLs.
#[napi]
#[derive(Debug)]
pub struct AppStaging {
    inner: Arc<staging::AppStaging>,
}

#[napi]
impl AppStaging {
    /// Serve the datasets under `root`, verifying tokens with `tokens`.
    #[napi(constructor, catch_unwind)]
    pub fn new(root: String, tokens: &Tokens, options: Option<AppStagingOptions>) -> Result<Self> {
        let options = options.unwrap_or_default();
        let inner = map(staging::AppStaging::new(root, tokens.inner().clone()))?
            .allow_query_token(options.allow_query_token.unwrap_or(true))
            .allow_hardlinks(options.allow_hardlinks.unwrap_or(false));
        Ok(AppStaging {
            inner: Arc::new(inner),
        })
    }

    /// The root directory.
    #[napi(getter, catch_unwind)]
    pub fn root(&self) -> String {
        self.inner.root().to_string_lossy().into_owned()
    }

    /// The sha256 (hex) of a staged dataset, read once off the JavaScript thread and kept: call
    /// it when a dataset is stored so the first download does not wait for the hash.
    #[napi(catch_unwind)]
    pub fn digest<'env>(
        &self,
        env: &'env Env,
        dataset: String,
    ) -> Result<PromiseRaw<'env, String>> {
        let inner = self.inner.clone();
        spawn(env, async move { inner.digest(&dataset).await }, |_, d| {
            Ok(d)
        })
    }

    /// Issue a `dataset.read` token and the URL it unlocks (the dataset is hashed off the
    /// JavaScript thread the first time).
    #[napi(catch_unwind)]
    pub fn signed_download_url<'env>(
        &self,
        env: &'env Env,
        options: SignedDownloadOptions,
    ) -> Result<PromiseRaw<'env, SignedDownload>> {
        let ttl = match number::whole_opt("ttlSecs", options.ttl_secs, u64::MAX) {
            Ok(ttl) => ttl,
            Err(e) => return rejected(env, to_js(e)),
        };
        let inner = self.inner.clone();
        let o = options;
        spawn(
            env,
            async move {
                inner
                    .signed_download_url(&o.base_url, &o.job, &o.user, &o.dataset, ttl)
                    .await
            },
            |_, dl| {
                Ok(SignedDownload {
                    url: dl.url,
                    url_with_token: dl.url_with_token,
                    token: dl.token.expose().to_owned(),
                    // Times and sizes stay below 2^53: doubles hold them exactly.
                    expires_at: dl.expires_at as f64,
                    size: dl.size as f64,
                    sha256: dl.sha256,
                })
            },
        )
    }

    /// Turn a download request into a grant, or reject with the typed error
    /// (`httpStatus(err.code)` is the status to answer). The file is opened and hashed off the
    /// JavaScript thread.
    #[napi(catch_unwind)]
    pub fn authorize_dataset_download<'env>(
        &self,
        env: &'env Env,
        request: DownloadRequestOptions,
    ) -> Result<PromiseRaw<'env, DatasetGrant>> {
        let inner = self.inner.clone();
        let owned = |v: &Option<Either<String, Null>>| present(v).map(str::to_owned);
        let r = &request;
        let (authorization, query_token, range, if_range, job) = (
            owned(&r.authorization),
            owned(&r.query_token),
            owned(&r.range),
            owned(&r.if_range),
            owned(&r.job),
        );
        let dataset_id = request.dataset_id;
        spawn(
            env,
            async move {
                inner
                    .authorize(&DownloadRequest {
                        authorization: authorization.as_deref(),
                        query_token: query_token.as_deref(),
                        dataset_id: &dataset_id,
                        range: range.as_deref(),
                        if_range: if_range.as_deref(),
                        job: job.as_deref(),
                    })
                    .await
            },
            |_, grant| DatasetGrant::new(grant),
        )
    }
}
