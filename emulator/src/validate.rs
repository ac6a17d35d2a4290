//! Request bodies checked against the v2 spec's schemas (`CreatePodRequest`,
//! `CreateClusterRequest`, `UpdateClusterRequest`): every field typed, no unknown field at any
//! level (`unevaluatedProperties` / `additionalProperties: false`). A violation is the spec's
//! 422 (`UnprocessableEntityError`, with `errors` listing each one); the rules the spec leaves
//! to the handler are the creates' 400s.

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
    /// An integer from the first to the second, both included.
    IntIn(i64, i64),
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

/// `ClusterCompute`: `podCount` is 2 to 250 (`minimum`, `maximum`); the GPU type's `maxCount`
/// bounds `gpuCountPerPod`, a rule the spec leaves to the handler ("the upstream rejects values
/// beyond it").
const COMPUTE: &[Field] = &[
    req("gpuTypeId", Kind::NonEmptyStr),
    req("gpuCountPerPod", Kind::Int(1)),
    req("podCount", Kind::IntIn(2, 250)),
];

/// The spec's `ClusterType`.
pub(crate) const CLUSTER_TYPES: &[&str] = &["APPLICATION", "TRAINING", "SLURM", "RAY"];

/// `CreateClusterRequest`: `BaseContainerConfig`'s fields (no `registry`: "Private registries
/// are not yet supported for clusters"), then the create's own (no `cloud`, `gpu`, `cpu`,
/// `templateId` or `globalNetworking`).
const CREATE_CLUSTER: &[Field] = &[
    opt("args", Kind::Str),
    opt("disk", Kind::Int(1)),
    opt("env", Kind::StrMap),
    opt("image", Kind::Str),
    opt("ports", Kind::Strings),
    req("compute", Kind::Obj(COMPUTE)),
    req("name", Kind::NonEmptyStr),
    req("type", Kind::Enum(CLUSTER_TYPES)),
    opt("dataCenterIds", Kind::Strings),
    opt("mounts", Kind::Obj(MOUNTS)),
    opt("startJupyter", Kind::Bool),
    opt("startSsh", Kind::Bool),
];

/// `UpdateClusterRequest`: a rename, nothing else (`additionalProperties: false`).
const UPDATE_CLUSTER: &[Field] = &[opt("name", Kind::NonEmptyStr)];

/// The 422 for a pod create body the schema refuses; `None` when it conforms.
pub(crate) fn create_request(body: &Value) -> Option<Answer> {
    refusal(body, CREATE, &mut Vec::new())
}

/// The 422 for a cluster create body `CreateClusterRequest` refuses; `None` when it conforms.
pub(crate) fn create_cluster_request(body: &Value) -> Option<Answer> {
    refusal(body, CREATE_CLUSTER, &mut Vec::new())
}

/// The 422 for a rename body `UpdateClusterRequest` refuses (`minProperties: 1` too).
pub(crate) fn update_cluster_request(body: &Value) -> Option<Answer> {
    let mut errors = Vec::new();
    if body.as_object().is_some_and(serde_json::Map::is_empty) {
        errors.push("$: must have at least 1 property".to_owned());
    }
    refusal(body, UPDATE_CLUSTER, &mut errors)
}

/// The 422 listing `errors` and the violations of `fields`; `None` when there are none.
fn refusal(body: &Value, fields: &'static [Field], errors: &mut Vec<String>) -> Option<Answer> {
    check(body, &Kind::Obj(fields), "$", errors);
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
        (Kind::IntIn(min, max), Value::Number(n))
            if n.as_i64().is_some_and(|n| (*min..=*max).contains(&n)) =>
        {
            None
        }
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
        Kind::IntIn(min, max) => format!("must be an integer from {min} to {max}"),
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
        errors_of(body, CREATE)
    }

    fn errors_of(body: &Value, fields: &'static [Field]) -> Vec<String> {
        let mut errors = Vec::new();
        check(body, &Kind::Obj(fields), "$", &mut errors);
        errors
    }

    #[test]
    fn a_cluster_create_is_checked_as_create_cluster_request() {
        let ok = json!({"name": "c", "type": "TRAINING", "image": "i", "args": "", "disk": 20,
            "env": {"A": "1"}, "ports": ["22/tcp"], "dataCenterIds": ["US-TX-3"],
            "startSsh": false, "startJupyter": false,
            "mounts": {"persistent": {"size": 20, "path": "/workspace"}},
            "compute": {"gpuTypeId": "g", "gpuCountPerPod": 2, "podCount": 250}});
        assert_eq!(errors_of(&ok, CREATE_CLUSTER), Vec::<String>::new());
        let with = |key: &str, v: Value| {
            let mut body = ok.clone();
            body[key] = v;
            body
        };
        let compute = |count: Value| {
            json!({"gpuTypeId": "g", "gpuCountPerPod": 1,
            "podCount": count})
        };
        let cases = [
            (
                with("registry", json!(null)),
                "$: additional properties 'registry'",
            ),
            (
                with("cloud", json!("SECURE")),
                "$: additional properties 'cloud'",
            ),
            (with("type", json!("BATCH")), "$.type: must be one of"),
            (
                with("name", json!("")),
                "$.name: must be a non-empty string",
            ),
            (
                with("compute", compute(json!(1))),
                "$.compute.podCount: must be an integer from 2",
            ),
            (with("compute", compute(json!(251))), "$.compute.podCount"),
            (
                with(
                    "compute",
                    json!({"gpuTypeId": "", "gpuCountPerPod": 0, "podCount": 2}),
                ),
                "$.compute.gpuTypeId",
            ),
            (
                with(
                    "compute",
                    json!({"gpuTypeId": "g", "gpuCountPerPod": 0, "podCount": 2}),
                ),
                "$.compute.gpuCountPerPod",
            ),
            (
                with("compute", json!({"gpuTypeId": "g", "podCount": 2, "x": 1})),
                "$.compute: additional properties 'x'",
            ),
            (
                json!({"name": "c", "type": "RAY"}),
                "$: missing required property 'compute'",
            ),
        ];
        for (body, want) in cases {
            let got = errors_of(&body, CREATE_CLUSTER);
            assert!(got.iter().any(|e| e.starts_with(want)), "{body}: {got:?}");
        }
        assert!(update_cluster_request(&json!({"name": "n"})).is_none());
        for bad in [
            json!({}),
            json!({"name": ""}),
            json!({"name": "n", "type": "RAY"}),
        ] {
            assert!(update_cluster_request(&bad).is_some(), "{bad}");
        }
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
