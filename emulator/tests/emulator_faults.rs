//! How the emulator fails as RunPod does, each fault on the manual clock, through raw v2 calls:
//! pods that vanish (console, host, a $0 balance), hosts whose CUDA is below the image's, image
//! pull backoff, RUNNING with no container, capacity refusals in each wording, the create body as
//! strict as the spec, the RateLimit headers and quota, log streams that drop, pod keys refused,
//! and the named profiles.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::{Api, CU128_IMAGE, events, header, pod, system_lines};
use trainpod::runpod::Method;
use trainpod_emulator::{CapacityStyle, Emulator, PullBackoff, VanishAfter, VanishCause};

async fn start() -> (Emulator, Api) {
    let emu = Emulator::start().await.unwrap();
    let api = Api::new(&emu);
    (emu, api)
}

fn id(pod: &Value) -> String {
    pod["id"].as_str().unwrap().to_owned()
}

/// The billed amount of a pod.
async fn billed(api: &Api, pod_id: &str) -> f64 {
    let (status, bill) = api.get(&format!("/billing/pods?podId={pod_id}")).await;
    assert_eq!(status, 200, "{bill}");
    assert_eq!(bill["records"].as_array().map(Vec::len), Some(1), "{bill}");
    bill["records"][0]["totalAmount"].as_f64().unwrap()
}

/// An A40 on secure cloud: $0.40 an hour.
fn a40_secs(secs: f64) -> f64 {
    0.40 * secs / 3600.0
}

/// Every v2 operation on a gone pod answers 404.
async fn assert_gone(api: &Api, pod_id: &str) {
    let (_, list) = api.get("/pods").await;
    assert!(
        list["pods"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != pod_id),
        "still listed: {list}"
    );
    let path = format!("/pods/{pod_id}");
    let action = json!({"action": "start"});
    let patch = json!({"name": "trainpod-x"});
    for (method, path, body) in [
        (Method::Get, path.clone(), None),
        (Method::Patch, path.clone(), Some(&patch)),
        (Method::Delete, path.clone(), None),
        (Method::Post, format!("{path}/action"), Some(&action)),
        (Method::Get, format!("{path}/logs"), None),
    ] {
        let (status, body) = api.json(method, &path, body).await;
        assert_eq!(status, 404, "{method:?} {path}: {body}");
    }
}

