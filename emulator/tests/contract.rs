//! Contract tests: every request trainpod's client sends and every response the emulator returns,
//! in a scenario that touches every endpoint used and every error path, then the answers of the
//! emulator's faults (pods gone, strict create validation, quotas, CUDA, capacity wordings) and
//! of every Instant Cluster operation (create, list, get, rename, delete, member pods, billing),
//! validated against the RunPod v2 OpenAPI document (a verbatim copy in
//! `tests/fixtures/runpod-rest-v2-openapi.json`): bodies, and the `RateLimit`,
//! `RateLimit-Policy` and `Retry-After` headers where the spec declares them. A request the
//! emulator refused with 422 must be one the spec's schema refuses.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12: each validator embeds the whole document and
//! points at the schema with a `$ref` JSON pointer, so internal `$ref`s resolve.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use trainpod::clock::CounterRandom;
use trainpod::runpod::{
    ApiKey, Client, Cloud, CreatePodRequest, GpuCandidate, GpuCatalogQuery, GpuRequest, LogQuery,
    LogSource, Mounts, PersistentMount, PodAction, PodFilter, PodUpdate, Product, ReqwestSender,
    RetryPolicy, Sleeper, job_pod_name,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, RecordedRequest, VanishCause};

mod support;

fn spec() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/runpod-rest-v2-openapi.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

struct Contract {
    doc: Value,
    validators: HashMap<String, jsonschema::Validator>,
}

