//! The Rust dataset server: an axum router answering `GET` and `HEAD /datasets/{id}` from an
//! [`AppStaging`]. Mount it in the app's router (`app.merge(router(staging))`, or `nest` it
//! under the base path given to [`AppStaging::signed_download_url`]).
//!
//! The file is streamed with `pread` in 512 KiB chunks, each read on tokio's blocking pool, so
//! memory stays flat whatever the file size and a slow disk never stalls the async workers.
//! Refused tokens get a uniform body (`invalid_token` for 401, `forbidden` for 403); the
//! specific reason is for the app's logs, through [`router_with_log`].

use super::{AppStaging, DownloadRequest, Grant, QUERY_TOKEN_PARAM};
use crate::error::{Error, ErrorKind};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;
use std::sync::Arc;

const CHUNK: usize = 512 * 1024;

/// Called with every refused request's error, for the app's logs.
pub type ErrorLog = Arc<dyn Fn(&Error) + Send + Sync>;

/// Turns one download request into a grant: [`AppStaging::authorize`] on the blocking pool, or
/// the SDK's route, which also looks at the token's job in the store.
pub(crate) type Authorizer =
    Arc<dyn Fn(Fields) -> BoxFuture<'static, Result<Grant, Error>> + Send + Sync>;

#[derive(Clone)]
struct Shared {
    authorize: Authorizer,
    log: Option<ErrorLog>,
}

/// `GET`/`HEAD /datasets/{id}` served from `staging`.
pub fn router(staging: Arc<AppStaging>) -> Router {
    router_with_log(staging, None)
}

/// [`router`], calling `log` with the specific reason of each refused request.
pub fn router_with_log(staging: Arc<AppStaging>, log: Option<ErrorLog>) -> Router {
    let authorize: Authorizer = Arc::new(move |f: Fields| {
        let staging = staging.clone();
        Box::pin(async move { staging.authorize(&f.request()).await })
    });
    router_with_authorizer(authorize, log)
}

/// The dataset route over any [`Authorizer`].
pub(crate) fn router_with_authorizer(authorize: Authorizer, log: Option<ErrorLog>) -> Router {
    Router::new()
        .route("/datasets/{id}", get(download))
        .with_state(Shared { authorize, log })
}

/// The request fields the grant needs, owned so they can move to the blocking pool.
pub(crate) struct Fields {
    authorization: Option<String>,
    query_token: Option<String>,
    dataset_id: String,
    range: Option<String>,
    if_range: Option<String>,
}

impl Fields {
    /// The fields as the request the staging checks.
    pub(crate) fn request(&self) -> DownloadRequest<'_> {
        DownloadRequest {
            authorization: self.authorization.as_deref(),
            query_token: self.query_token.as_deref(),
            dataset_id: &self.dataset_id,
            range: self.range.as_deref(),
            if_range: self.if_range.as_deref(),
            job: None,
        }
    }
}

async fn download(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let granted = match fields(&headers, query.as_deref(), id) {
        Ok(f) => (shared.authorize)(f).await,
        Err(err) => Err(err),
    };
    match granted {
        Ok(grant) => respond(grant, method == Method::HEAD),
        Err(err) => {
            if let Some(log) = &shared.log {
                log(&err);
            }
            refuse(&err)
        }
    }
}

/// The fields of the request. A header repeated where it must be single (`Authorization`,
/// `If-Range`, the query token) is a crafted request and refused; several `Range` headers are
/// joined, which makes a multi-range request that is ignored.
fn fields(headers: &HeaderMap, query: Option<&str>, dataset_id: String) -> Result<Fields, Error> {
    let two = || {
        Error::new(
            ErrorKind::TokenMalformed,
            "the request carries two tokens; send one",
        )
    };
    let single = |name: header::HeaderName| -> Result<Option<String>, Error> {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(two());
        }
        // A value that is not visible ASCII cannot be a token or a tag.
        first
            .map(|v| v.to_str().map(str::to_owned).map_err(|_| malformed()))
            .transpose()
    };
    let mut tokens = query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()))
        .into_iter()
        .flatten()
        .filter(|(k, _)| k == QUERY_TOKEN_PARAM)
        .map(|(_, v)| v.into_owned());
    let query_token = tokens.next();
    if tokens.next().is_some() {
        return Err(two());
    }
    let ranges: Option<Vec<&str>> = headers
        .get_all(header::RANGE)
        .iter()
        .map(|v| v.to_str().ok())
        .collect();
    let range = ranges.filter(|r| !r.is_empty()).map(|r| r.join(", "));
    Ok(Fields {
        authorization: single(header::AUTHORIZATION)?,
        query_token,
        dataset_id,
        // Unreadable Range values are ignored, as an invalid Range is (RFC 9110 §14.2).
        range,
        // Two or unreadable If-Range values match no ETag: the whole file is sent.
        if_range: single(header::IF_RANGE).unwrap_or(Some(String::new())),
    })
}

fn malformed() -> Error {
    Error::new(
        ErrorKind::TokenMalformed,
        "the Authorization header is not ASCII",
    )
}

fn respond(grant: Grant, head: bool) -> Response {
    let mut response = Response::builder().status(grant.status);
    for (name, value) in &grant.headers {
        response = response.header(*name, value);
    }
    let body = if head || grant.length == 0 {
        Body::empty()
    } else {
        stream(Arc::new(grant))
    };
    response
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The grant's body as a stream of chunks read on the blocking pool, one chunk ahead at most.
fn stream(grant: Arc<Grant>) -> Body {
    let chunks = futures_util::stream::unfold(0u64, move |pos| {
        let grant = grant.clone();
        async move {
            if pos >= grant.length {
                return None;
            }
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; CHUNK];
                let n = grant.read_at(&mut buf, pos)?;
                if n == 0 {
                    // The file shrank under us: end the response short so the client sees it.
                    return Err(std::io::Error::other(
                        "the dataset file shrank while serving",
                    ));
                }
                buf.truncate(n);
                Ok(Bytes::from(buf))
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            let next = read.as_ref().map_or(u64::MAX, |b| pos + b.len() as u64);
            Some((read, next))
        }
    });
    Body::from_stream(chunks)
}

/// The error response: token failures uniform, other failures with their code and message
/// (the caller proved a valid token for this dataset before any of them can happen).
fn refuse(err: &Error) -> Response {
    let status =
        StatusCode::from_u16(err.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (code, message) = match err.kind() {
        k if k.is_token_error() && status == StatusCode::UNAUTHORIZED => {
            ("invalid_token", "the token is missing, invalid or expired")
        }
        k if k.is_token_error() => ("forbidden", "the token does not grant this download"),
        ErrorKind::Internal => ("INTERNAL", "the server could not serve the dataset"),
        k => (k.code(), err.message()),
    };
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        h.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}