#[tokio::test]
async fn a_pod_deleted_in_the_console_is_gone_and_its_billing_stays() {
    let (emu, api) = start().await;
    let p = id(&api.create(&pod("trainpod-v1", CU128_IMAGE)).await);
    emu.advance(10);
    assert!(emu.vanish_pod(&p, VanishCause::Console));
    assert!(!emu.vanish_pod(&p, VanishCause::Console), "already gone");
    assert_eq!(emu.pod_vanished(&p), Some(VanishCause::Console));
    assert_gone(&api, &p).await;
    assert!((billed(&api, &p).await - a40_secs(10.0)).abs() < 1e-12);
    emu.advance(100);
    assert!(
        (billed(&api, &p).await - a40_secs(10.0)).abs() < 1e-12,
        "billing stopped when it vanished"
    );
    let (status, record) = api.control(Method::Get, &format!("pods/{p}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(record["vanished"], "console");
    assert_eq!(record["containerRunning"], false);
}

#[tokio::test]
async fn the_vanish_fault_removes_each_pod_its_seconds_after_its_create() {
    let (emu, api) = start().await;
    emu.faults(|f| {
        f.vanish = Some(VanishAfter {
            after_secs: 5,
            cause: VanishCause::Host,
        });
    });
    let a = id(&api.create(&pod("trainpod-a", CU128_IMAGE)).await);
    emu.advance(2);
    let b = id(&api.create(&pod("trainpod-b", CU128_IMAGE)).await);
    emu.faults(|f| f.vanish = None);
    let c = id(&api.create(&pod("trainpod-c", CU128_IMAGE)).await);
    emu.advance(3);
    assert_eq!(emu.pod_vanished(&a), Some(VanishCause::Host));
    assert_gone(&api, &a).await;
    assert_eq!(api.get(&format!("/pods/{b}")).await.0, 200);
    emu.advance(2);
    assert_gone(&api, &b).await;
    assert!((billed(&api, &a).await - a40_secs(5.0)).abs() < 1e-12);
    assert!((billed(&api, &b).await - a40_secs(5.0)).abs() < 1e-12);
    emu.advance(600);
    assert_eq!(api.get(&format!("/pods/{c}")).await.1["status"], "RUNNING");
}

#[tokio::test]
async fn a_zero_balance_terminates_pods_without_a_volume_and_stops_the_others() {
    let (emu, api) = start().await;
    assert!(emu.add_network_volume("vol-1", "EU-RO-1"));
    let plain = id(&api.create(&pod("trainpod-plain", CU128_IMAGE)).await);
    let mut with_volume = pod("trainpod-vol", CU128_IMAGE);
    with_volume["mounts"] = json!({"network": [{"volumeId": "vol-1", "path": "/workspace"}]});
    let kept = id(&api.create(&with_volume).await);
    emu.advance(3);
    let (status, _) = api
        .control(
            Method::Post,
            &format!("pods/{plain}/vanish"),
            Some(&json!({"cause": "balance"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_gone(&api, &plain).await;
    let (_, vol) = api.get(&format!("/pods/{kept}")).await;
    assert_eq!(
        (vol["status"].as_str(), vol["cost"].as_f64()),
        (Some("EXITED"), Some(0.0))
    );
    let (status, refused) = api
        .json(
            Method::Post,
            "/pods",
            Some(&pod("trainpod-new", CU128_IMAGE)),
        )
        .await;
    assert_eq!(status, 402, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("insufficient balance")
    );
    assert_eq!(emu.pod_count(), 2, "a refused create creates nothing");
    api.control(Method::Post, "faults", Some(&json!({"reset": true})))
        .await;
    api.create(&pod("trainpod-new", CU128_IMAGE)).await;
}

#[tokio::test]
async fn placement_follows_the_cuda_constraint_and_the_old_hosts_fault() {
    let (emu, api) = start().await;
    let cuda = async |gpu: Value| {
        let body = json!({"name": "trainpod-c", "image": "img", "gpu": gpu});
        let (status, out) = api.json(Method::Post, "/pods", Some(&body)).await;
        (status, out["cudaVersion"].as_str().map(str::to_owned), out)
    };
    let a40 = |extra: Value| {
        let mut gpu = json!({"id": "NVIDIA A40"});
        gpu.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        gpu
    };
    assert_eq!(cuda(a40(json!({}))).await.1.as_deref(), Some("12.8"));
    emu.faults(|f| f.old_cuda_hosts = true);
    assert_eq!(cuda(a40(json!({}))).await.1.as_deref(), Some("12.4"));
    let floor = cuda(a40(json!({"minCudaVersion": "12.6"}))).await;
    assert_eq!(floor.1.as_deref(), Some("12.8"));
    let exact = cuda(a40(json!({"allowedCudaVersions": ["12.4"]}))).await;
    assert_eq!(exact.1.as_deref(), Some("12.4"));
    let empty_list_and_floor = a40(json!({"allowedCudaVersions": [], "minCudaVersion": "12.5"}));
    assert_eq!(cuda(empty_list_and_floor).await.1.as_deref(), Some("12.8"));
    let (status, _, out) = cuda(a40(json!({"allowedCudaVersions": ["12.6"]}))).await;
    assert_eq!(status, 400);
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("no longer any instances")
    );
    assert_eq!(cuda(a40(json!({"minCudaVersion": "13.0"}))).await.0, 400);
    assert_eq!(cuda(a40(json!({"minCudaVersion": "12"}))).await.0, 422);
    assert_eq!(
        cuda(a40(json!({"allowedCudaVersions": ["12.8.1"]})))
            .await
            .0,
        422
    );
    let both = a40(json!({"allowedCudaVersions": ["12.8"], "minCudaVersion": "12.1"}));
    let (status, _, out) = cuda(both).await;
    assert_eq!(status, 400);
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .contains("mutually exclusive")
    );
}

#[tokio::test]
async fn an_image_above_its_host_cuda_never_starts_and_bills() {
    let (emu, api) = start().await;
    emu.faults(|f| f.old_cuda_hosts = true);
    let p = id(&api.create(&pod("trainpod-cuda", CU128_IMAGE)).await);
    let fine = id(&api
        .create(&pod("trainpod-fine", "runpod/base:0.6.2-ubuntu2204"))
        .await);
    emu.advance(3);
    let (_, got) = api.get(&format!("/pods/{p}")).await;
    assert_eq!(
        (
            got["status"].as_str(),
            got["cudaVersion"].as_str(),
            &got["runtime"]
        ),
        (Some("RUNNING"), Some("12.4"), &Value::Null)
    );
    assert!(!api.get(&format!("/pods/{fine}")).await.1["runtime"].is_null());
    emu.advance(17);
    let refused: Vec<String> = system_lines(&emu, &api, &p)
        .await
        .into_iter()
        .filter(|l| l.contains("nvidia-container-cli: requirement error"))
        .collect();
    assert_eq!(refused.len(), 3, "at create, then every 10 s: {refused:?}");
    assert!(refused[0].contains("unsatisfied condition: cuda>=12.8, please update your driver"));
    assert!(refused[0].starts_with("error starting container:"));
    assert!((billed(&api, &p).await - a40_secs(20.0)).abs() < 1e-12);
    emu.advance(3600);
    assert_eq!(emu.container_running(&p), Some(false));
    assert_eq!(
        api.control(Method::Get, &format!("pods/{p}"), None).await.1["waitingFor"],
        "cuda"
    );
}

#[tokio::test]
async fn a_pull_backoff_holds_the_container_until_its_seconds_pass() {
    let (emu, api) = start().await;
    emu.faults(|f| f.pull_backoff = Some(PullBackoff { secs: Some(30) }));
    let p = id(&api.create(&pod("trainpod-pull", CU128_IMAGE)).await);
    emu.faults(|f| f.pull_backoff = None);
    emu.advance(3);
    let (_, got) = api.get(&format!("/pods/{p}")).await;
    assert_eq!(
        (got["status"].as_str(), &got["runtime"]),
        (Some("RUNNING"), &Value::Null)
    );
    emu.advance(27);
    let lines = system_lines(&emu, &api, &p).await;
    let pulls: Vec<&String> = lines.iter().filter(|l| l.contains("pull")).collect();
    assert_eq!(pulls.len(), 3, "{lines:?}");
    assert!(pulls[0].contains("toomanyrequests: You have reached your pull rate limit"));
    assert!(
        pulls[1..]
            .iter()
            .all(|l| l.starts_with("back-off pulling image"))
    );
    let (_, got) = api.get(&format!("/pods/{p}")).await;
    assert_eq!(
        got["runtime"]["uptime"], 0,
        "the pull succeeded at 30 s: {got}"
    );
    emu.advance(5);
    assert_eq!(
        api.get(&format!("/pods/{p}")).await.1["runtime"]["uptime"],
        5
    );
}

#[tokio::test]
async fn a_stuck_host_reads_running_with_no_container_for_its_seconds() {
    let (emu, api) = start().await;
    let runtime = async |p: &str| api.get(&format!("/pods/{p}")).await.1["runtime"].clone();
    emu.faults(|f| f.no_container_secs = Some(60));
    let p = id(&api.create(&pod("trainpod-stuck", CU128_IMAGE)).await);
    assert!(
        runtime(&p).await.is_null(),
        "PROVISIONING: no container yet"
    );
    emu.advance(59);
    assert_eq!(emu.pod_status(&p), Some("RUNNING"));
    assert!(runtime(&p).await.is_null());
    emu.advance(1);
    assert_eq!(runtime(&p).await["uptime"], 0);
    let stop = json!({"action": "stop"});
    api.json(Method::Post, &format!("/pods/{p}/action"), Some(&stop))
        .await;
    assert!(runtime(&p).await.is_null(), "a stopped pod runs nothing");
}

#[tokio::test]
async fn capacity_refusals_come_in_each_wording_and_create_nothing() {
    let (emu, api) = start().await;
    let create = async || {
        let body = json!({"name": "trainpod-cap", "image": "img",
            "gpu": {"id": "NVIDIA GeForce RTX 4090"}});
        let (status, out) = api.json(Method::Post, "/pods", Some(&body)).await;
        (
            status,
            out["detail"].as_str().unwrap_or_default().to_owned(),
        )
    };
    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA GeForce RTX 4090".into());
    });
    let (status, detail) = create().await;
    assert_eq!(status, 400);
    assert_eq!(
        detail,
        "There are no longer any instances available with the requested specifications"
    );
    emu.faults(|f| f.capacity_style = CapacityStyle::Machine);
    let (status, detail) = create().await;
    assert_eq!(status, 500);
    assert_eq!(
        detail,
        "This machine does not have the resources to deploy your pod. Please try a different \
         machine"
    );
    emu.faults(|f| {
        f.no_capacity.clear();
        f.something_went_wrong = 2;
    });
    for _ in 0..2 {
        let (status, detail) = create().await;
        assert_eq!(status, 500);
        assert_eq!(
            detail,
            "Something went wrong. Please try again later or contact support."
        );
    }
    assert_eq!(emu.pod_count(), 0);
    assert_eq!(
        create().await.0,
        201,
        "transient: the third create succeeds"
    );
}

#[tokio::test]
async fn the_create_body_is_as_strict_as_the_spec() {
    let (emu, api) = start().await;
    let full = json!({"name": "trainpod-full", "image": "img", "args": "", "disk": 20,
        "env": {"A": "1"}, "ports": ["22/tcp", "8888/http"], "registry": null, "cloud": "COMMUNITY",
        "dataCenterIds": ["EU-FR-1"], "globalNetworking": true, "startSsh": true,
        "startJupyter": false, "gpu": {"id": "NVIDIA A40", "count": 2, "allowedCudaVersions": []},
        "mounts": {"persistent": {"size": 10, "path": "/workspace"}}});
    let created = api.create(&full).await;
    assert_eq!(created["globalNetworking"]["enabled"], true);
    let unprocessable = [
        (
            json!({"bogus": 1}),
            "$: additional properties 'bogus' not allowed",
        ),
        (
            json!({"gpu": {"id": "NVIDIA A40", "type": "x"}}),
            "$.gpu: additional properties 'type'",
        ),
        (
            json!({"mounts": {"persistent": {"size": 10, "path": "/w", "x": 1}}}),
            "$.mounts.persistent: additional properties 'x'",
        ),
        (
            json!({"mounts": {"network": [{"volumeId": "v", "path": "/w", "x": 1}]}}),
            "$.mounts.network[0]: additional properties 'x'",
        ),
        (
            json!({"mounts": {"volume": {}}}),
            "$.mounts: additional properties 'volume'",
        ),
        (json!({"disk": "20"}), "$.disk"),
        (json!({"env": {"A": 1}}), "$.env"),
        (
            json!({"gpu": {"id": "NVIDIA A40", "count": 0}}),
            "$.gpu.count",
        ),
        (
            json!({"mounts": {"persistent": {"size": 5, "path": "/w"}}}),
            "$.mounts.persistent.size",
        ),
        (json!({"name": ""}), "$.name"),
        (json!({"startSsh": "yes"}), "$.startSsh"),
        (json!({"ports": [22]}), "$.ports"),
        (json!({"cloud": "SPOT"}), "$.cloud"),
        (
            json!({"cpu": {"id": "cpu3c", "vcpuCount": 1}, "gpu": null}),
            "$.cpu.vcpuCount",
        ),
    ];
    for (change, field) in unprocessable {
        let mut body = pod("trainpod-bad", "img");
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, out) = api.json(Method::Post, "/pods", Some(&body)).await;
        assert_eq!(status, 422, "{body}: {out}");
        assert_eq!(out["title"], "Unprocessable Entity");
        let detail = out["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{detail} should name {field}");
        assert!(out["errors"].as_array().is_some_and(|e| !e.is_empty()));
    }
    let mut no_name = pod("x", "img");
    no_name.as_object_mut().unwrap().remove("name");
    assert_eq!(api.json(Method::Post, "/pods", Some(&no_name)).await.0, 422);
    let rules = [
        json!({"name": "p", "image": "img"}),
        json!({"name": "p", "image": "img", "gpu": {"id": "NVIDIA A40"},
            "cpu": {"id": "cpu3c", "vcpuCount": 2}}),
        json!({"name": "p", "image": "img", "cpu": {"id": "cpu3c", "vcpuCount": 2}}),
        json!({"name": "p", "templateId": "tpl1", "gpu": {"id": "NVIDIA A40"}}),
        json!({"name": "p", "gpu": {"id": "NVIDIA A40"}}),
        json!({"name": "p", "image": "img", "gpu": {"id": "NVIDIA A40"},
            "mounts": {"persistent": {"size": 10, "path": "/w"},
                "network": [{"volumeId": "v", "path": "/w"}]}}),
        json!({"name": "p", "image": "img", "gpu": {"id": "NVIDIA B999"}}),
    ];
    for body in rules {
        let (status, out) = api.json(Method::Post, "/pods", Some(&body)).await;
        assert_eq!(status, 400, "{body}: {out}");
    }
    assert_eq!(emu.pod_count(), 1);
}

#[tokio::test]
async fn every_authenticated_answer_carries_the_rate_limit_headers_and_the_quota_bites() {
    let (emu, api) = start().await;
    emu.faults(|f| f.quota_per_minute = Some(3));
    // The fixed clock starts 20 s into a minute.
    let expect = [
        (200, "/pods", 2),
        (404, "/pods/nope", 1),
        (200, "/catalog/gpus", 0),
    ];
    for (status, path, left) in expect {
        let resp = api.send(Method::Get, path, None).await;
        assert_eq!(resp.status, status);
        let state = header(&resp, "ratelimit").unwrap();
        assert!(
            state.starts_with(&format!("\"minute\";r={left};t=40, \"hour\";r=")),
            "{state}"
        );
        assert!(state.contains(", \"day\";r="), "{state}");
        assert_eq!(
            header(&resp, "ratelimit-policy"),
            Some("\"minute\";q=3;w=60, \"hour\";q=1000000;w=3600, \"day\";q=10000000;w=86400")
        );
    }
    emu.advance(15);
    let refused = api.send(Method::Get, "/pods", None).await;
    assert_eq!(refused.status, 429);
    assert_eq!(header(&refused, "retry-after"), Some("25"));
    assert!(
        header(&refused, "ratelimit")
            .unwrap()
            .starts_with("\"minute\";r=0;t=25")
    );
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["detail"], "rate limit exceeded for the minute window");
    let unauthenticated = api
        .with_key("rpa_unknown")
        .send(Method::Get, "/pods", None)
        .await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(header(&unauthenticated, "ratelimit"), None);
    emu.advance(25);
    assert_eq!(
        api.send(Method::Get, "/pods", None).await.status,
        200,
        "a new minute"
    );
}

