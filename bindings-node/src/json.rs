//! Core's serde types (specs, plans, statuses) cross as plain objects: JSON values whose keys are
//! camelCase in JavaScript and snake_case in Rust. Only keys change; values (enum names such as
//! `"succeeded"`, ids, numbers) cross as they are. `types.d.ts` describes the shapes.

use crate::errors::{Result, internal, invalid};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// The largest integer a double holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// `job_id` → `jobId`.
pub(crate) fn camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `jobId` → `job_id`.
pub(crate) fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn rename_keys(value: Value, rename: fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (rename(&k), rename_keys(v, rename)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rename_keys(v, rename)).collect())
        }
        Value::Number(n) => Value::Number(whole_number(n)),
        other => other,
    }
}

/// A JavaScript number that is a whole number becomes an integer, so that it deserializes into
/// Rust's integer fields (napi hands integers above 2^32 over as floats).
fn whole_number(n: Number) -> Number {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() <= MAX_SAFE => {
            if f >= 0.0 {
                Number::from(f as u64)
            } else {
                Number::from(f as i64)
            }
        }
        _ => n,
    }
}

/// An integer beyond 2^53 − 1 as the nearest double. napi hands such an integer to JavaScript
/// as a `BigInt`, which the declared types do not say and `JSON.stringify` throws on (in an
/// app's route, at once); a double is a `number`, as the types say, and serializes.
fn js_number(n: Number) -> Number {
    let beyond = n.as_u64().map_or_else(
        || {
            n.as_i64()
                .is_some_and(|i| i.unsigned_abs() > MAX_SAFE as u64)
        },
        |u| u > MAX_SAFE as u64,
    );
    match n.as_f64().and_then(Number::from_f64) {
        Some(double) if beyond => double,
        _ => n,
    }
}

/// `value` with every number as JavaScript receives it ([`js_number`]), and each object key
/// renamed by `rename` when one is given.
fn for_js(value: Value, rename: Option<fn(&str) -> String>) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match rename {
                        Some(rename) => rename(&k),
                        None => k,
                    };
                    (key, for_js(v, rename))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| for_js(v, rename)).collect()),
        Value::Number(n) => Value::Number(js_number(n)),
        other => other,
    }
}

/// A core value as a JavaScript object (camelCase keys, every number a `number`).
pub(crate) fn to_js_value<T: Serialize>(value: &T) -> Result<Value> {
    let value = serde_json::to_value(value).map_err(|e| internal(e.to_string()))?;
    Ok(for_js(value, Some(camel)))
}

/// JSON as it came (a pod's event: its keys are its own) for JavaScript: every number a
/// `number`, never a `BigInt`, whatever the store holds (rows kept before ingest refused such
/// integers included).
pub(crate) fn js_json(value: Value) -> Value {
    for_js(value, None)
}

/// A JavaScript object (camelCase keys) as a core value; `what` names it in errors.
pub(crate) fn from_js_value<T: DeserializeOwned>(what: &str, value: Value) -> Result<T> {
    serde_json::from_value(rename_keys(value, snake)).map_err(|e| {
        invalid(format!(
            "{what} is not valid: {}",
            camel_message(&e.to_string())
        ))
    })
}

/// serde names fields in snake_case; the caller wrote camelCase.
fn camel_message(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                camel(part)
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// The object `value` as a map, or `INVALID_INPUT` naming `what`.
pub(crate) fn object(what: &str, value: Value) -> Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(format!("{what} must be an object"))),
    }
}
