//! The HTTP front: every request is authenticated, counted against the quotas, put through the
//! injected faults, routed, recorded, and answered with the `RateLimit` headers; the
//! test-control endpoints under `/_emulator/` go to [`crate::admin`] instead.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::answer::{Answer, problem};
use crate::params::{Query, decode};
use crate::shared::Shared;
use crate::state::{Follow, State};
use crate::{ACCOUNT_KEY, RecordedRequest, admin, billing, catalog, create, logs, pods, runner};

pub(crate) async fn handle(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(rest) = uri.path().strip_prefix("/_emulator/") {
        let resp = admin::handle(&shared, &method, rest, &headers, &body);
        shared.notify();
        return resp;
    }
    let latency = shared.lock().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (answer, follow, created) = {
        let mut s = shared.lock();
        s.follow = None;
        let before = s.pods.len();
        let answer = serve(&mut s, &method, &uri, &headers, &body);
        // A create that answers 500 after creating still made a pod, which runs as well.
        let created: Vec<String> = s.pods[before..].iter().map(|p| p.id.clone()).collect();
        record(&mut s, &method, &uri, &headers, &body, &answer);
        (answer, s.follow.take(), created)
    };
    if shared.runner.is_some() {
        for id in created {
            runner::supervisor::supervise(shared.clone(), id);
        }
    }
    shared.notify();
    respond(shared, answer, follow)
}

fn record(s: &mut State, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8], a: &Answer) {
    let pairs = |h: &HeaderMap| -> Vec<(String, String)> {
        h.iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect()
    };
    s.log.push(RecordedRequest {
        method: method.to_string(),
        uri: uri.to_string(),
        headers: pairs(headers),
        body: body.to_vec(),
        status: a.0,
        response: a.2.clone(),
        response_headers: a
            .1
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect(),
    });
}

fn respond(shared: Arc<Shared>, (status, extra, out): Answer, follow: Option<Follow>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match follow {
        Some(f) => (status, Body::from_stream(logs::follow(shared, f, out))).into_response(),
        None => (status, out).into_response(),
    };
    let h = resp.headers_mut();
    h.insert("x-request-id", HeaderValue::from_static("emu-req"));
    for (name, value) in extra {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if status == StatusCode::NO_CONTENT {
        h.remove(header::CONTENT_TYPE);
    }
    resp
}

/// Who a key is: the account (`None`) or one pod (`Some(id)`).
type Scope = Option<String>;

/// Authenticate, count against the quotas, and answer; the `RateLimit` headers go on every
/// answer to an authenticated request, as the spec's responses declare them.
fn serve(s: &mut State, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Answer {
    let scope = match authenticate(s, headers) {
        Ok(scope) => scope,
        Err(a) => return a,
    };
    let (rate_headers, exceeded) = s.windows.take(s.now, &s.faults);
    let mut answer = match exceeded {
        Some(e) => too_many(e.retry_after, e.window),
        None => faulted(s).unwrap_or_else(|| route(s, scope, method, uri, headers, body)),
    };
    answer.1.extend(rate_headers);
    answer
}

fn authenticate(s: &State, headers: &HeaderMap) -> Result<Scope, Answer> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if key.is_empty() {
        return Err(problem(401, "Unauthorized", "missing bearer token"));
    }
    if key == ACCOUNT_KEY {
        return Ok(None);
    }
    match s.pod_keys.get(key) {
        // RunPod documents pod keys for runpodctl only; with the fault, v2 knows them not.
        Some(pod) if !s.faults.pod_key_refused => Ok(Some(pod.clone())),
        _ => Err(problem(401, "Unauthorized", "invalid api key")),
    }
}

fn too_many(retry_after: u64, window: &str) -> Answer {
    let mut a = problem(
        429,
        "Too Many Requests",
        &format!("rate limit exceeded for the {window} window"),
    );
    a.1.push(("retry-after", retry_after.to_string()));
    a
}

/// The next injected 429 or status, if one is queued.
fn faulted(s: &mut State) -> Option<Answer> {
    if let Some(secs) = s.faults.rate_limits.pop_front() {
        return Some(too_many(secs, "minute"));
    }
    let status = s.faults.statuses.pop_front()?;
    let (title, detail) = match status {
        401 => ("Unauthorized", "invalid api key"),
        402 => ("Payment Required", "insufficient balance"),
        403 => ("Forbidden", "this key lacks permission for the request"),
        _ => ("Internal Server Error", "injected failure"),
    };
    Some(problem(status, title, detail))
}

fn route(
    s: &mut State,
    scope: Scope,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let path = uri.path().strip_prefix("/v2").unwrap_or("");
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|seg| decode(seg, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let query = Query::parse(uri.query().unwrap_or(""));
    let scope = scope.as_deref();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["pods"]) => pods::list(s, scope, &query),
        ("POST", ["pods"]) if scope.is_some() => {
            problem(403, "Forbidden", "a pod key cannot create pods")
        }
        ("POST", ["pods"]) => create::create(s, body),
        ("GET", ["pods", id]) => pods::with(s, id, scope, pods::get),
        ("PATCH", ["pods", id]) => pods::with(s, id, scope, |s, i| pods::patch(s, i, body)),
        ("DELETE", ["pods", id]) => pods::with(s, id, scope, pods::delete),
        ("POST", ["pods", id, "action"]) => {
            pods::with(s, id, scope, |s, i| pods::action(s, i, body))
        }
        ("GET", ["pods", id, "logs"]) => {
            pods::with(s, id, scope, |s, i| logs::logs(s, i, &query, headers))
        }
        ("GET", ["catalog", "gpus"]) => catalog::catalog(s, None, &query),
        ("GET", ["catalog", "gpus", id]) => catalog::catalog(s, Some(id), &query),
        ("GET", ["billing", "pods"]) => billing::pods(s, scope, &query),
        _ => problem(404, "Not Found", "no such route in the emulator"),
    }
}