#[tokio::test]
async fn log_streams_drop_after_their_events_and_resume_by_id() {
    let (emu, api) = start().await;
    let p = id(&api.create(&pod("trainpod-logs", CU128_IMAGE)).await);
    for n in 1..=4 {
        emu.push_log(&p, &format!("epoch {n}"));
    }
    emu.faults(|f| f.drop_log_streams_after = Some(3));
    let path = format!("/pods/{p}/logs?source=container");
    let (first, cut) = read_until_cut(&api, &path, None).await;
    assert!(cut, "the stream ended cleanly");
    assert_eq!(lines(&first), ["epoch 1", "epoch 2", "epoch 3"]);
    let resume = first.last().map(|(id, _)| id.clone());
    // Resumed: the backfill's last line, then live ones, until the third event.
    let reader = tokio::spawn({
        let api = api.with_key(trainpod_emulator::ACCOUNT_KEY);
        async move { read_until_cut(&api, &path, resume.as_deref()).await }
    });
    wait_for_streams(&emu, 2).await;
    emu.push_log(&p, "epoch 5");
    emu.push_log(&p, "epoch 6");
    emu.push_log(&p, "epoch 7");
    let (second, cut) = reader.await.unwrap();
    assert!(cut);
    assert_eq!(lines(&second), ["epoch 4", "epoch 5", "epoch 6"]);
}

