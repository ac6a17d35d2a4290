//! Strict parsing of a pod's metric batch, with caps on every dimension so that a hostile or
//! broken pod cannot make the app store or fold unbounded data.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::map::Entry;
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::error::{Error, Result, quote};

/// The largest batch body taken (a final event carries a 20 KB log tail, base64).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most events in one batch (the pod reporter sends at most 500).
pub const MAX_EVENTS: usize = 1000;
const MAX_NAME: usize = 64;
const MAX_DATA_KEYS: usize = 64;
const MAX_STRING: usize = 64 * 1024;
const MAX_DEPTH: usize = 4;
// The largest integer a batch may carry anywhere (a batch number, an event's `n`, a `step`, any
// value in `data`) is `MAX_SAFE_INTEGER`: no binding then hands an app a number its JSON cannot
// carry (Node would make a larger one a `BigInt`, which `JSON.stringify` refuses).
pub use crate::number::MAX_SAFE_INTEGER;
/// How far ahead of the app's clock an event's time may be: a pod's clock that is a little fast
/// is taken; a time further ahead is not a time this pod wrote.
pub const MAX_TS_AHEAD_SECS: u64 = 24 * 3600;
/// How far behind the app's clock an event's time may be: an attempt runs at most a week, and
/// its outbox keeps what an app that was down did not take, so a batch may arrive that late
/// (and a day more for a pod's clock that is slow).
pub const MAX_TS_BEHIND_SECS: u64 = 8 * 24 * 3600;
/// The `data` fields the job's row keeps as whole numbers: the fold casts them, so a float
/// beyond [`MAX_SAFE_INTEGER`] would become a number no binding carries.
const WHOLE_FIELDS: [&str; 3] = ["step", "max_steps", "steps"];

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
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(
        rename = "PodEvent",
        description = "An event the pod sent, as the pod protocol defines it (docs/pod-protocol.md)."
    )
)]
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
    /// The payload. A key twice at any depth is refused (serde_json would keep the last one,
    /// and what the app folds would differ from what another reader of the same text sees).
    #[serde(default, deserialize_with = "strict_data")]
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
    // serde also reads a struct from an array of its fields in order: the pod sends objects.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(bad("not a valid batch (it must be a JSON object)"));
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(invalid)?;
    let events = envelope.events.get();
    // The events are read one by one, counted, so that a refusal names the event it is in.
    let read = Cell::new(None);
    let parsed = EventsSeed(&read)
        .deserialize(&mut serde_json::Deserializer::from_str(events))
        .map_err(|e| match read.get() {
            Some(i) => bad(&format!("not a valid batch (events[{i}]: {e})")),
            None => invalid(e),
        })?;
    let batch = Batch {
        job: envelope.job,
        attempt: envelope.attempt,
        batch: envelope.batch,
        events: parsed,
    };
    if batch.attempt == 0 {
        return Err(bad("attempt must be 1 or more"));
    }
    if batch.batch > MAX_SAFE_INTEGER {
        return Err(bad(&format!(
            "batch is {}, over {MAX_SAFE_INTEGER} (2^53 - 1, the largest integer every binding \
             carries exactly)",
            batch.batch
        )));
    }
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS {
        return Err(bad(&format!("must hold 1 to {MAX_EVENTS} events")));
    }
    for (i, e) in batch.events.iter().enumerate() {
        check_event(e).map_err(|why| bad(&format!("events[{i}]: {why}")))?;
    }
    Ok((batch, events))
}

/// Each event's time against `now`, the app's clock when the batch arrived (Unix seconds): a
/// time far from it is refused, naming the event, so that no status or follow update shows a
/// time no pod wrote (and no binding is handed a date it cannot make).
pub(crate) fn check_times(batch: &Batch, now: u64) -> Result<()> {
    for (i, e) in batch.events.iter().enumerate() {
        let (ahead, behind) = (e.ts - now as f64, now as f64 - e.ts);
        let far = if ahead > MAX_TS_AHEAD_SECS as f64 {
            format!("more than {MAX_TS_AHEAD_SECS} s ahead of")
        } else if behind > MAX_TS_BEHIND_SECS as f64 {
            format!("more than {MAX_TS_BEHIND_SECS} s (an attempt's longest life and a day) behind")
        } else {
            continue;
        };
        // As JSON writes it (`1e300`), not its hundreds of digits.
        let ts = Number::from_f64(e.ts).map_or_else(|| e.ts.to_string(), |n| n.to_string());
        return Err(bad(&format!(
            "events[{i}].ts is {ts}, {far} the app's clock ({now}); set the pod's clock right (NTP)"
        )));
    }
    Ok(())
}

