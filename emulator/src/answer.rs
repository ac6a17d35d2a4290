//! What a v2 route answers: a status, extra headers and a body, with the problem+json and JSON
//! shapes RunPod's API uses. Every route builds its answer here; the HTTP front sends it.

use serde_json::{Value, json};

/// Status, extra headers and body of an answer.
pub(crate) type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

pub(crate) fn problem(status: u16, title: &str, detail: &str) -> Answer {
    problem_json(&json!({"title": title, "status": status, "detail": detail}))
}

/// A problem+json body as it is (`status` is read from it).
pub(crate) fn problem_json(body: &Value) -> Answer {
    let status = body["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(500);
    (
        status,
        vec![("content-type", "application/problem+json".to_owned())],
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

pub(crate) fn json_ok(status: u16, v: &Value) -> Answer {
    (
        status,
        vec![("content-type", "application/json".to_owned())],
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

pub(crate) fn unprocessable(detail: &str) -> Answer {
    problem(422, "Unprocessable Entity", detail)
}

pub(crate) fn bad_request(detail: &str) -> Answer {
    problem(400, "Bad Request", detail)
}
