//! S3 error answers (status plus the XML `<Code>`) and transport failures, as trainpod errors
//! whose message says what to fix. Nothing here sees the secret; S3 error bodies carry the
//! access key id and the string to sign at most, and only `Code` and `Message` are kept.

use super::s3_xml;
use crate::{Error, ErrorKind};

/// Error bodies are small; a longer one is cut rather than read whole.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// What a request was doing, for messages: `"upload of datasets/a.jsonl to bucket b"`.
pub(crate) type What<'a> = &'a str;

/// Reads an unsuccessful response and maps it.
pub(crate) async fn from_response(mut resp: reqwest::Response, what: What<'_>) -> Error {
    let status = resp.status().as_u16();
    let request_id = header(&resp, "x-amz-request-id");
    let retry_after = header(&resp, "retry-after").and_then(|v| v.parse::<u64>().ok());
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let code = s3_xml::text(&text, "Code");
    let message = s3_xml::text(&text, "Message");
    let mut err = from_parts(status, code.as_deref(), message.as_deref(), what).with_status(status);
    if let Some(id) = request_id {
        err = err.with_request_id(id);
    }
    if let Some(secs) = retry_after {
        err = err.with_retry_after(secs);
    }
    err
}

/// An error answer inside a 200 (S3 may answer CompleteMultipartUpload this way).
pub(crate) fn from_body(status: u16, body: &str, what: What<'_>) -> Option<Error> {
    if !body.contains("<Error>") {
        return None;
    }
    let code = s3_xml::text(body, "Code");
    let message = s3_xml::text(body, "Message");
    let status = if status < 400 { 500 } else { status };
    Some(from_parts(status, code.as_deref(), message.as_deref(), what).with_status(status))
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The kind and the advice for a status and S3 code.
pub(crate) fn from_parts(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    what: What<'_>,
) -> Error {
    let said = match (code, message) {
        (Some(c), Some(m)) => format!(" ({c}: {m})"),
        (Some(c), None) => format!(" ({c})"),
        _ => String::new(),
    };
    let (kind, advice) = classify(status, code);
    Error::new(
        kind,
        format!("the object store refused the {what}{said}: {advice}"),
    )
}

fn classify(status: u16, code: Option<&str>) -> (ErrorKind, &'static str) {
    use ErrorKind as K;
    match (status, code.unwrap_or("")) {
        (_, "SignatureDoesNotMatch") => (
            K::AuthInvalid,
            "the secret access key does not match the access key id (or the region is wrong); \
             copy both again from the provider's console and check the region",
        ),
        (_, "InvalidAccessKeyId" | "NotSignedUp") => (
            K::AuthInvalid,
            "the object store does not know this access key id; check access_key_id and that \
             the endpoint is the provider's (for RunPod: the S3 API key of Settings, user_…)",
        ),
        (_, "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired") => (
            K::AuthInvalid,
            "the credentials have expired; create new ones",
        ),
        (_, "RequestTimeTooSkewed") => (
            K::AuthInvalid,
            "this machine's clock differs from the object store's by more than 15 minutes; \
             synchronize it (NTP) and retry",
        ),
        (
            _,
            "AuthorizationHeaderMalformed"
            | "PermanentRedirect"
            | "IllegalLocationConstraintException",
        )
        | (301 | 307, _) => (
            K::InvalidInput,
            "the region or endpoint does not match the bucket's; use the bucket's own region \
             and endpoint",
        ),
        (_, "NoSuchBucket") => (
            K::NotFound,
            "the bucket does not exist at this endpoint; create it, or fix bucket and endpoint",
        ),
        (_, "NoSuchUpload") => (
            K::NotFound,
            "the multipart upload is gone (aborted or expired); upload the file again",
        ),
        (_, "NoSuchKey") | (404, _) => (
            K::NotFound,
            "there is no such object; check the key (objects are listed with their full key)",
        ),
        (_, "SlowDown") | (429, _) => (
            K::RateLimited,
            "the object store asks to slow down; retry after a pause",
        ),
        (401, _) | (403, "") => (
            K::AuthInvalid,
            "the object store refused the credentials, or they give no access to this bucket; \
             check access_key_id, secret_access_key, region and the key's permissions",
        ),
        (403, _) => (
            K::Forbidden,
            "these credentials may not do this; grant the key read, write and list access \
             on the bucket (s3:GetObject, s3:PutObject, s3:ListBucket, \
             s3:AbortMultipartUpload)",
        ),
        (409 | 412, _) => (
            K::InvalidState,
            "the bucket or object changed meanwhile; retry the whole operation",
        ),
        (500..=599, _) => (
            K::ServerError,
            "the object store failed on its side; retry later",
        ),
        _ => (
            K::InvalidInput,
            "the request was refused as invalid; check the key, the sizes and the endpoint",
        ),
    }
}

/// A request that got no answer.
pub(crate) fn transport(err: reqwest::Error, what: What<'_>) -> Error {
    // Without the URL: a presigned one would carry its signature into logs.
    let err = err.without_url();
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Transport
    };
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        cause.push_str(": ");
        cause.push_str(&s.to_string());
        source = s.source();
    }
    Error::new(
        kind,
        format!(
            "the {what} did not reach the object store ({cause}); check the endpoint and the \
             network, then retry"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        let kind = |status, code| from_parts(status, code, None, "upload").kind();
        assert_eq!(
            kind(403, Some("SignatureDoesNotMatch")),
            ErrorKind::AuthInvalid
        );
        assert_eq!(
            kind(403, Some("InvalidAccessKeyId")),
            ErrorKind::AuthInvalid
        );
        assert_eq!(kind(403, None), ErrorKind::AuthInvalid);
        assert_eq!(kind(403, Some("AccessDenied")), ErrorKind::Forbidden);
        assert_eq!(kind(404, Some("NoSuchBucket")), ErrorKind::NotFound);
        assert_eq!(kind(404, None), ErrorKind::NotFound);
        assert_eq!(kind(503, Some("SlowDown")), ErrorKind::RateLimited);
        assert_eq!(kind(500, Some("InternalError")), ErrorKind::ServerError);
        assert_eq!(kind(400, Some("EntityTooSmall")), ErrorKind::InvalidInput);
        assert_eq!(kind(301, None), ErrorKind::InvalidInput);
    }

    #[test]
    fn an_error_inside_a_200_is_found() {
        let body = "<?xml version=\"1.0\"?><Error><Code>InternalError</Code>\
                    <Message>We encountered an internal error.</Message></Error>";
        let err = from_body(200, body, "completion");
        assert_eq!(err.as_ref().map(Error::kind), Some(ErrorKind::ServerError));
        assert!(from_body(200, "<CompleteMultipartUploadResult/>", "x").is_none());
    }
}