/// What is wrong with one event, without the `metric batch:` prefix (its caller names the event).
fn check_event(e: &Event) -> std::result::Result<(), String> {
    name("source", &e.source)?;
    name("type", &e.kind)?;
    if let Some(stage) = &e.stage {
        name("stage", stage)?;
    }
    if e.n > MAX_SAFE_INTEGER {
        return Err(format!(
            "n is {}, over {MAX_SAFE_INTEGER} (2^53 - 1, the largest integer every binding \
             carries exactly)",
            e.n
        ));
    }
    if !(e.ts.is_finite() && e.ts >= 0.0) {
        return Err("ts must be a non-negative number of seconds".into());
    }
    if e.data.len() > MAX_DATA_KEYS {
        return Err(format!(
            "an event's data holds at most {MAX_DATA_KEYS} keys"
        ));
    }
    for (key, value) in &e.data {
        name("data key", key)?;
        check_value(value, 1)?;
    }
    for key in WHOLE_FIELDS {
        let Some(v) = e.data.get(key) else { continue };
        if v.as_f64()
            .is_some_and(|f| f.abs() > MAX_SAFE_INTEGER as f64)
        {
            // The number as JSON writes it (`1e300`), not its hundreds of digits.
            return Err(format!(
                "data.{key} is {v}, over {MAX_SAFE_INTEGER} (2^53 - 1): a count of steps is a \
                 whole number every binding carries exactly"
            ));
        }
    }
    Ok(())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn name(what: &str, s: &str) -> std::result::Result<(), String> {
    if is_name(s) {
        Ok(())
    } else {
        Err(format!(
            "{what} must be 1 to {MAX_NAME} characters of A-Z a-z 0-9 _ . -"
        ))
    }
}

fn check_value(v: &Value, depth: usize) -> std::result::Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nest at most {MAX_DEPTH} deep"));
    }
    match v {
        Value::String(s) if s.len() > MAX_STRING => {
            Err(format!("strings are at most {MAX_STRING} bytes"))
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_value(i, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|i| check_value(i, depth + 1)),
        _ => Ok(()),
    }
}

/// Where a value lies in an event's data; written out only for an error message, so reading a
/// value costs no allocation for it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Data,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Data => f.write_str("data"),
            Path::Key(parent, key) if is_name(key) => write!(f, "{parent}.{key}"),
            // A nested key is the pod's text, unchecked: shown escaped and bounded.
            Path::Key(parent, key) => write!(f, "{parent}[{}]", quote(key)),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Reads an event's `data` as serde_json would, but refuses a key given twice in any object at
/// any depth, and any integer beyond [`MAX_SAFE_INTEGER`], naming where.
fn strict_data<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Map<String, Value>, D::Error> {
    d.deserialize_map(Strict(Path::Data)).and_then(|v| match v {
        Value::Object(map) => Ok(map),
        _ => Err(de::Error::custom("data must be an object")),
    })
}

/// One value of an event's data, at its path.
struct Strict<'a>(Path<'a>);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl Strict<'_> {
    fn whole<E: de::Error>(&self, magnitude: u64, n: Number) -> std::result::Result<Value, E> {
        if magnitude > MAX_SAFE_INTEGER {
            return Err(E::custom(format_args!(
                "{} is {n}, beyond {MAX_SAFE_INTEGER} (2^53 - 1, the largest integer every \
                 binding carries exactly); send a larger number as a float or a string",
                self.0
            )));
        }
        Ok(Value::Number(n))
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON value at {}", self.0)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Value, E> {
        self.whole(v.unsigned_abs(), v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Value, E> {
        self.whole(v, v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("{} is not a finite number", self.0)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_DATA_KEYS));
        while let Some(item) = seq.next_element_seed(Strict(Path::Index(&self.0, items.len())))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> std::result::Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(Strict(Path::Key(&self.0, &key)))?;
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    return Err(de::Error::custom(format_args!(
                        "duplicate key {} in {}: a key is given once in each object",
                        quote(slot.key()),
                        self.0
                    )));
                }
            }
        }
        Ok(Value::Object(map))
    }
}

/// The events array, read one event at a time: `read` holds the index of the event being read,
/// so that an error names it.
struct EventsSeed<'a>(&'a Cell<Option<usize>>);