/// Waits until the emulator has answered `n` log requests (the stream is open).
async fn wait_for_streams(emu: &Emulator, n: usize) {
    let end = tokio::time::Instant::now() + support::WAIT;
    while emu
        .requests()
        .iter()
        .filter(|r| r.uri.contains("/logs"))
        .count()
        < n
    {
        assert!(tokio::time::Instant::now() < end, "the stream never opened");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

fn lines(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(_, l)| l.as_str()).collect()
}

/// Reads a log stream until it ends; whether it was cut (an error, not a clean end).
async fn read_until_cut(
    api: &Api,
    path: &str,
    last_event_id: Option<&str>,
) -> (Vec<(String, String)>, bool) {
    let mut stream = api.stream(path, last_event_id).await;
    assert_eq!(stream.status, 200);
    let mut text = String::new();
    let cut = loop {
        match tokio::time::timeout(support::WAIT, stream.body.next_chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None)) => break false,
            Ok(Err(_)) => break true,
            Err(_) => panic!("the stream neither ended nor was cut: {text}"),
        }
    };
    (events(&text), cut)
}

#[tokio::test]
async fn v2_refuses_pod_keys_with_the_fault() {
    let (emu, api) = start().await;
    let p = id(&api.create(&pod("trainpod-key", CU128_IMAGE)).await);
    let scoped = api.with_key(&emu.pod_key(&p));
    assert_eq!(scoped.get(&format!("/pods/{p}")).await.0, 200);
    emu.profile("pod-key-refused").unwrap();
    let resp = scoped.send(Method::Get, &format!("/pods/{p}"), None).await;
    assert_eq!(resp.status, 401);
    assert_eq!(
        header(&resp, "ratelimit"),
        None,
        "not an authenticated request"
    );
    assert_eq!(
        api.get(&format!("/pods/{p}")).await.0,
        200,
        "the account key still works"
    );
}

