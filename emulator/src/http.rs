//! The HTTP front: every request is authenticated (which account, which permission), counted
//! against the quotas, put through the injected faults, checked against the key's permission,
//! routed, recorded, and answered with the `RateLimit` headers; the test-control endpoints under
//! `/_emulator/` go to [`crate::admin`] instead.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::accounts::{Caller, DEFAULT_ACCOUNT, Permission, refused};
use crate::answer::{Answer, problem};
use crate::params::{Query, decode};
use crate::shared::Shared;
use crate::state::{Follow, State};
use crate::{
    RecordedRequest, admin, billing, catalog, cluster_create, clusters, create, logs, pods, runner,
};

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
        let (answer, account) = serve(&mut s, &method, &uri, &headers, &body);
        // A create that answers 500 after creating still made a pod, which runs as well.
        let created: Vec<String> = s.pods[before..].iter().map(|p| p.id.clone()).collect();
        let req = Request {
            method: &method,
            uri: &uri,
            headers: &headers,
            body: &body,
        };
        record(&mut s, &req, account, &answer);
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

/// A v2 request as received.
struct Request<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
    body: &'a [u8],
}

fn record(s: &mut State, req: &Request<'_>, account: Option<String>, a: &Answer) {
    let pairs = |h: &HeaderMap| -> Vec<(String, String)> {
        h.iter()
            .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect()
    };
    s.log.push(RecordedRequest {
        method: req.method.to_string(),
        uri: req.uri.to_string(),
        headers: pairs(req.headers),
        body: req.body.to_vec(),
        account,
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

/// Authenticate, count against the quotas, and answer; the `RateLimit` headers go on every
/// answer to an authenticated request, as the spec's responses declare them. Also the account
/// of the caller, once authenticated.
fn serve(
    s: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> (Answer, Option<String>) {
    let caller = match authenticate(s, headers) {
        Ok(caller) => caller,
        Err(a) => return (a, None),
    };
    let path = uri.path().strip_prefix("/v2").unwrap_or("");
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|seg| decode(seg, false))
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (rate_headers, exceeded) = s.windows.take(s.now, &s.faults);
    let mut answer = match exceeded {
        Some(e) => too_many(e.retry_after, e.window),
        None => faulted(s)
            .or_else(|| refused(&caller, method, &segs))
            .unwrap_or_else(|| {
                let req = Request {
                    method,
                    uri,
                    headers,
                    body,
                };
                route(s, &caller, &req, &segs)
            }),
    };
    answer.1.extend(rate_headers);
    (answer, Some(caller.account))
}

/// Which account a key belongs to, and what it may do: an account key, or a pod-scoped key
/// (its pod's account, all permissions on that pod alone).
fn authenticate(s: &State, headers: &HeaderMap) -> Result<Caller, Answer> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if key.is_empty() {
        return Err(problem(401, "Unauthorized", "missing bearer token"));
    }
    if let Some((account, permission)) = s.accounts.get(key) {
        return Ok(Caller {
            account: account.to_owned(),
            pod: None,
            permission,
        });
    }
    match s.pod_keys.get(key) {
        // RunPod documents pod keys for runpodctl only; with the fault, v2 knows them not.
        Some(pod) if !s.faults.pod_key_refused => {
            let account = s.index(pod).map_or(DEFAULT_ACCOUNT, |i| &s.pods[i].account);
            Ok(Caller {
                account: account.to_owned(),
                pod: Some(pod.clone()),
                permission: Permission::All,
            })
        }
        // Unknown, or revoked (a disabled or deleted key; inferred to be as invalid).
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

fn route(s: &mut State, caller: &Caller, req: &Request<'_>, segs: &[&str]) -> Answer {
    let query = Query::parse(req.uri.query().unwrap_or(""));
    let (body, headers) = (req.body, req.headers);
    match (req.method.as_str(), segs) {
        ("GET", ["pods"]) => pods::list(s, caller, &query),
        ("POST", ["pods"]) if caller.pod.is_some() => {
            problem(403, "Forbidden", "a pod key cannot create pods")
        }
        ("POST", ["pods"]) => create::create(s, &caller.account, body),
        ("GET", ["pods", id]) => pods::with(s, id, caller, pods::get),
        ("PATCH", ["pods", id]) => pods::with(s, id, caller, |s, i| {
            pods::standalone(s, i, |s, i| pods::patch(s, i, body))
        }),
        ("DELETE", ["pods", id]) => {
            pods::with(s, id, caller, |s, i| pods::standalone(s, i, pods::delete))
        }
        ("POST", ["pods", id, "action"]) => pods::with(s, id, caller, |s, i| {
            pods::standalone(s, i, |s, i| pods::action(s, i, body))
        }),
        ("GET", ["pods", id, "logs"]) => {
            pods::with(s, id, caller, |s, i| logs::logs(s, i, &query, headers))
        }
        ("GET", ["catalog", "gpus"]) => catalog::catalog(s, None, &query),
        ("GET", ["catalog", "gpus", id]) => catalog::catalog(s, Some(id), &query),
        ("GET", ["billing", "pods"]) => billing::pods(s, caller, &query),
        _ => route_clusters(s, caller, req, segs, &query),
    }
}

/// The cluster routes (`/v2/clusters…`, `/v2/billing/clusters`).
fn route_clusters(
    s: &mut State,
    caller: &Caller,
    req: &Request<'_>,
    segs: &[&str],
    query: &Query,
) -> Answer {
    let body = req.body;
    let cluster_route = matches!(segs, ["clusters", ..] | ["billing", "clusters"]);
    if let Some(refused) = clusters::refused_pod_key(caller).filter(|_| cluster_route) {
        return refused;
    }
    match (req.method.as_str(), segs) {
        ("GET", ["clusters"]) => clusters::list(s, caller),
        ("POST", ["clusters"]) => cluster_create::create(s, &caller.account, body),
        ("GET", ["clusters", id]) => clusters::with(s, id, caller, clusters::get),
        ("PATCH", ["clusters", id]) => {
            clusters::with(s, id, caller, |s, c| clusters::rename(s, c, body))
        }
        ("DELETE", ["clusters", id]) => clusters::with(s, id, caller, clusters::delete),
        ("GET", ["clusters", id, "pods"]) => clusters::with(s, id, caller, clusters::pods),
        ("GET", ["billing", "clusters"]) => billing::clusters(s, caller, query),
        _ => problem(404, "Not Found", "no such route in the emulator"),
    }
}
