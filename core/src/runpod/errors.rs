//! Maps RunPod error responses (RFC 9457 problem+json, `{error,status}`, `{message}`) to
//! trainpod's error model, with a message that says what to do.

use serde::Deserialize;

use super::api_key::ApiKey;
use super::transport::{HttpResponse, TransportError};
use crate::{Error, ErrorKind};

#[derive(Deserialize, Default)]
struct Body {
    title: Option<String>,
    detail: Option<String>,
    error: Option<String>,
    message: Option<String>,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

/// Whether an upstream message reads as "no capacity" (RunPod gives capacity no code, and words
/// it more than one way: v2's 400 "There are no longer any instances available…", and "This
/// machine does not have the resources to deploy your pod. Please try a different machine",
/// which has come as a 500).
pub(crate) fn looks_like_capacity(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "capacity",
        "does not have the resources",
        "try a different machine",
        "no gpu",
        "not available",
        "unavailable",
        "no longer any instances",
        "no instances",
        "out of stock",
        "could not find any pods",
    ]
    .iter()
    .any(|p| t.contains(p))
}

/// The upstream's own words, from whichever body shape it used, scrubbed of the key.
fn upstream_detail(body: &[u8], key: Option<&ApiKey>) -> String {
    let parsed: Body = serde_json::from_slice(body).unwrap_or_default();
    let mut parts: Vec<String> = Vec::new();
    for s in [&parsed.detail, &parsed.error, &parsed.message]
        .into_iter()
        .flatten()
    {
        if !s.is_empty() {
            parts.push(s.clone());
        }
    }
    if parts.is_empty()
        && let Some(t) = parsed.title.filter(|t| !t.is_empty())
    {
        parts.push(t);
    }
    for e in &parsed.errors {
        match e {
            serde_json::Value::String(s) => parts.push(s.clone()),
            other => parts.push(other.to_string()),
        }
    }
    if parts.is_empty() {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if !text.is_empty() {
            parts.push(text.chars().take(300).collect());
        }
    }
    let joined = parts.join("; ");
    let joined: String = joined.chars().take(1000).collect();
    match key {
        Some(k) => k.scrub(&joined),
        None => joined,
    }
}

/// Map a non-2xx response of `operation` (for example "create pod trainpod-j1") to an [`Error`].
pub fn map_error_response(operation: &str, response: &HttpResponse, key: Option<&ApiKey>) -> Error {
    let status = response.status;
    let detail = upstream_detail(&response.body, key);
    let said = if detail.is_empty() {
        String::new()
    } else {
        format!(" RunPod said: {detail}.")
    };
    let retry_after = response.header("retry-after").and_then(parse_retry_after);
    let (kind, advice) = match status {
        401 => (
            ErrorKind::AuthInvalid,
            "RunPod refused the API key: check RUNPOD_API_KEY (or runpod_api_key) and create a key \
             with pod read/write access at https://www.runpod.io/console/user/settings"
                .to_owned(),
        ),
        402 => (
            ErrorKind::InsufficientBalance,
            "the RunPod account's balance is too low for this pod: add credit at \
             https://www.runpod.io/console/user/billing, then retry"
                .to_owned(),
        ),
        403 => (
            ErrorKind::Forbidden,
            "this key may not do that: a pod-scoped key acts only on its own pod, and some GPU \
             pools need account approval; use the account key or another GPU type"
                .to_owned(),
        ),
        404 => (
            ErrorKind::NotFound,
            "RunPod has no such resource: the pod may have been terminated already".to_owned(),
        ),
        409 => (
            ErrorKind::InvalidState,
            "the action is not valid in the pod's current state: read the pod's status and \
             `actions` and choose one of those"
                .to_owned(),
        ),
        400 | 500..=599 if looks_like_capacity(&detail) => (
            ErrorKind::CapacityUnavailable,
            "no machine with this GPU type is free right now: try another GPU type or data \
             center, or retry later"
                .to_owned(),
        ),
        400 | 422 => (
            ErrorKind::InvalidInput,
            "RunPod refused the request as invalid: fix the field it names".to_owned(),
        ),
        429 => (
            ErrorKind::RateLimited,
            match retry_after {
                Some(s) => format!("RunPod's rate limit was reached: wait {s} s and retry"),
                None => "RunPod's rate limit was reached: wait and retry".to_owned(),
            },
        ),
        500..=599 => (
            ErrorKind::ServerError,
            "RunPod failed on its side: retry later; see https://uptime.runpod.io if it persists"
                .to_owned(),
        ),
        _ => (
            ErrorKind::ServerError,
            format!("RunPod answered with unexpected HTTP status {status}"),
        ),
    };
    let mut err = Error::new(kind, format!("{operation}: {advice}.{said}")).with_status(status);
    if let Some(id) = response
        .header("x-request-id")
        .or_else(|| response.header("request-id"))
        .or_else(|| response.header("x-runpod-request-id"))
    {
        let id: String = id.chars().take(128).collect();
        err = err.with_request_id(id);
    }
    if let Some(s) = retry_after {
        err = err.with_retry_after(s);
    }
    err
}

