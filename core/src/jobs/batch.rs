//! Strict parsing of a pod's metric batch, with caps on every dimension so that a hostile or
//! broken pod cannot make the app store or fold unbounded data.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The largest batch body taken (a final event carries a 20 KB log tail, base64).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most events in one batch (the pod reporter sends at most 500).
pub const MAX_EVENTS: usize = 1000;
const MAX_NAME: usize = 64;
const MAX_DATA_KEYS: usize = 64;
const MAX_STRING: usize = 64 * 1024;
const MAX_DEPTH: usize = 4;

/// One numbered batch of events from one attempt of one job.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// The job id.
    pub job: String,
    /// The attempt, from 1.
    pub attempt: u32,
    /// The batch number, unique within the attempt.
    pub batch: u64,
    /// The events, in order.
    pub events: Vec<Event>,
}

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// The sender's own event counter.
    pub n: u64,
    /// `bootstrap`, `trainer`, `upload` or `command`.
    pub source: String,
    /// `stage`, `heartbeat`, `log`, `progress`, `final`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The stage, on bootstrap events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Unix seconds with a fraction.
    pub ts: f64,
    /// The payload.
    #[serde(default)]
    pub data: Map<String, Value>,
}

fn bad(what: &str) -> Error {
    Error::invalid_input(format!("metric batch: {what}"))
}

/// Parses and checks a batch body: size, shape (unknown fields refused), names, counts, string
/// lengths and nesting. JSON has no NaN or Infinity, and the parser refuses numbers out of range.
pub fn parse_batch(body: &[u8]) -> Result<Batch> {
    parse_batch_raw(body).map(|(batch, _)| batch)
}

/// The batch's fields, its events kept as the text they were sent as.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    job: String,
    attempt: u32,
    batch: u64,
    #[serde(borrow)]
    events: &'a RawValue,
}

/// [`parse_batch`], and the events' JSON text within `body`: what the store keeps is then the
/// pod's own text, checked, rather than a copy written again (which cost a quarter of the parse).
pub(crate) fn parse_batch_raw(body: &[u8]) -> Result<(Batch, &str)> {
    if body.len() > MAX_BODY_BYTES {
        return Err(bad(&format!(
            "the body is {} bytes, over the {MAX_BODY_BYTES}-byte cap; send smaller batches",
            body.len()
        )));
    }
    let invalid = |e: serde_json::Error| bad(&format!("not a valid batch ({e})"));
    let envelope: Envelope = serde_json::from_slice(body).map_err(invalid)?;
    let events = envelope.events.get();
    let batch = Batch {
        job: envelope.job,
        attempt: envelope.attempt,
        batch: envelope.batch,
        events: serde_json::from_str(events).map_err(invalid)?,
    };
    if batch.attempt == 0 {
        return Err(bad("attempt must be 1 or more"));
    }
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS {
        return Err(bad(&format!("must hold 1 to {MAX_EVENTS} events")));
    }
    batch.events.iter().try_for_each(check_event)?;
    Ok((batch, events))
}

fn check_event(e: &Event) -> Result<()> {
    name("source", &e.source)?;
    name("type", &e.kind)?;
    if let Some(stage) = &e.stage {
        name("stage", stage)?;
    }
    if !(e.ts.is_finite() && e.ts >= 0.0) {
        return Err(bad("ts must be a non-negative number of seconds"));
    }
    if e.data.len() > MAX_DATA_KEYS {
        return Err(bad(&format!(
            "an event's data holds at most {MAX_DATA_KEYS} keys"
        )));
    }
    for (key, value) in &e.data {
        name("data key", key)?;
        check_value(value, 1)?;
    }
    Ok(())
}

fn name(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(bad(&format!(
            "{what} must be 1 to {MAX_NAME} characters of A-Z a-z 0-9 _ . -"
        )))
    }
}

fn check_value(v: &Value, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad(&format!("values nest at most {MAX_DEPTH} deep")));
    }
    match v {
        Value::String(s) if s.len() > MAX_STRING => {
            Err(bad(&format!("strings are at most {MAX_STRING} bytes")))
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_value(i, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|i| check_value(i, depth + 1)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"job":"j","attempt":1,"batch":3,"events":[
        {"n":1,"source":"trainer","type":"log","ts":1.5,"data":{"loss":0.5,"step":2}}]}"#;

    fn refused(body: &str, needle: &str) {
        let err = parse_batch(body.as_bytes()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }

    #[test]
    fn a_pod_batch_parses() {
        let b = parse_batch(GOOD.as_bytes()).unwrap();
        assert_eq!((b.batch, b.events[0].kind.as_str()), (3, "log"));
    }

    #[test]
    fn hostile_batches_are_refused_with_the_reason() {
        refused(&GOOD.replace("0.5", "NaN"), "not a valid batch");
        refused(&GOOD.replace("0.5", "1e999"), "not a valid batch");
        refused(
            &GOOD.replace(r#""batch":3"#, r#""batch":3,"extra":1"#),
            "not a valid batch",
        );
        refused(&GOOD.replace(r#""attempt":1"#, r#""attempt":0"#), "attempt");
        refused(
            &GOOD.replace(r#""type":"log""#, r#""type":"log; drop""#),
            "type must be",
        );
        refused(
            &GOOD.replace(r#""loss""#, &format!("\"{}\"", "k".repeat(65))),
            "data key",
        );
        refused(&GOOD.replace("1.5", "-1"), "ts must be");
        refused(
            r#"{"job":"j","attempt":1,"batch":3,"events":[]}"#,
            "1 to 1000 events",
        );
        refused(
            &GOOD.replace("0.5", &format!("\"{}\"", "x".repeat(70_000))),
            "strings",
        );
        refused(&GOOD.replace("0.5", "[[[[[1]]]]]"), "nest");
        refused(&" ".repeat(MAX_BODY_BYTES + 1), "cap");
    }
}
