//! `AppStaging`: serve staged datasets from a Node route (Next.js, Express). Every rule lives in
//! core; this converts. The grant's open file crosses as a descriptor, so the route streams the
//! very file core opened beneath the root (never a path that could be swapped meanwhile);
//! `index.js` adds `stream()`, `webStream()` and `close()` around it.

use crate::errors::{Result, invalid, map};
use crate::numbers::whole_opt;
use crate::tokens::{Claims, Tokens};
use napi::bindgen_prelude::{Either, Null};
use napi_derive::napi;
use std::collections::HashMap;
use std::os::fd::IntoRawFd;
use trainpod::staging::{self, DownloadRequest};

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

/// An authorized download: answer `status` with `headers` and stream `length` bytes of `fd`
/// from `offset` (`index.js` adds `stream()`, `webStream()` and `close()`).
#[napi(object)]
pub struct DatasetGrant {
    /// 200, 206 or 416.
    pub status: u32,
    /// Response headers (lowercase names).
    pub headers: HashMap<String, String>,
    /// First byte of the body within the file.
    pub offset: f64,
    /// Bytes of body.
    pub length: f64,
    /// The file's size.
    pub size: f64,
    /// The file's sha256, lowercase hex.
    pub sha256: String,
    /// The strong ETag.
    pub etag: String,
    /// The dataset id.
    pub dataset: String,
    /// The verified token's claims.
    pub claims: Claims,
    /// The open file's descriptor, owned by the caller; `null` when there is no body (416).
    /// Use `stream()`, `webStream()` or `close()` (from `index.js`) rather than the number.
    pub fd: Option<i32>,
}

impl std::fmt::Debug for SignedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDownload")
            .field("url", &self.url)
            .finish_non_exhaustive()
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

/// Datasets under one root directory, addressed by id, served through signed URLs.
#[napi]
#[derive(Debug)]
pub struct AppStaging {
    inner: staging::AppStaging,
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
        Ok(AppStaging { inner })
    }

    /// The root directory.
    #[napi(getter, catch_unwind)]
    pub fn root(&self) -> String {
        self.inner.root().to_string_lossy().into_owned()
    }

    /// The sha256 (hex) of a staged dataset, computed once and cached: call it when a dataset
    /// is stored so the first download does not wait for the hash.
    #[napi(catch_unwind)]
    pub fn digest(&self, dataset: String) -> Result<String> {
        map(self.inner.digest(&dataset))
    }

    /// Issue a `dataset.read` token and the URL it unlocks.
    #[napi(catch_unwind)]
    pub fn signed_download_url(&self, options: SignedDownloadOptions) -> Result<SignedDownload> {
        let ttl = whole_opt("ttlSecs", options.ttl_secs, u64::MAX)?;
        let o = &options;
        let dl =
            map(self
                .inner
                .signed_download_url(&o.base_url, &o.job, &o.user, &o.dataset, ttl))?;
        Ok(SignedDownload {
            url: dl.url,
            url_with_token: dl.url_with_token,
            token: dl.token.expose().to_owned(),
            // Times and sizes stay below 2^53: doubles hold them exactly.
            expires_at: dl.expires_at as f64,
            size: dl.size as f64,
            sha256: dl.sha256,
        })
    }

    /// Turn a download request into a grant, or throw the typed error (`httpStatus(err.code)`
    /// is the status to answer).
    #[napi(catch_unwind)]
    pub fn authorize_dataset_download(
        &self,
        request: DownloadRequestOptions,
    ) -> Result<DatasetGrant> {
        let r = &request;
        let grant = map(self.inner.authorize(&DownloadRequest {
            authorization: present(&r.authorization),
            query_token: present(&r.query_token),
            dataset_id: &r.dataset_id,
            range: present(&r.range),
            if_range: present(&r.if_range),
            job: present(&r.job),
        }))?;
        grant_to_js(grant)
    }
}

/// A core grant for JavaScript: its open file crosses as a descriptor the caller owns.
pub(crate) fn grant_to_js(grant: staging::Grant) -> Result<DatasetGrant> {
    if grant.size as f64 > 9_007_199_254_740_991.0 {
        return Err(invalid("the dataset is larger than 2^53 bytes"));
    }
    let mut out = DatasetGrant {
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
        fd: None,
    };
    // With no body to send the file is closed here, so a route cannot leak it.
    if grant.length > 0 {
        out.fd = Some(grant.into_file().into_raw_fd());
    }
    Ok(out)
}