impl Contract {
    /// The violations of `instance` against the schema at `pointer`.
    fn errors(&mut self, pointer: &str, instance: &Value) -> Vec<String> {
        if !self.validators.contains_key(pointer) {
            let mut root = self.doc.clone();
            root["$schema"] = Value::from("https://json-schema.org/draft/2020-12/schema");
            // A JSON pointer in a URI fragment: braces must be percent-encoded.
            let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
            root["$ref"] = Value::from(format!("#{fragment}"));
            let v = jsonschema::draft202012::new(&root)
                .unwrap_or_else(|e| panic!("schema at {pointer}: {e}"));
            self.validators.insert(pointer.to_owned(), v);
        }
        self.validators[pointer]
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    fn validate(&mut self, pointer: &str, instance: &Value, what: &str) {
        let errors = self.errors(pointer, instance);
        assert!(
            errors.is_empty(),
            "{what} violates {pointer}:\n{}\n{instance}",
            errors.join("\n")
        );
    }

    /// The spec path template for a concrete path.
    fn template(&self, path: &str) -> String {
        let segs: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("no paths"));
        let mut best = None;
        for t in paths.keys() {
            let ts: Vec<&str> = t.split('/').collect();
            if ts.len() == segs.len()
                && ts
                    .iter()
                    .zip(&segs)
                    .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}')))
            {
                // Prefer the literal match (fewest parameters).
                let params = ts.iter().filter(|s| s.starts_with('{')).count();
                if best.as_ref().is_none_or(|(p, _)| params < *p) {
                    best = Some((params, t.clone()));
                }
            }
        }
        best.map(|(_, t)| t)
            .unwrap_or_else(|| panic!("{path} is not in the spec"))
    }

    /// Each query parameter must be declared for the operation (or its path) and its value must
    /// match the parameter's schema; form-style lists (`a,b`) are checked as arrays.
    fn check_query(&mut self, template: &str, op_ptr: &str, query: &str, what: &str) -> usize {
        let mut declared: Vec<(String, String)> = Vec::new();
        for list_ptr in [
            format!("{op_ptr}/parameters"),
            format!("/paths/{}/parameters", escape(template)),
        ] {
            let n = self
                .doc
                .pointer(&list_ptr)
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..n {
                let mut ptr = format!("{list_ptr}/{i}");
                if let Some(r) = self
                    .doc
                    .pointer(&format!("{ptr}/$ref"))
                    .and_then(Value::as_str)
                {
                    ptr = r.trim_start_matches('#').to_owned();
                }
                let p = &self.doc.pointer(&ptr).cloned().unwrap_or_default();
                if p["in"] == "query" {
                    declared.push((p["name"].as_str().unwrap_or_default().to_owned(), ptr));
                }
            }
        }
        let mut checked = 0;
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (name, raw) = kv.split_once('=').unwrap_or((kv, ""));
            let value = percent_decode(raw);
            let (_, ptr) = declared
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{what}: query parameter {name} is not in the spec"));
            let schema_ptr = format!("{ptr}/schema");
            let mut schema = self.doc.pointer(&schema_ptr).cloned().unwrap_or_default();
            if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                schema = self
                    .doc
                    .pointer(r.trim_start_matches('#'))
                    .cloned()
                    .unwrap_or_default();
            }
            let typed = |ty: &Value, v: &str| -> Value {
                match ty.as_str() {
                    Some("integer") => v
                        .parse::<i64>()
                        .map_or_else(|_| Value::from(v), Value::from),
                    Some("boolean") => v
                        .parse::<bool>()
                        .map_or_else(|_| Value::from(v), Value::from),
                    _ => Value::from(v),
                }
            };
            let instance = if schema["type"] == "array" {
                let item_ty = schema["items"]["type"].clone();
                Value::Array(value.split(',').map(|v| typed(&item_ty, v)).collect())
            } else {
                typed(&schema["type"], &value)
            };
            self.validate(&schema_ptr, &instance, &format!("{what}: parameter {name}"));
            checked += 1;
        }
        checked
    }

    fn check(&mut self, r: &RecordedRequest) -> usize {
        let (path, query) = r.uri.split_once('?').unwrap_or((&r.uri, ""));
        let template = self.template(path);
        let method = r.method.to_ascii_lowercase();
        let op_ptr = format!("/paths/{}/{method}", escape(&template));
        let op = self
            .doc
            .pointer(&op_ptr)
            .cloned()
            .unwrap_or_else(|| panic!("{} {template} is not in the spec", r.method));
        let mut checked = self.check_query(
            &template,
            &op_ptr,
            query,
            &format!("request {} {}", r.method, r.uri),
        );
        if !r.body.is_empty() {
            self.check_request_body(r, &op, &op_ptr, &template);
            checked += 1;
        }
        let status = r.status.to_string();
        let mut resp_ptr = if op.pointer(&format!("/responses/{status}")).is_some() {
            format!("{op_ptr}/responses/{status}")
        } else {
            assert!(
                r.status >= 400,
                "{} {template}: status {status} is not in the spec",
                r.method
            );
            format!("{op_ptr}/responses/default")
        };
        if let Some(reference) = self
            .doc
            .pointer(&format!("{resp_ptr}/$ref"))
            .and_then(Value::as_str)
        {
            resp_ptr = reference.trim_start_matches('#').to_owned();
        }
        checked += self.check_headers(r, &resp_ptr);
        let content = self.doc.pointer(&format!("{resp_ptr}/content")).cloned();
        match content {
            None => assert!(
                r.response.is_empty(),
                "{} {template} {status}: the spec has no body",
                r.method
            ),
            Some(content) => {
                let (media, _) = content
                    .as_object()
                    .and_then(|m| m.iter().next())
                    .unwrap_or_else(|| panic!("empty content"));
                if media == "text/event-stream" {
                    return checked + self.check_events(r);
                }
                let body: Value = serde_json::from_slice(&r.response).unwrap_or_else(|e| {
                    panic!(
                        "{} {template} {status}: response is not JSON: {e}",
                        r.method
                    )
                });
                self.validate(
                    &format!("{resp_ptr}/content/{}/schema", escape(media)),
                    &body,
                    &format!("response {status} to {} {}", r.method, r.uri),
                );
                checked += 1;
            }
        }
        checked
    }
}

