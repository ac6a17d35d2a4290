//! Contract tests: every request trainpod's client sends and every response the emulator returns,
//! in a scenario that touches every endpoint used and every error path, validated against the
//! RunPod v2 OpenAPI document (`../shared/spec/runpod-rest-v2-openapi.json` beside the repo).
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
use trainpod_emulator::{ACCOUNT_KEY, Emulator, RecordedRequest};

fn spec() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/spec/runpod-rest-v2-openapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (shared/ must sit beside the repo)",
            path.display()
        )
    });
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
    fn validate(&mut self, pointer: &str, instance: &Value, what: &str) {
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
        let v = &self.validators[pointer];
        let errors: Vec<String> = v
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
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
            let body: Value =
                serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("request body: {e}"));
            assert!(
                op.pointer("/requestBody/content/application~1json/schema")
                    .is_some(),
                "{} {template} takes no body",
                r.method
            );
            self.validate(
                &format!("{op_ptr}/requestBody/content/application~1json/schema"),
                &body,
                &format!("request {} {}", r.method, r.uri),
            );
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
        let content = self.doc.pointer(&format!("{resp_ptr}/content")).cloned();
        match content {
            None => assert!(
                r.response.is_empty(),
                "{} {template} {status}: the spec has no body",
                r.method
            ),
            Some(content) => {
                let ct = r.headers.iter().find(|_| false).map(|(_, v)| v.clone());
                let _ = ct;
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
    let mut contract = Contract {
        doc: spec(),
        validators: HashMap::new(),
    };
    let mut checked = 0;
    let mut statuses: Vec<u16> = requests.iter().map(|r| r.status).collect();
    for r in &requests {
        checked += contract.check(r);
    }
    statuses.sort_unstable();
    statuses.dedup();
    for s in [200, 201, 204, 400, 401, 402, 403, 404, 409, 429, 500] {
        assert!(
            statuses.contains(&s),
            "the scenario never produced {s}: {statuses:?}"
        );
    }
    assert!(
        checked >= requests.len(),
        "checked {checked} bodies in {} exchanges",
        requests.len()
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