/// Map a transport failure (no status received) to an [`Error`].
pub(crate) fn map_transport(operation: &str, e: TransportError) -> Error {
    if e.timed_out {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "{operation}: RunPod did not answer in time: check the network, or raise the \
                 request timeout"
            ),
        )
        .with_source(e)
    } else {
        Error::new(
            ErrorKind::Transport,
            format!(
                "{operation}: the request did not reach RunPod or its answer was cut off: check \
                 the network, proxy and base URL"
            ),
        )
        .with_source(e)
    }
}

/// `Retry-After` in delta-seconds (the form RunPod sends); HTTP dates are ignored.
pub(crate) fn parse_retry_after(v: &str) -> Option<u64> {
    v.trim().parse::<u64>().ok().map(|s| s.min(3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn every_status_maps_to_its_kind() {
        let cases = [
            (
                401,
                r#"{"title":"Unauthorized","status":401,"detail":"invalid api key"}"#,
                ErrorKind::AuthInvalid,
            ),
            (
                402,
                r#"{"error":"insufficient balance","status":402}"#,
                ErrorKind::InsufficientBalance,
            ),
            (403, r#"{"message":"forbidden"}"#, ErrorKind::Forbidden),
            (404, "", ErrorKind::NotFound),
            (
                409,
                r#"{"title":"Conflict","status":409,"detail":"cannot start a RUNNING pod"}"#,
                ErrorKind::InvalidState,
            ),
            (
                400,
                r#"{"title":"Bad Request","status":400,"detail":"There are no longer any instances available with the requested specifications"}"#,
                ErrorKind::CapacityUnavailable,
            ),
            (
                400,
                r#"{"title":"Bad Request","status":400,"detail":"name is required"}"#,
                ErrorKind::InvalidInput,
            ),
            (
                422,
                r#"{"title":"x","status":422,"detail":"y","errors":["gpu.count: must be >= 1"]}"#,
                ErrorKind::InvalidInput,
            ),
            (
                429,
                r#"{"title":"Too Many Requests","status":429,"detail":"rate limit"}"#,
                ErrorKind::RateLimited,
            ),
            (503, "<html>bad gateway</html>", ErrorKind::ServerError),
            // The other capacity wording, which has come as a 500: a refusal, not an outage.
            (
                500,
                r#"{"title":"Internal Server Error","status":500,"detail":"This machine does not have the resources to deploy your pod. Please try a different machine"}"#,
                ErrorKind::CapacityUnavailable,
            ),
            // A transient failure stays a server error (retried after a lookup by name).
            (
                500,
                r#"{"title":"Internal Server Error","status":500,"detail":"Something went wrong. Please try again later or contact support."}"#,
                ErrorKind::ServerError,
            ),
        ];
        for (status, body, kind) in cases {
            let e = map_error_response("op", &resp(status, body, &[]), None);
            assert_eq!(e.kind(), kind, "{status} {body}");
            assert_eq!(e.status(), Some(status));
        }
    }

    #[test]
    fn messages_carry_fix_detail_request_id_and_retry_after() {
        let e = map_error_response(
            "list pods",
            &resp(
                401,
                r#"{"title":"Unauthorized","status":401,"detail":"key rpa_SECRET is invalid"}"#,
                &[("X-Request-Id", "req-7")],
            ),
            ApiKey::new("rpa_SECRET").ok().as_ref(),
        );
        assert!(e.message().contains("RUNPOD_API_KEY"));
        assert!(e.message().contains("is invalid"));
        assert!(!e.to_string().contains("rpa_SECRET"));
        assert_eq!(e.request_id(), Some("req-7"));
        let e = map_error_response("op", &resp(429, "{}", &[("retry-after", "7")]), None);
        assert_eq!(e.retry_after_secs(), Some(7));
        assert!(e.message().contains("wait 7 s"));
        let e = map_error_response(
            "op",
            &resp(422, r#"{"errors":["gpu.count: must be >= 1"]}"#, &[]),
            None,
        );
        assert!(e.message().contains("gpu.count"));
    }

    #[test]
    fn transport_and_timeout() {
        let t = map_transport(
            "op",
            TransportError {
                timed_out: true,
                message: "x".into(),
            },
        );
        assert_eq!(t.kind(), ErrorKind::Timeout);
        let t = map_transport(
            "op",
            TransportError {
                timed_out: false,
                message: "x".into(),
            },
        );
        assert_eq!(t.kind(), ErrorKind::Transport);
        assert_eq!(parse_retry_after(" 12 "), Some(12));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
