//! Settings given as named fields (a binding's plain object or dict, keys in snake_case) laid
//! over a type's defaults: the one rule every binding uses, so a field the type does not have,
//! or a value of the wrong kind, is refused the same way with the field named.

use crate::error::{Error, ErrorKind, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// `given` (a JSON object of snake_case fields) laid over `defaults`, as a `T`. `what` names the
/// settings in a refusal (`pod runtime`).
pub fn lay_over<T: Serialize + DeserializeOwned>(
    what: &str,
    defaults: &T,
    given: Value,
) -> Result<T> {
    let merged = overlay(what, "", to_object(defaults)?, given)?;
    typed(what, "", Value::Object(merged))
}

/// `value` as a `T`, or `INVALID_INPUT` naming the field that was wrong (under `at`, the path of
/// `value` in `what`) and what it takes.
pub(crate) fn typed<T: DeserializeOwned>(what: &str, at: &str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let field = match (at, inner.as_str()) {
            (at, ".") => at.to_owned(),
            ("", inner) => inner.to_owned(),
            (at, inner) => format!("{at}.{inner}"),
        };
        // serde's words, without the position it appends for text input (there is none here).
        let why = e.into_inner().to_string();
        Error::invalid_input(format!(
            "{what}: `{field}` is not valid: {why}; give it as the field's documentation says"
        ))
    })
}

/// `given` (a JSON object) laid over `defaults` (the object at `at` in `what`), refusing a field
/// the defaults do not have.
pub(crate) fn overlay(
    what: &str,
    at: &str,
    mut defaults: Map<String, Value>,
    given: Value,
) -> Result<Map<String, Value>> {
    let Value::Object(given) = given else {
        let name = if at.is_empty() { what } else { at };
        return Err(Error::invalid_input(format!(
            "{what}: `{name}` must be an object of named fields"
        )));
    };
    for (key, value) in given {
        if !defaults.contains_key(&key) {
            let mut known: Vec<&str> = defaults.keys().map(String::as_str).collect();
            known.sort_unstable();
            let field = if at.is_empty() {
                key
            } else {
                format!("{at}.{key}")
            };
            return Err(Error::invalid_input(format!(
                "{what}: there is no field `{field}`; the fields are {}",
                known.join(", ")
            )));
        }
        defaults.insert(key, value);
    }
    Ok(defaults)
}

pub(crate) fn to_object<T: Serialize>(value: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::new(
            ErrorKind::Internal,
            "a type's defaults did not serialize as an object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::ReconcilePolicy;
    use serde_json::json;

    #[test]
    fn given_fields_replace_defaults_and_unknown_or_wrong_ones_are_named() {
        let d = ReconcilePolicy::default();
        let p: ReconcilePolicy = lay_over("reconcile", &d, json!({"lease_secs": 5})).unwrap();
        assert_eq!(p.lease_secs, 5);
        assert_eq!(p.stale_after_secs, d.stale_after_secs);
        let e = lay_over("reconcile", &d, json!({"lease": 5})).unwrap_err();
        assert!(
            e.message()
                .starts_with("reconcile: there is no field `lease`; the fields are")
        );
        let e = lay_over("reconcile", &d, json!({"lease_secs": -1})).unwrap_err();
        assert!(
            e.message()
                .starts_with("reconcile: `lease_secs` is not valid"),
            "{e}"
        );
        let e = lay_over("reconcile", &d, json!([1])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
}