impl Contract {
    /// A request body must match the operation's schema, unless the emulator refused it with
    /// 422: then the schema must refuse it too.
    fn check_request_body(
        &mut self,
        r: &RecordedRequest,
        op: &Value,
        op_ptr: &str,
        template: &str,
    ) {
        let body: Value =
            serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("request body: {e}"));
        assert!(
            op.pointer("/requestBody/content/application~1json/schema")
                .is_some(),
            "{} {template} takes no body",
            r.method
        );
        let schema = format!("{op_ptr}/requestBody/content/application~1json/schema");
        let what = format!("request {} {}", r.method, r.uri);
        if r.status == 422 {
            assert!(
                !self.errors(&schema, &body).is_empty(),
                "{what}: refused with 422, but the spec's schema accepts {body}"
            );
        } else {
            self.validate(&schema, &body, &what);
        }
    }

    /// The rate-limit headers the spec declares on the response (every answer to an
    /// authenticated request carries them, as the spec says), each matching its schema and, for
    /// `RateLimit` and `RateLimit-Policy`, the structured-field list the spec describes.
    fn check_headers(&mut self, r: &RecordedRequest, resp_ptr: &str) -> usize {
        let Some(declared) = self
            .doc
            .pointer(&format!("{resp_ptr}/headers"))
            .and_then(Value::as_object)
            .cloned()
        else {
            return 0;
        };
        let mut checked = 0;
        for (name, h) in &declared {
            if !matches!(
                name.as_str(),
                "RateLimit" | "RateLimit-Policy" | "Retry-After"
            ) {
                continue;
            }
            let what = format!("{} {} {}: header {name}", r.method, r.uri, r.status);
            let value = r
                .response_headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("{what} is declared by the spec but missing"));
            let ptr = match h.get("$ref").and_then(Value::as_str) {
                Some(reference) => reference.trim_start_matches('#').to_owned(),
                None => format!("{resp_ptr}/headers/{}", escape(name)),
            };
            let schema = format!("{ptr}/schema");
            let instance =
                if self.doc.pointer(&format!("{schema}/type")) == Some(&Value::from("integer")) {
                    Value::from(
                        value
                            .parse::<i64>()
                            .unwrap_or_else(|e| panic!("{what}: {e}")),
                    )
                } else {
                    Value::from(value.clone())
                };
            self.validate(&schema, &instance, &what);
            if name != "Retry-After" {
                structured_list(name, &value, &what);
            }
            checked += 1;
        }
        checked
    }

    /// The spec types an SSE body only as a string and describes its events in words: each has
    /// an `id:` line and a JSON `data:` payload with `source`, `line` and `ts`. Those words are
    /// checked here, `source` against the spec's `LogSource` schema and `ts` as a date-time.
    fn check_events(&mut self, r: &RecordedRequest) -> usize {
        let text = String::from_utf8_lossy(&r.response);
        let mut checked = 0;
        for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
            let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with(':')).collect();
            if lines.is_empty() {
                continue; // a comment-only block
            }
            assert!(
                lines.iter().any(|l| l.starts_with("id: ")),
                "event without an id in {}: {block}",
                r.uri
            );
            let data: String = lines
                .iter()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            let ev: Value = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {block}"));
            assert!(ev["line"].is_string(), "event without a line: {ev}");
            self.validate(
                "/components/schemas/LogSource",
                &ev["source"],
                "log event source",
            );
            self.validate(
                "/components/parameters/LogSince/schema",
                &ev["ts"],
                "log event ts",
            );
            checked += 1;
        }
        checked
    }
}

/// `"minute";r=R;t=T, "hour";…, "day";…` (`RateLimit`) or `"minute";q=Q;w=60, …`
/// (`RateLimit-Policy`): one member per window, each parameter a whole number.
fn structured_list(name: &str, value: &str, what: &str) {
    let params = if name == "RateLimit" {
        ["r", "t"]
    } else {
        ["q", "w"]
    };
    let mut windows = Vec::new();
    for member in value.split(", ") {
        let mut parts = member.split(';');
        windows.push(parts.next().unwrap_or_default());
        let got: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).collect();
        assert_eq!(
            got.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            params,
            "{what}: {value}"
        );
        assert!(
            got.iter()
                .all(|(_, v)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())),
            "{what}: {value}"
        );
    }
    assert_eq!(
        windows,
        ["\"minute\"", "\"hour\"", "\"day\""],
        "{what}: {value}"
    );
    if name == "RateLimit-Policy" {
        assert!(
            value.contains(";w=60,") && value.contains(";w=3600,") && value.ends_with(";w=86400")
        );
    }
}

