//! `PATCH /v2/pods/{id}`: the fields the spec lets change, the mount kind fixed at create.

use serde_json::{Map, Value};

use crate::answer::{Answer, bad_request, json_ok, problem, unprocessable};
use crate::pods::pod_json;
use crate::state::{EmuPod, State};

/// `PATCH /v2/pods/{id}`: type errors and unknown fields are 422 (the schema allows no other
/// properties); rule violations (mount kind, an empty network list) are 400.
pub(crate) fn patch(s: &mut State, i: usize, body: &[u8]) -> Answer {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return bad_request("body must be a JSON object");
    };
    let pod = &s.pods[i];
    let mut next = pod.clone();
    for (field, v) in &req {
        let ok = match (field.as_str(), v) {
            ("name", Value::String(n)) if !n.is_empty() => {
                next.name.clone_from(n);
                true
            }
            ("image", Value::String(x)) => {
                next.image.clone_from(x);
                true
            }
            ("args", Value::String(x)) => {
                next.args.clone_from(x);
                true
            }
            ("disk", Value::Number(n)) if n.as_u64().is_some_and(|d| d >= 1) => {
                next.disk = n.as_u64().unwrap_or(1);
                true
            }
            ("ports", Value::Array(a)) if a.iter().all(Value::is_string) => {
                next.ports = a
                    .iter()
                    .filter_map(|p| p.as_str().map(str::to_owned))
                    .collect();
                true
            }
            ("env", Value::Object(m)) if m.values().all(Value::is_string) => {
                next.env.clone_from(m);
                true
            }
            ("registry", Value::String(r)) => {
                next.registry = Some(r.clone());
                true
            }
            ("registry", Value::Null) => {
                next.registry = None;
                true
            }
            ("locked", Value::Bool(b)) => {
                next.locked = *b;
                true
            }
            ("globalNetworking", Value::Bool(b)) => {
                next.global_networking = *b;
                true
            }
            ("templateId", Value::String(_)) => {
                return problem(404, "Not Found", "template not found");
            }
            ("mounts", Value::Object(m)) => {
                if let Some(err) = patch_mounts(&mut next, m) {
                    return err;
                }
                true
            }
            _ => false,
        };
        if !ok {
            return unprocessable(&format!("{field}: unknown field or wrong type"));
        }
    }
    s.pods[i] = next;
    json_ok(200, &pod_json(&s.pods[i], s.now))
}

fn patch_mounts(pod: &mut EmuPod, m: &Map<String, Value>) -> Option<Answer> {
    for (kind, v) in m {
        match (kind.as_str(), v) {
            ("persistent", Value::Object(p)) => {
                let (Some(size), Some(path)) = (
                    p.get("size").and_then(Value::as_u64),
                    p.get("path").and_then(Value::as_str),
                ) else {
                    return Some(unprocessable("mounts.persistent needs both size and path"));
                };
                if pod.persistent.is_none() {
                    return Some(bad_request(
                        "the mount kind is fixed at create: this pod has no persistent volume",
                    ));
                }
                pod.persistent = Some((size, path.to_owned()));
            }
            ("network", Value::Array(a)) if a.is_empty() => {
                return Some(bad_request("clearing mounts is not supported"));
            }
            ("network", Value::Array(a)) => {
                let Some((id, _)) = pod.network.clone() else {
                    return Some(bad_request(
                        "the mount kind is fixed at create: this pod has no network volume",
                    ));
                };
                let next = a.first().and_then(|m| {
                    let same = m.get("volumeId").and_then(Value::as_str) == Some(id.as_str());
                    m.get("path")
                        .and_then(Value::as_str)
                        .filter(|_| same && a.len() == 1)
                });
                let Some(path) = next else {
                    return Some(bad_request("a network mount's volumeId is fixed at create"));
                };
                pod.network = Some((id, path.to_owned()));
            }
            _ => return Some(unprocessable(&format!("mounts.{kind}: unknown or invalid"))),
        }
    }
    None
}
