//! `AppStaging`: datasets under one root, served by the app to pods through signed URLs.

use super::digest::{DigestCache, read_error};
use super::grant::{Grant, etag_for};
use super::id::check_dataset_id;
use super::range;
use super::safe_path::OpenedFile;
use super::safe_path::RootDir;
use crate::blocking::blocking;
use crate::dataset::{DatasetReport, InspectOptions, validate_file};
use crate::error::{Error, ErrorKind, Result};
use crate::store::Store;
use crate::token::{Claims, Expect, IssueRequest, Purpose, Token, Tokens, bearer};
use std::path::Path;
use std::sync::Arc;
use url::Url;

/// The query parameter that carries a token for tools that cannot set headers.
pub const QUERY_TOKEN_PARAM: &str = "token";

/// Serves the datasets stored under one root directory, each addressed by its id.
///
/// A dataset `id` is the file `<root>/<id>`; ids are one path component (see
/// [`super::is_valid_dataset_id`]) and files are opened beneath the root's directory handle.
/// Every method that touches the disk is async and does its reading on tokio's blocking
/// threads: a route never stalls the thread that called it.
#[derive(Debug)]
pub struct AppStaging {
    root: Arc<RootDir>,
    tokens: Tokens,
    digests: DigestCache,
    allow_query_token: bool,
    allow_hardlinks: bool,
}

/// A download URL for one dataset and job, and what the pod needs to check what it gets.
#[derive(Clone)]
pub struct SignedDownload {
    /// The URL without a token: send the token as `Authorization: Bearer <token>` (preferred).
    pub url: String,
    /// The URL with `?token=…`, only for tools that cannot set headers: it ends up in logs.
    pub url_with_token: String,
    /// The `dataset.read` token.
    pub token: Token,
    /// When the token expires, Unix seconds.
    pub expires_at: u64,
    /// The file's size in bytes, for the pod to check.
    pub size: u64,
    /// The file's sha256 (lowercase hex), for the pod to check.
    pub sha256: String,
}

impl std::fmt::Debug for SignedDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDownload")
            .field("url", &self.url)
            .field("url_with_token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("size", &self.size)
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

/// A dataset download request, as the route received it.
#[derive(Clone, Copy, Debug, Default)]
pub struct DownloadRequest<'a> {
    /// The `Authorization` header value.
    pub authorization: Option<&'a str>,
    /// The `token` query parameter, decoded.
    pub query_token: Option<&'a str>,
    /// The dataset id from the route (decoded once by the framework).
    pub dataset_id: &'a str,
    /// The `Range` header value (several headers joined with `,`).
    pub range: Option<&'a str>,
    /// The `If-Range` header value.
    pub if_range: Option<&'a str>,
    /// The job the route names, where it names one (`/jobs/{job}/datasets/{id}`): the token
    /// must be for that job too.
    pub job: Option<&'a str>,
}

impl AppStaging {
    /// Serve the datasets under `root`, verifying tokens with `tokens`. Query-string tokens are
    /// accepted; files with several hard links are refused.
    pub fn new(root: impl AsRef<Path>, tokens: Tokens) -> Result<AppStaging> {
        Ok(AppStaging {
            root: Arc::new(RootDir::open(root.as_ref())?),
            tokens,
            digests: DigestCache::default(),
            allow_query_token: true,
            allow_hardlinks: false,
        })
    }

    /// Whether a `?token=` is accepted when no `Authorization` header is sent (default yes:
    /// [`SignedDownload::url_with_token`] needs it). Turn it off when every client sets headers.
    pub fn allow_query_token(mut self, allow: bool) -> Self {
        self.allow_query_token = allow;
        self
    }

    /// Whether files with more than one hard link may be served (default no). Allow it only
    /// when nobody who can write the root could link a file they should not read.
    pub fn allow_hardlinks(mut self, allow: bool) -> Self {
        self.allow_hardlinks = allow;
        self
    }