/// Every exchange checked against the spec, each of `statuses` among them.
fn check_all(requests: &[RecordedRequest], statuses: &[u16]) -> Contract {
    let mut contract = Contract {
        doc: spec(),
        validators: HashMap::new(),
    };
    let mut checked = 0;
    for r in requests {
        checked += contract.check(r);
    }
    let seen: Vec<u16> = requests.iter().map(|r| r.status).collect();
    for s in statuses {
        assert!(
            seen.contains(s),
            "the scenario never produced {s}: {seen:?}"
        );
    }
    assert!(
        checked >= requests.len(),
        "checked {checked} bodies and headers in {} exchanges",
        requests.len()
    );
    contract
}

#[derive(Debug)]
struct NoSleep;

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _: Duration) {}
}

fn client(emu: &Emulator, key: &str) -> Client {
    Client::builder(
        ApiKey::new(key).unwrap_or_else(|e| panic!("{e}")),
        Arc::new(
            ReqwestSender::new(Duration::from_secs(2), Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{e}")),
        ),
    )
    .base_url(emu.base_url())
    .sleeper(Arc::new(NoSleep))
    .random(Arc::new(CounterRandom::default()))
    .retry_policy(RetryPolicy::new(
        3,
        Duration::from_millis(1),
        Duration::from_millis(2),
        Duration::from_secs(60),
    ))
    .build()
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn every_request_and_response_matches_the_v2_spec() {
    let emu = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let c = client(&emu, ACCOUNT_KEY);
    let mut req = CreatePodRequest {
        name: job_pod_name("contract-1").unwrap_or_else(|e| panic!("{e}")),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu: Some(GpuRequest {
            id: "NVIDIA A40".into(),
            count: 1,
            min_cuda_version: None,
        }),
        disk: Some(40),
        ports: vec!["8888/http".into()],
        data_center_ids: vec!["US-TX-3".into()],
        ..CreatePodRequest::default()
    };
    req.env.insert("TRAINPOD_CONFIG".into(), "e30=".into());
    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA H100 80GB HBM3".into());
        f.fail_after_create = 1;
    });
    let candidates = [
        GpuCandidate {
            gpu_id: "NVIDIA H100 80GB HBM3".into(),
            count: 1,
            data_center_ids: vec![],
        },
        GpuCandidate {
            gpu_id: "NVIDIA A40".into(),
            count: 1,
            data_center_ids: vec!["US-TX-3".into()],
        },
    ];
    let pod = c
        .create_pod(&req, &candidates)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    req.name = job_pod_name("contract-2").unwrap_or_else(|e| panic!("{e}"));
    let other = c
        .create_pod(&req, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    let _ = c.gpu_catalog().await;
    emu.faults(|f| f.rate_limits.push_back(1));
    let _ = c.list_pods().await;
    let _ = c.pod_action(&pod.id, PodAction::Start).await; // 409
    emu.advance(5);
    let _ = c.get_pod(&pod.id).await;
    let _ = c.pod_action(&pod.id, PodAction::Restart).await;
    let _ = c.pod_action(&pod.id, PodAction::Stop).await;
    let _ = c.pod_billing(&pod.id).await;
    let _ = client(&emu, &emu.pod_key(&pod.id))
        .terminate_pod(&other.id)
        .await; // 403
    let _ = client(&emu, "rpa_wrong").list_pods().await; // 401
    emu.faults(|f| f.statuses.extend([402, 500]));
    let _ = c.list_pods().await;
    let _ = c.list_pods().await;
    // Filters, PATCH, the catalog with its filters and one GPU type, the log stream.
    let _ = c
        .list_pods_filtered(&PodFilter {
            include_cluster_pods: true,
            name_prefix: Some("trainpod-".into()),
            ..PodFilter::default()
        })
        .await;
    let _ = c
        .patch_pod(
            &other.id,
            &PodUpdate {
                name: Some("trainpod-contract-renamed".into()),
                env: Some([("A".to_owned(), "1".to_owned())].into()),
                ports: Some(vec!["22/tcp".into()]),
                disk: Some(30),
                locked: Some(false),
                global_networking: Some(false),
                registry: Some("reg1".into()),
                args: Some(String::new()),
                image: Some("runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into()),
                ..PodUpdate::default()
            },
        )
        .await;
    let _ = c
        .patch_pod(
            &other.id,
            &PodUpdate {
                mounts: Some(Mounts {
                    persistent: Some(PersistentMount {
                        size: 20,
                        path: "/workspace".into(),
                    }),
                    network: vec![],
                }),
                ..PodUpdate::default()
            },
        )
        .await; // 400: a mount kind the pod was not created with
    let _ = c.gpu_catalog_with(&GpuCatalogQuery::default()).await;
    let _ = c
        .gpu_catalog_with(&GpuCatalogQuery {
            products: vec![Product::Pod, Product::Serverless],
            count: Some(2),
            cloud: Some(Cloud::Community),
            country_codes: vec!["FR".into(), "RO".into()],
            cuda_versions: vec!["12.8".into()],
            ..GpuCatalogQuery::pods()
        })
        .await;
    let _ = c
        .gpu_type(
            "NVIDIA A40",
            &GpuCatalogQuery {
                country_codes: vec!["JP".into()],
                min_cuda_version: Some("12".into()),
                ..GpuCatalogQuery::pods()
            },
        )
        .await;
    let _ = c.gpu_type("NVIDIA B999", &GpuCatalogQuery::default()).await; // 404
    emu.push_log(&pod.id, "hello from the container");
    if let Ok(mut logs) = c
        .pod_logs(
            &pod.id,
            &LogQuery {
                tail: Some(50),
                ..LogQuery::default()
            },
        )
        .await
    {
        let _ = logs.next().await;
    }
    let _ = c
        .pod_logs(
            &pod.id,
            &LogQuery {
                source: Some(LogSource::System),
                since: Some("2023-01-01T00:00:00Z".into()),
                ..LogQuery::default()
            },
        )
        .await;
    let _ = c.terminate_pod(&pod.id).await; // 204
    let _ = c.get_pod(&pod.id).await; // 404
    let _ = c.delete_pod(&other.id).await; // 204

    let requests = emu.requests();
    let contract = check_all(
        &requests,
        &[200, 201, 204, 400, 401, 402, 403, 404, 409, 429, 500],
    );
    // Every endpoint and method the client uses was exercised.
    let seen: Vec<String> = requests
        .iter()
        .map(|r| {
            let path = r.uri.split_once('?').map_or(r.uri.as_str(), |(p, _)| p);
            format!("{} {}", r.method, contract.template(path))
        })
        .collect();
    for op in [
        "GET /v2/pods",
        "POST /v2/pods",
        "GET /v2/pods/{id}",
        "PATCH /v2/pods/{id}",
        "DELETE /v2/pods/{id}",
        "POST /v2/pods/{id}/action",
        "GET /v2/pods/{id}/logs",
        "GET /v2/catalog/gpus",
        "GET /v2/catalog/gpus/{id}",
        "GET /v2/billing/pods",
    ] {
        assert!(seen.iter().any(|s| s == op), "the scenario never sent {op}");
    }
}

/// The answers of the emulator's faults, as raw exchanges: RUNNING with no container on an old
/// CUDA host, strict create validation (422), handler rules and capacity (400), the other
/// capacity wording and transient failures (500), a vanished pod (404 everywhere, billing kept),
/// a dropped log stream, a refused pod key (401), a $0 balance (402), the quota (429).
#[tokio::test]
async fn the_failure_answers_match_the_v2_spec() {
    use serde_json::json;
    use trainpod::runpod::Method;

    let emu = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let api = support::Api::new(&emu);
    emu.faults(|f| f.old_cuda_hosts = true);
    let old = api
        .create(&support::pod("trainpod-old", support::CU128_IMAGE))
        .await;
    let old = old["id"].as_str().unwrap_or_default().to_owned();
    emu.faults(|f| f.old_cuda_hosts = false);
    emu.advance(3);
    let (_, got) = api.get(&format!("/pods/{old}")).await;
    assert_eq!(
        (got["cudaVersion"].as_str(), &got["runtime"]),
        (Some("12.4"), &Value::Null)
    );
    let refused = [
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40"}, "bogus": 1}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40", "count": 0}}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40"}, "disk": "9"}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40", "minCudaVersion": "12"}}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40"},
            "mounts": {"persistent": {"size": 10, "path": "/w", "extra": true}}}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40",
            "allowedCudaVersions": ["12.8"], "minCudaVersion": "12.1"}}),
        json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA A40",
            "allowedCudaVersions": ["12.6"]}}),
        json!({"name": "p", "image": "i", "cpu": {"id": "cpu3c", "vcpuCount": 2}}),
    ];
    for body in &refused {
        let (status, _) = api.json(Method::Post, "/pods", Some(body)).await;
        assert!(matches!(status, 400 | 422), "{body}");
    }
    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA GeForce RTX 4090".into());
        f.capacity_style = trainpod_emulator::CapacityStyle::Machine;
        f.something_went_wrong = 1;
    });
    let rtx = json!({"name": "p", "image": "i", "gpu": {"id": "NVIDIA GeForce RTX 4090"}});
    assert_eq!(api.json(Method::Post, "/pods", Some(&rtx)).await.0, 500);
    assert_eq!(api.json(Method::Post, "/pods", Some(&rtx)).await.0, 500);
    emu.faults(|f| f.drop_log_streams_after = Some(1));
    let logs = format!("/pods/{old}/logs?source=system");
    let stream = api.stream(&logs, None).await;
    assert_eq!(stream.status, 200);
    drop(stream);
    assert!(emu.vanish_pod(&old, VanishCause::Console));
    let patch = json!({"name": "trainpod-renamed"});
    let stop = json!({"action": "stop"});
    for (method, path, body) in [
        (Method::Get, format!("/pods/{old}"), None),
        (Method::Patch, format!("/pods/{old}"), Some(&patch)),
        (Method::Post, format!("/pods/{old}/action"), Some(&stop)),
        (Method::Get, logs.clone(), None),
        (Method::Delete, format!("/pods/{old}"), None),
    ] {
        assert_eq!(api.json(method, &path, body).await.0, 404, "{path}");
    }
    let (status, bill) = api.get(&format!("/billing/pods?podId={old}")).await;
    assert_eq!(
        (status, bill["records"][0]["podId"].as_str()),
        (200, Some(old.as_str()))
    );
    let kept = api
        .create(&support::pod("trainpod-kept", support::CU128_IMAGE))
        .await;
    let kept = kept["id"].as_str().unwrap_or_default().to_owned();
    emu.profile("pod-key-refused")
        .unwrap_or_else(|e| panic!("{e}"));
    let scoped = api.with_key(&emu.pod_key(&kept));
    assert_eq!(scoped.get(&format!("/pods/{kept}")).await.0, 401);
    assert!(emu.vanish_pod(&kept, VanishCause::Balance));
    let fine = support::pod("trainpod-late", support::CU128_IMAGE);
    assert_eq!(api.json(Method::Post, "/pods", Some(&fine)).await.0, 402);
    emu.faults(|f| {
        *f = trainpod_emulator::Faults::default();
        f.quota_per_minute = Some(1);
    });
    emu.advance(60);
    assert_eq!(api.get("/pods").await.0, 200);
    assert_eq!(api.get("/pods").await.0, 429);

    check_all(
        &emu.requests(),
        &[200, 201, 400, 401, 402, 404, 422, 429, 500],
    );
}