impl<'de> DeserializeSeed<'de> for EventsSeed<'_> {
    type Value = Vec<Event>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Vec<Event>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed<'_> {
    type Value = Vec<Event>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Vec<Event>, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_EVENTS));
        loop {
            self.0.set(Some(events.len()));
            let Some(raw) = seq.next_element::<&'de RawValue>()? else {
                break;
            };
            // An event is an object: not the array of its fields in order serde would take too.
            if !raw.get().starts_with('{') {
                return Err(de::Error::custom("an event must be a JSON object"));
            }
            events.push(serde_json::from_str(raw.get()).map_err(de::Error::custom)?);
        }
        self.0.set(None);
        Ok(events)
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
    fn a_batch_and_its_events_are_objects_not_arrays_of_their_fields() {
        refused(
            r#"["j",1,3,[{"n":1,"source":"t","type":"log","ts":1.5}]]"#,
            "JSON object",
        );
        refused(
            r#"{"job":"j","attempt":1,"batch":3,"events":[[1,"trainer","log",null,1.5,{}]]}"#,
            "must be a JSON object",
        );
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

    #[test]
    fn a_key_twice_is_refused_at_every_depth_naming_where() {
        // The envelope and the event (serde's own check), as before.
        refused(
            &GOOD.replace(r#""batch":3"#, r#""batch":3,"batch":4"#),
            "duplicate field `batch`",
        );
        refused(
            &GOOD.replace(r#""n":1"#, r#""n":1,"n":2"#),
            "events[0]: duplicate field `n`",
        );
        // In data, and in objects nested in it: last-one-wins no more.
        refused(
            &GOOD.replace(r#""step":2"#, r#""step":2,"step":3"#),
            r#"events[0]: duplicate key "step" in data:"#,
        );
        refused(
            &GOOD.replace(r#""step":2"#, r#""m":{"a":1,"b":{"c":1,"c":2}}"#),
            r#"duplicate key "c" in data.m.b:"#,
        );
        refused(
            &GOOD.replace(r#""step":2"#, r#""m":[1,{"x y":{"k":1,"k":1}}]"#),
            r#"duplicate key "k" in data.m[1]["x y"]:"#,
        );
        let second = GOOD.replace(
            "}]}",
            r#"},{"n":2,"source":"trainer","type":"log","ts":2,"data":{"l":[{"a":1,"a":1}]}}]}"#,
        );
        refused(&second, r#"events[1]: duplicate key "a" in data.l[0]"#);
        // The same key in sibling objects is no duplicate.
        let siblings = GOOD.replace(
            r#""step":2"#,
            r#""a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]"#,
        );
        let b = parse_batch(siblings.as_bytes()).unwrap();
        assert_eq!(b.events[0].data["c"][1]["k"], 2);
    }

    #[test]
    fn integers_no_binding_carries_exactly_are_refused_naming_the_field() {
        let max = MAX_SAFE_INTEGER;
        // The largest safe integer is taken, anywhere, either sign.
        let at_max = GOOD.replace(r#""step":2"#, &format!(r#""step":{max},"k":[-{max}]"#));
        let b = parse_batch(at_max.as_bytes()).unwrap();
        assert_eq!(b.events[0].data["step"], max);
        for (json, needle) in [
            (
                format!(r#""step":{}"#, max + 1),
                "data.step is 9007199254740992",
            ),
            (
                format!(r#""max_steps":{}"#, u64::MAX),
                "data.max_steps is 18446744073709551615",
            ),
            (
                format!(r#""k":{{"d":[0,-{}]}}"#, max + 1),
                "data.k.d[1] is -9007199254740992",
            ),
            // A float step would be cast to a whole number the job row keeps.
            (r#""step":1e300"#.to_owned(), "data.step is 1e+300"),
            (
                r#""max_steps":-1e17"#.to_owned(),
                "data.max_steps is -1e+17",
            ),
        ] {
            refused(&GOOD.replace(r#""step":2"#, &json), needle);
        }
        refused(
            &GOOD.replace(r#""n":1"#, &format!(r#""n":{}"#, max + 1)),
            "events[0]: n is 9007199254740992",
        );
        refused(
            &GOOD.replace(r#""batch":3"#, &format!(r#""batch":{}"#, max + 1)),
            "batch is 9007199254740992",
        );
        // Floats are floats in every binding: a large one elsewhere in data is taken.
        let float = GOOD.replace(r#""step":2"#, r#""tokens":1e300"#);
        parse_batch(float.as_bytes()).unwrap();
    }

    #[test]
    fn event_times_far_from_the_apps_clock_are_refused_naming_the_event() {
        let now = 1_800_000_000;
        let at = |ts: f64| {
            let body = GOOD.replace("1.5", &ts.to_string());
            parse_batch(body.as_bytes()).unwrap()
        };
        let ok = [
            now as f64,
            (now + MAX_TS_AHEAD_SECS) as f64,
            (now - MAX_TS_BEHIND_SECS) as f64,
        ];
        for ts in ok {
            check_times(&at(ts), now).unwrap();
        }
        for (ts, needle) in [
            (
                (now + MAX_TS_AHEAD_SECS + 1) as f64,
                "events[0].ts is 1800086401.0, more than 86400 s ahead of the app's clock \
                 (1800000000)",
            ),
            (1e300, "events[0].ts is 1e+300, more than 86400 s ahead"),
            (
                (now - MAX_TS_BEHIND_SECS - 1) as f64,
                "events[0].ts is 1799308799.0, more than 691200 s",
            ),
            (0.0, "events[0].ts is 0.0, more than 691200 s"),
        ] {
            let err = check_times(&at(ts), now).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }
}
