//! The create body checked against the v2 spec's `CreatePodRequest` schema: every field typed,
//! no unknown field at any level (`unevaluatedProperties` / `additionalProperties: false`).
//! A violation is the spec's 422 (`UnprocessableEntityError`, with `errors` listing each one);
//! the rules the spec leaves to the handler are the create's 400s.

use serde_json::{Map, Value, json};

use crate::answer::{Answer, problem_json};
use crate::cuda;

/// What a field's value must be.
#[derive(Debug)]
enum Kind {
    Str,
    NonEmptyStr,
    StrOrNull,
    Bool,
    /// An integer of at least this.
    Int(i64),
    Strings,
    /// An object of string values.
    StrMap,
    Enum(&'static [&'static str]),
    /// `major.minor`, the spec's `^\d+\.\d+$`.
    Cuda,
    CudaList,
    Obj(&'static [Field]),
    /// An array of at most one such object.
    AtMostOne(&'static [Field]),
}

#[derive(Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

const GPU: &[Field] = &[
    req("id", Kind::Str),
    opt("count", Kind::Int(1)),
    opt("allowedCudaVersions", Kind::CudaList),
    opt("minCudaVersion", Kind::Cuda),
];

const CPU: &[Field] = &[req("id", Kind::NonEmptyStr), req("vcpuCount", Kind::Int(2))];

const PERSISTENT: &[Field] = &[req("size", Kind::Int(10)), req("path", Kind::Str)];

const NETWORK: &[Field] = &[req("volumeId", Kind::Str), req("path", Kind::Str)];

const MOUNTS: &[Field] = &[
    opt("persistent", Kind::Obj(PERSISTENT)),
    opt("network", Kind::AtMostOne(NETWORK)),
];

/// `CreatePodRequest`: `ContainerConfig`'s fields, then the create's own.
const CREATE: &[Field] = &[
    opt("args", Kind::Str),
    opt("disk", Kind::Int(1)),
    opt("env", Kind::StrMap),
    opt("image", Kind::Str),
    opt("ports", Kind::Strings),
    opt("registry", Kind::StrOrNull),
    req("name", Kind::NonEmptyStr),
    opt("cloud", Kind::Enum(&["SECURE", "COMMUNITY"])),
    opt("cpu", Kind::Obj(CPU)),
    opt("dataCenterIds", Kind::Strings),
    opt("globalNetworking", Kind::Bool),
    opt("gpu", Kind::Obj(GPU)),
    opt("mounts", Kind::Obj(MOUNTS)),
    opt("startJupyter", Kind::Bool),
    opt("startSsh", Kind::Bool),
    opt("templateId", Kind::NonEmptyStr),
];

/// The 422 for a create body the schema refuses; `None` when it conforms.
pub(crate) fn create_request(body: &Value) -> Option<Answer> {
    let mut errors = Vec::new();
    check(body, &Kind::Obj(CREATE), "$", &mut errors);
    let first = errors.first()?;
    Some(problem_json(&json!({
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": format!("Request validation failed: {first}"),
        "errors": errors,
    })))
}

fn check(v: &Value, kind: &Kind, path: &str, errors: &mut Vec<String>) {
    let fail = |what: &str| format!("{path}: {what}");
    let problem = match (kind, v) {
        (Kind::Str, Value::String(_)) | (Kind::Bool, Value::Bool(_)) => None,
        (Kind::StrOrNull, Value::String(_) | Value::Null) => None,
        (Kind::NonEmptyStr, Value::String(s)) if !s.is_empty() => None,
        (Kind::Int(min), Value::Number(n)) if n.as_i64().is_some_and(|n| n >= *min) => None,
        (Kind::Strings, Value::Array(a)) if a.iter().all(Value::is_string) => None,
        (Kind::StrMap, Value::Object(m)) if m.values().all(Value::is_string) => None,
        (Kind::Enum(names), Value::String(s)) if names.contains(&s.as_str()) => None,
        (Kind::Cuda, Value::String(s)) if cuda::parse(s).is_some() => None,
        (Kind::CudaList, Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                check(item, &Kind::Cuda, &format!("{path}[{i}]"), errors);
            }
            None
        }
        (Kind::Obj(fields), Value::Object(m)) => {
            check_object(m, fields, path, errors);
            None
        }
        (Kind::AtMostOne(fields), Value::Array(a)) if a.len() <= 1 => {
            for (i, item) in a.iter().enumerate() {
                check(item, &Kind::Obj(fields), &format!("{path}[{i}]"), errors);
            }
            None
        }
        (kind, _) => Some(fail(&expected(kind))),
    };
    errors.extend(problem);
}

