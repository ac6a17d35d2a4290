//! Header-signed S3 requests over one shared reqwest client, with bounded retries for the
//! idempotent ones and errors mapped by [`super::s3_errors`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use super::s3_config::S3Config;
use super::s3_errors::{self, What};
use super::sigv4::{Request, Signer, amz_date, canonical_query, sha256_hex};
use crate::clock::{Clock, SystemClock};
use crate::{Error, ErrorKind, Result};

/// Attempts of an idempotent request before its error is returned.
const MAX_ATTEMPTS: u32 = 3;
/// The first pause between attempts; it doubles.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// One S3 operation to send.
#[derive(Debug)]
pub(crate) struct Op<'a> {
    pub method: Method,
    /// The object key; empty for a bucket-level request (listing).
    pub key: &'a str,
    pub query: Vec<(&'a str, &'a str)>,
    pub body: Vec<u8>,
    /// Extra headers to send and sign (lowercase names).
    pub headers: Vec<(&'static str, String)>,
    /// Whether sending it twice is harmless, so a transient failure is retried.
    pub idempotent: bool,
    /// What it does, for error messages.
    pub what: What<'a>,
}

impl<'a> Op<'a> {
    /// A bodiless, idempotent request.
    pub fn new(method: Method, key: &'a str, what: What<'a>) -> Self {
        Op {
            method,
            key,
            query: Vec::new(),
            body: Vec::new(),
            headers: Vec::new(),
            idempotent: true,
            what,
        }
    }
}

/// Sends signed requests to one bucket.
#[derive(Clone, Debug)]
pub(crate) struct S3Client {
    pub config: S3Config,
    pub signer: Signer,
    pub http: reqwest::Client,
    pub clock: Arc<dyn Clock>,
}

impl S3Client {
    /// A client with its own HTTP client (rustls, webpki roots) and the system clock.
    pub fn new(config: S3Config) -> Result<Self> {
        let signer = Signer::new(config.credentials.clone(), config.region.clone(), "s3")?;
        Ok(S3Client {
            config,
            signer,
            http: default_http()?,
            clock: Arc::new(SystemClock),
        })
    }

    /// Sends `op`, retrying transient failures of idempotent requests; a non-2xx answer is an
    /// error. The response body is left to the caller.
    pub async fn send(&self, op: &Op<'_>) -> Result<reqwest::Response> {
        let mut attempt = 1;
        let mut pause = FIRST_BACKOFF;
        loop {
            match self.attempt(op).await {
                Err(e) if op.idempotent && e.is_retryable() && attempt < MAX_ATTEMPTS => {
                    let wait = e.retry_after_secs().map_or(pause, Duration::from_secs);
                    tokio::time::sleep(wait.min(Duration::from_secs(10))).await;
                    attempt += 1;
                    pause *= 2;
                }
                other => return other,
            }
        }
    }

    /// Sends `op` and reads the whole (small) answer as text.
    pub async fn send_text(&self, op: &Op<'_>) -> Result<String> {
        let resp = self.send(op).await?;
        let status = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| s3_errors::transport(e, op.what))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match s3_errors::from_body(status, &text, op.what) {
            Some(err) => Err(err),
            None => Ok(text),
        }
    }

    async fn attempt(&self, op: &Op<'_>) -> Result<reqwest::Response> {
        let loc = self.config.locate(op.key);
        let now = self.clock.now_unix_secs();
        let payload = sha256_hex(&op.body);
        let date = amz_date(now);
        let mut headers: Vec<(&str, &str)> = vec![
            ("host", &loc.host),
            ("x-amz-content-sha256", &payload),
            ("x-amz-date", &date),
        ];
        headers.extend(op.headers.iter().map(|(n, v)| (*n, v.as_str())));
        let signed = self.signer.sign(
            &Request {
                method: op.method.as_str(),
                path: &loc.path,
                query: &op.query,
                headers: &headers,
                payload_sha256: &payload,
            },
            now,
        );
        // `host` is set by reqwest from the URL, to the same value signed above.
        let mut req = self
            .http
            .request(op.method.clone(), loc.url(&canonical_query(&op.query)))
            .header("x-amz-content-sha256", &payload)
            .header("x-amz-date", &date)
            .header("authorization", &signed.authorization);
        for (name, value) in &op.headers {
            req = req.header(*name, value);
        }
        if matches!(op.method, Method::PUT | Method::POST) {
            req = req.body(op.body.clone());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| s3_errors::transport(e, op.what))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(s3_errors::from_response(resp, op.what).await)
        }
    }
}

/// The HTTP client used when the caller passes none: a 10 s connect timeout and a 60 s limit
/// on silence (not on the whole transfer, which may be gigabytes).
pub(crate) fn default_http() -> Result<reqwest::Client> {
    crate::runpod::tls_client(
        reqwest::Client::builder().read_timeout(Duration::from_secs(60)),
        Duration::from_secs(10),
    )
}

/// Builds a transport-level error for a response that broke off mid-body.
pub(crate) fn cut_off(what: What<'_>, err: reqwest::Error) -> Error {
    let mut e = s3_errors::transport(err, what);
    if e.kind() != ErrorKind::Timeout {
        e = Error::new(
            ErrorKind::Transport,
            format!("{}; the answer was cut off", e.message()),
        );
    }
    e
}