#[tokio::test]
async fn profiles_apply_by_name_and_an_unknown_one_lists_the_known() {
    let (emu, api) = start().await;
    let (status, out) = api
        .control(
            Method::Post,
            "faults",
            Some(&json!({"profile": "capacity-machine-wording"})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let body = json!({"name": "p", "image": "img", "gpu": {"id": "NVIDIA GeForce RTX 4090"}});
    let (status, out) = api.json(Method::Post, "/pods", Some(&body)).await;
    assert_eq!(status, 500);
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .starts_with("This machine does not have")
    );
    let (status, out) = api
        .control(Method::Post, "faults", Some(&json!({"profile": "meteor"})))
        .await;
    assert_eq!(status, 400);
    let error = out["error"].as_str().unwrap();
    for name in trainpod_emulator::PROFILES {
        assert!(error.contains(name), "{error}");
    }
    assert!(emu.profile("meteor").is_err());
    // A profile then a key: the key wins.
    let (status, _) = api
        .control(
            Method::Post,
            "faults",
            Some(&json!({"reset": true, "profile": "pod-vanishes", "vanish": {"afterSecs": 50}})),
        )
        .await;
    assert_eq!(status, 200);
    let p = id(&api.create(&pod("trainpod-late", CU128_IMAGE)).await);
    emu.advance(49);
    assert_eq!(emu.pod_vanished(&p), None);
    emu.advance(1);
    assert_eq!(emu.pod_vanished(&p), Some(VanishCause::Console));
}

#[tokio::test]
async fn runpodctl_stops_and_removes_with_the_pods_key_or_the_accounts() {
    let (emu, api) = start().await;
    let a = id(&api.create(&pod("trainpod-a", CU128_IMAGE)).await);
    let b = id(&api.create(&pod("trainpod-b", CU128_IMAGE)).await);
    emu.advance(3);
    emu.profile("pod-key-refused").unwrap();
    let own = api.with_key(&emu.pod_key(&a));
    let (status, text) = own.runpodctl(&["pod", "stop", &a]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        text,
        format!("out:{{\"desiredStatus\":\"EXITED\",\"id\":\"{a}\"}}\n")
    );
    assert_eq!(emu.pod_status(&a), Some("EXITED"));
    let logged = system_lines(&emu, &api, &a).await;
    assert!(
        logged.contains(&format!("runpodctl pod stop {a}: stop")),
        "{logged:?}"
    );
    let (status, text) = own.runpodctl(&["pod", "stop", &a]).await;
    assert_eq!(
        (status, text.starts_with("err:Error: failed to stop pod")),
        (400, true)
    );
    let (status, text) = own.runpodctl(&["remove", "pod", &b]).await;
    assert_eq!(
        (status, text.contains("access denied")),
        (400, true),
        "another pod"
    );
    let (status, text) = own.runpodctl(&["remove", "pod", &a]).await;
    assert_eq!(status, 200);
    assert_eq!(
        text,
        format!(
            "out:pod \"{a}\" removed\nerr:warning: 'runpodctl remove pod' is deprecated, use \
             'runpodctl pod delete <id>' instead\n"
        )
    );
    assert_eq!(emu.pod_status(&a), Some("TERMINATED"));
    assert_eq!(
        emu.pod_vanished(&a),
        None,
        "removed by its own runpodctl, not vanished"
    );
    let (status, _) = api.runpodctl(&["pod", "delete", &b]).await;
    assert_eq!(status, 200, "the account key");
    let (status, text) = api
        .with_key("rpa_unknown")
        .runpodctl(&["pod", "rm", &b])
        .await;
    assert_eq!(
        (status, text.as_str()),
        (400, "err:Error: invalid api key\n")
    );
    let (status, text) = api.runpodctl(&["get", "pod"]).await;
    assert_eq!((status, text.contains("unknown command")), (400, true));
    let calls = emu.runpodctl_calls();
    assert_eq!(calls.len(), 7);
    assert_eq!(calls[0].caller.as_deref(), Some(a.as_str()));
    assert_eq!(calls[4].caller, None);
    assert_eq!(
        calls.iter().map(|c| c.exit_code).collect::<Vec<_>>(),
        [0, 1, 1, 0, 0, 1, 1]
    );
    let (_, listed) = api.control(Method::Get, "runpodctl", None).await;
    assert_eq!(listed["calls"][3]["args"], json!(["remove", "pod", a]));
    assert_eq!(listed["calls"][3]["exitCode"], 0);
}