/// Every cluster operation, its refusals (422 from the schema, 400 from the handler and for
/// capacity, 403 for a pod key, 404, the 409 of a member changed through the pod endpoints), the
/// member pods with their `cluster` block, `includeClusterPods`, billing, and a member that
/// never starts, as raw exchanges.
#[tokio::test]
async fn the_cluster_operations_match_the_v2_spec() {
    use serde_json::json;
    use trainpod::runpod::Method;

    let emu = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let api = support::Api::new(&emu);
    let body = |kind: &str, pods: u32| {
        json!({"name": "trainpod-c.1", "type": kind, "image": support::CU128_IMAGE,
            "args": "", "disk": 20, "env": {"A": "1"}, "ports": ["22/tcp"],
            "dataCenterIds": ["US-TX-3"], "startSsh": false, "startJupyter": false,
            "mounts": {"persistent": {"size": 20, "path": "/workspace"}},
            "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 2, "podCount": pods}})
    };
    emu.faults(|f| f.cluster_stuck_rank = Some(1));
    let (status, created) = api
        .json(Method::Post, "/clusters", Some(&body("TRAINING", 3)))
        .await;
    assert_eq!(status, 201, "{created}");
    emu.faults(|f| f.cluster_stuck_rank = None);
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let (status, _) = api
        .json(Method::Post, "/clusters", Some(&body("SLURM", 2)))
        .await;
    assert_eq!(status, 201);
    emu.advance(5);
    let one = format!("/clusters/{id}");
    let _ = api.get("/clusters").await;
    let _ = api.get(&one).await;
    let (_, members) = api.get(&format!("{one}/pods")).await;
    let member = members["pods"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _ = api.get("/pods?includeClusterPods=true").await;
    let _ = api.get(&format!("/pods/{member}")).await;
    let rename = json!({"name": "trainpod-c.1-renamed"});
    let _ = api.json(Method::Patch, &one, Some(&rename)).await;
    let _ = api.json(Method::Patch, &one, Some(&json!({}))).await; // 422
    // A member is not changed through the pod endpoints: 409.
    let pod = format!("/pods/{member}");
    let _ = api.json(Method::Patch, &pod, Some(&rename)).await;
    let _ = api.json(Method::Delete, &pod, None).await;
    let terminate = json!({"action": "terminate"});
    let _ = api
        .json(Method::Post, &format!("{pod}/action"), Some(&terminate))
        .await;
    let _ = api.get(&format!("/billing/clusters?clusterId={id}")).await;
    let _ = api.get("/billing/clusters").await;
    let _ = api.with_key(&emu.pod_key(&member)).get(&one).await; // 403
    let refused = [
        json!({"name": "c", "type": "TRAINING", "image": "i", "registry": null,
            "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 1, "podCount": 2}}),
        json!({"name": "c", "type": "TRAINING", "image": "i",
            "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 1, "podCount": 1}}),
        json!({"name": "c", "type": "BATCH", "image": "i",
            "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 1, "podCount": 2}}),
        json!({"name": "c", "type": "RAY", "image": "i",
            "compute": {"gpuTypeId": "NVIDIA B999", "gpuCountPerPod": 1, "podCount": 2}}),
        json!({"name": "c", "type": "RAY", "image": "i",
            "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 9, "podCount": 2}}),
    ];
    for b in &refused {
        let (status, _) = api.json(Method::Post, "/clusters", Some(b)).await;
        assert!(matches!(status, 400 | 422), "{b}");
    }
    emu.faults(|f| f.cluster_capacity = Some(2));
    let (status, _) = api
        .json(Method::Post, "/clusters", Some(&body("APPLICATION", 3)))
        .await;
    assert_eq!(status, 400);
    assert_eq!(api.json(Method::Delete, &one, None).await.0, 204);
    let _ = api.get(&one).await; // 404
    let _ = api.get(&format!("{one}/pods")).await; // 404
    let _ = api.json(Method::Delete, &one, None).await; // 404

    let requests = emu.requests();
    let contract = check_all(&requests, &[200, 201, 204, 400, 403, 404, 409, 422]);
    let seen: Vec<String> = requests
        .iter()
        .map(|r| {
            let path = r.uri.split_once('?').map_or(r.uri.as_str(), |(p, _)| p);
            format!("{} {} {}", r.method, contract.template(path), r.status)
        })
        .collect();
    for op in [
        "GET /v2/clusters 200",
        "POST /v2/clusters 201",
        "GET /v2/clusters/{id} 200",
        "PATCH /v2/clusters/{id} 200",
        "DELETE /v2/clusters/{id} 204",
        "GET /v2/clusters/{id}/pods 200",
        "GET /v2/billing/clusters 200",
        "PATCH /v2/pods/{id} 409",
        "DELETE /v2/pods/{id} 409",
        "POST /v2/pods/{id}/action 409",
    ] {
        assert!(seen.iter().any(|s| s == op), "the scenario never had {op}");
    }
}