fn check_object(m: &Map<String, Value>, fields: &[Field], path: &str, errors: &mut Vec<String>) {
    for name in m.keys() {
        if !fields.iter().any(|f| f.name == name) {
            errors.push(format!(
                "{path}: additional properties '{name}' not allowed"
            ));
        }
    }
    for f in fields {
        match m.get(f.name) {
            Some(v) => check(v, &f.kind, &format!("{path}.{}", f.name), errors),
            None if f.required => {
                errors.push(format!("{path}: missing required property '{}'", f.name));
            }
            None => {}
        }
    }
}

fn expected(kind: &Kind) -> String {
    match kind {
        Kind::Str => "must be a string".into(),
        Kind::NonEmptyStr => "must be a non-empty string".into(),
        Kind::StrOrNull => "must be a string or null".into(),
        Kind::Bool => "must be a boolean".into(),
        Kind::Int(min) => format!("must be an integer of at least {min}"),
        Kind::Strings => "must be an array of strings".into(),
        Kind::StrMap => "must be an object of string values".into(),
        Kind::Enum(names) => format!("must be one of {}", names.join(", ")),
        Kind::Cuda => "must match ^\\d+\\.\\d+$ (major.minor)".into(),
        Kind::CudaList => "must be an array of major.minor versions".into(),
        Kind::Obj(_) => "must be an object".into(),
        Kind::AtMostOne(_) => "must be an array of at most one item".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(body: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        check(body, &Kind::Obj(CREATE), "$", &mut errors);
        errors
    }

    #[test]
    fn every_level_refuses_unknown_fields_and_wrong_types() {
        let ok = json!({"name": "p", "image": "i", "gpu": {"id": "g", "count": 1,
            "allowedCudaVersions": ["12.8"]}, "disk": 20, "env": {"A": "1"}, "ports": ["22/tcp"],
            "registry": null, "cloud": "SECURE", "dataCenterIds": [], "globalNetworking": false,
            "startSsh": true, "startJupyter": false, "args": "",
            "mounts": {"network": [{"volumeId": "v", "path": "/workspace"}]}});
        assert_eq!(errors(&ok), Vec::<String>::new());
        let cases = [
            (
                json!({"name": "p", "bogus": 1}),
                "$: additional properties 'bogus' not allowed",
            ),
            (
                json!({"name": "p", "gpu": {"id": "g", "x": 1}}),
                "$.gpu: additional properties 'x'",
            ),
            (
                json!({"name": "p", "mounts": {"persistent": {"size": 10, "path": "/w", "y": 0}}}),
                "$.mounts.persistent: additional properties 'y'",
            ),
            (
                json!({"name": "p", "mounts": {"network": [{"volumeId": "v", "path": "/", "z": 0}]}}),
                "$.mounts.network[0]: additional properties 'z'",
            ),
            (
                json!({"name": "p", "mounts": {"other": {}}}),
                "$.mounts: additional properties",
            ),
            (
                json!({"name": "p", "disk": "20"}),
                "$.disk: must be an integer",
            ),
            (
                json!({"name": "p", "env": {"A": 1}}),
                "$.env: must be an object of string",
            ),
            (
                json!({"name": "p", "gpu": {"id": "g", "count": 0}}),
                "$.gpu.count",
            ),
            (
                json!({"name": "p", "mounts": {"persistent": {"size": 9, "path": "/w"}}}),
                "$.mounts.persistent.size",
            ),
            (json!({"name": ""}), "$.name: must be a non-empty string"),
            (json!({"image": "i"}), "$: missing required property 'name'"),
            (
                json!({"name": "p", "gpu": {"id": "g", "minCudaVersion": "12"}}),
                "$.gpu.minCudaVersion",
            ),
            (
                json!({"name": "p", "cpu": {"id": "cpu3c", "vcpuCount": 1}}),
                "$.cpu.vcpuCount",
            ),
            (json!({"name": "p", "templateId": ""}), "$.templateId"),
            (json!({"name": "p", "cloud": "SPOT"}), "$.cloud"),
            (json!({"name": "p", "startSsh": "yes"}), "$.startSsh"),
            (json!([]), "$: must be an object"),
        ];
        for (body, want) in cases {
            let got = errors(&body);
            assert!(got.iter().any(|e| e.starts_with(want)), "{body}: {got:?}");
        }
    }
}