    /// Keep each dataset's sha256 in `store` too (keyed by the file's identity and version), so
    /// that a process started later (a fresh serverless instance) finds it instead of reading
    /// the whole file on its first download. Without a store it is kept in memory only.
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.digests = DigestCache::with_store(store);
        self
    }

    /// The root directory, as configured.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The token service.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The sha256 (hex) of dataset `id`, computed now and kept: call it when a dataset is
    /// stored so the first download does not wait for the hash.
    pub async fn digest(&self, id: &str) -> Result<String> {
        let opened = self.open(id).await?;
        let (_, d) = self.digests.get_or_compute(opened).await?;
        Ok(crate::hex::encode(&d))
    }

    /// Validate dataset `id` (see [`crate::dataset::validate`]), opened as a download opens it
    /// (so a symlink or a special file is refused now, not when a pod asks for it); the sha256
    /// read on the way is kept, so the download URL that follows does not hash the file again.
    pub async fn inspect(&self, id: &str, options: &InspectOptions) -> Result<DatasetReport> {
        let opened = self.open(id).await?;
        let (id, options) = (id.to_owned(), options.clone());
        let (opened, report) = blocking("inspecting the dataset", move || {
            let reader = opened.file.try_clone().map_err(read_error)?;
            let report = validate_file(reader, Path::new(&id), &options)?;
            Ok((opened, report))
        })
        .await?;
        if let Some(digest) = crate::hex::decode_sha256(&report.sha256) {
            self.digests.seed(&opened.file, &opened.stat, digest).await;
        }
        Ok(report)
    }

    /// Dataset `id` opened beneath the root, on the blocking pool.
    async fn open(&self, id: &str) -> Result<OpenedFile> {
        let (root, id, hardlinks) = (self.root.clone(), id.to_owned(), self.allow_hardlinks);
        blocking("opening the dataset", move || {
            root.open_dataset(&id, hardlinks)
        })
        .await
    }

    /// Issue a `dataset.read` token for `dataset` of `user`'s `job` and the URL it unlocks:
    /// `<base_url>/datasets/<dataset>`. The dataset must be staged (its size and sha256 go to the
    /// pod). `ttl_secs` defaults to 15 minutes and may be at most 24 hours. Tokens are not
    /// single-use: an interrupted download resumes with a Range request on the same token.
    pub async fn signed_download_url(
        &self,
        base_url: &str,
        job: &str,
        user: &str,
        dataset: &str,
        ttl_secs: Option<u64>,
    ) -> Result<SignedDownload> {
        let dataset = check_dataset_id(dataset)?;
        let url = dataset_url(base_url, dataset)?;
        let (opened, digest) = self
            .digests
            .get_or_compute(self.open(dataset).await?)
            .await?;
        self.issue_download(url, job, user, dataset, ttl_secs, None, &opened, &digest)
    }

    /// [`Self::signed_download_url`] with the job's attempt in the token (`ep`), which the SDK's
    /// route checks against the job's current attempt: a retried job's old pod is refused. The
    /// pod script is made synchronously, so this is too: its callers warm the digest first
    /// ([`Self::digest`]), else the file is hashed here.
    pub(crate) fn signed_download_url_for(
        &self,
        base_url: &str,
        job: &str,
        user: &str,
        dataset: &str,
        ttl_secs: Option<u64>,
        attempt: Option<u32>,
    ) -> Result<SignedDownload> {
        let dataset = check_dataset_id(dataset)?;
        let url = dataset_url(base_url, dataset)?;
        let opened = self.root.open_dataset(dataset, self.allow_hardlinks)?;
        let digest = self.digests.get_or_hash_here(&opened)?;
        self.issue_download(url, job, user, dataset, ttl_secs, attempt, &opened, &digest)
    }

    /// The `dataset.read` token for the opened dataset and the download that carries it.
    #[allow(clippy::too_many_arguments)]
    fn issue_download(
        &self,
        url: String,
        job: &str,
        user: &str,
        dataset: &str,
        ttl_secs: Option<u64>,
        attempt: Option<u32>,
        opened: &OpenedFile,
        digest: &[u8; 32],
    ) -> Result<SignedDownload> {
        let mut req = IssueRequest::new(Purpose::DatasetRead, user, job).dataset(dataset);
        req.ttl_secs = ttl_secs;
        req.epoch = attempt;
        let issued = self.tokens.issue(&req)?;
        let url_with_token = format!("{url}?{QUERY_TOKEN_PARAM}={}", issued.token.expose());
        Ok(SignedDownload {
            url,
            url_with_token,
            token: issued.token,
            expires_at: issued.claims.exp,
            size: u64::try_from(opened.stat.st_size).unwrap_or(0),
            sha256: crate::hex::encode(digest),
        })
    }

    /// Turn a download request into a [`Grant`], or a typed error whose
    /// [`ErrorKind::http_status`] is the status to answer.
    ///
    /// In order: exactly one token (header, or query where allowed); the token verified for
    /// `dataset.read` on this route's dataset (signature, expiry, scope); the id checked; the
    /// file opened beneath the root; its sha256; the range.
    pub async fn authorize_dataset_download(
        &self,
        authorization: Option<&str>,
        query_token: Option<&str>,
        dataset_id: &str,
        range: Option<&str>,
    ) -> Result<Grant> {
        self.authorize(&DownloadRequest {
            authorization,
            query_token,
            dataset_id,
            range,
            if_range: None,
            job: None,
        })
        .await
    }

    /// [`AppStaging::authorize_dataset_download`] with every request field, `If-Range` included.
    pub async fn authorize(&self, req: &DownloadRequest<'_>) -> Result<Grant> {
        let claims = self.verify_download(req)?;
        self.grant(claims, req.dataset_id, req.range, req.if_range)
            .await
    }

    /// The request's one token, verified as `dataset.read` for its dataset (and job, when the
    /// route names one): the checks that need neither the store nor the disk.
    pub(crate) fn verify_download(&self, req: &DownloadRequest<'_>) -> Result<Claims> {
        let token = self.pick_token(req.authorization, req.query_token)?;
        let mut expect = Expect::purpose(Purpose::DatasetRead).dataset(req.dataset_id);
        expect.job = req.job.map(str::to_owned);
        self.tokens.verify(token, &expect)
    }

    /// The grant for verified `claims`: the file opened beneath the root, its sha256 (read once
    /// on the blocking pool, then kept), the range.
    pub(crate) async fn grant(
        &self,
        claims: Claims,
        dataset_id: &str,
        range: Option<&str>,
        if_range: Option<&str>,
    ) -> Result<Grant> {
        let opened = self.open(dataset_id).await?;
        let (opened, digest) = self.digests.get_or_compute(opened).await?;
        let size = u64::try_from(opened.stat.st_size).unwrap_or(0);
        let etag = etag_for(&crate::hex::encode(&digest));
        let outcome = range::resolve(range, if_range, size, &etag);
        Ok(Grant::new(
            dataset_id.to_owned(),
            claims,
            opened.file,
            size,
            digest,
            outcome,
        ))
    }

    /// The one token of the request. Both a header and a query token is refused rather than
    /// picking one: two credentials in one request is a confused or crafted client.
    fn pick_token<'a>(&self, header: Option<&'a str>, query: Option<&'a str>) -> Result<&'a str> {
        let header = header.filter(|h| !h.trim().is_empty());
        let query = query.filter(|q| !q.is_empty());
        match (header, query) {
            (Some(_), Some(_)) => Err(Error::new(
                ErrorKind::TokenMalformed,
                "the request carries two tokens; send one, in `Authorization: Bearer <token>`",
            )),
            (Some(h), None) => bearer(Some(h)),
            (None, Some(_)) if !self.allow_query_token => Err(Error::new(
                ErrorKind::TokenMissing,
                "tokens in the URL are turned off here; send `Authorization: Bearer <token>`",
            )),
            (None, Some(q)) => Ok(q),
            (None, None) => bearer(None),
        }
    }
}

/// `<base_url>/datasets/<id>`, from an http(s) base URL without userinfo, query or fragment.
fn dataset_url(base_url: &str, id: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::invalid_input(format!(
            "the base URL must be an http(s) URL without user, query or fragment ({why}), \
             such as https://app.example.com/api/trainpod"
        ))
    };
    let url = Url::parse(base_url).map_err(|_| bad("it does not parse"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("wrong scheme"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it has a user"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it has a query or fragment"));
    }
    let base = url.as_str().trim_end_matches('/');
    Ok(format!("{base}/datasets/{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_urls_append_one_component() {
        let u = |b| dataset_url(b, "ds-1");
        assert_eq!(
            u("https://a.example/").unwrap(),
            "https://a.example/datasets/ds-1"
        );
        assert_eq!(
            u("https://a.example/api/tp/").unwrap(),
            "https://a.example/api/tp/datasets/ds-1"
        );
        assert_eq!(
            u("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/datasets/ds-1"
        );
        for b in [
            "ftp://a",
            "https://u:p@a",
            "https://a/?x=1",
            "https://a/#f",
            "a/b",
            "",
        ] {
            assert_eq!(u(b).unwrap_err().kind(), ErrorKind::InvalidInput, "{b}");
        }
    }
}
