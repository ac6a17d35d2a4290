//! Instant Clusters on the emulator, through raw v2 calls on loopback: create, list, get, rename
//! and delete; the spec's validation and the handler's refusals; member pods hidden from
//! `GET /v2/pods` unless `includeClusterPods=true`, read but never changed through the pod
//! endpoints; a member that vanishes or removes itself with `runpodctl` leaves the cluster with
//! fewer pods; accounts; billing; a member that never starts; and, with the local provider, each
//! member as its own process group with the variables RunPod injects. Every wait on the local
//! provider polls with a timeout.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Api, CU128_IMAGE, WAIT};
use trainpod::runpod::Method;
use trainpod_emulator::{CapacityStyle, Emulator, Options, RunPods, VanishCause};

const A40_PRICE: f64 = 0.40;

async fn start() -> (Emulator, Api) {
    let emu = Emulator::start().await.unwrap();
    let api = Api::new(&emu);
    (emu, api)
}

async fn start_local() -> (Emulator, Api) {
    let emu = Emulator::start_with(Options {
        run_pods: Some(RunPods {
            restart_delay: Duration::from_millis(100),
            stop_grace: Duration::from_secs(1),
            ..RunPods::default()
        }),
        ..Options::default()
    })
    .await
    .unwrap();
    let api = Api::new(&emu);
    (emu, api)
}

/// A create body: `pods` nodes of `gpus` A40s each.
fn cluster(name: &str, pods: u32, gpus: u32, args: &str) -> Value {
    json!({"name": name, "type": "TRAINING", "image": CU128_IMAGE, "args": args,
        "env": {"JOB": "j1"},
        "compute": {"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": gpus, "podCount": pods}})
}

async fn create(api: &Api, body: &Value) -> Value {
    let (status, out) = api.json(Method::Post, "/clusters", Some(body)).await;
    assert_eq!(status, 201, "{out}");
    out
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(id).collect()
}

async fn members(api: &Api, cluster_id: &str) -> Vec<Value> {
    let (status, out) = api.get(&format!("/clusters/{cluster_id}/pods")).await;
    assert_eq!(status, 200, "{out}");
    out["pods"].as_array().unwrap().clone()
}

async fn summary(api: &Api, cluster_id: &str) -> Value {
    let (status, out) = api.get(&format!("/clusters/{cluster_id}")).await;
    assert_eq!(status, 200, "{out}");
    out
}

fn not_found(cluster_id: &str) -> Value {
    json!({"title": "Not Found", "status": 404,
        "detail": format!("cluster {cluster_id} not found")})
}

/// Polls `f` every 20 ms until it gives a value or `WAIT` passes.
async fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls an async check the same way.
async fn until_async<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + WAIT;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A process that exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|st| st != "Z")
        })
        .unwrap_or(false)
}

/// The process group of a live process.
fn pgrp(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// `NAME=VALUE` lines (as `env` prints them) as a map.
fn env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn a_cluster_is_created_listed_renamed_and_deleted_with_its_members() {
    let (emu, api) = start().await;
    let lone = api
        .create(&support::pod("trainpod-lone", CU128_IMAGE))
        .await;
    let mut body = cluster("trainpod-job.1", 3, 2, "");
    body["dataCenterIds"] = json!(["EU-FR-1"]);
    let created = create(&api, &body).await;
    let cid = id(&created);
    assert_eq!(created["name"], "trainpod-job.1");
    assert_eq!(created["type"], "TRAINING");
    assert_eq!(
        created["compute"],
        json!({"gpuTypeId": "NVIDIA A40", "gpuCountPerPod": 2, "podCount": 3})
    );
    assert_eq!(created["dataCenterId"], "EU-FR-1");
    assert_eq!(
        created["pods"],
        json!({"total": 3, "byStatus": {"PROVISIONING": 3}})
    );
    assert_eq!(created["network"], json!({"cidr": "10.65.0.0/16"}));

    // The members, by rank: one data center, the cluster's shape, its container config.
    let pods = members(&api, &cid).await;
    assert_eq!(pods.len(), 3);
    for (rank, p) in pods.iter().enumerate() {
        assert_eq!(
            p["cluster"],
            json!({"id": cid, "rank": rank, "ip": format!("10.65.0.{}", rank + 2)}),
        );
        assert_eq!(p["name"], format!("trainpod-job.1-{rank}"));
        assert_eq!(p["dataCenterId"], "EU-FR-1");
        assert_eq!(p["gpu"], json!({"id": "NVIDIA A40", "count": 2}));
        assert_eq!(p["image"], CU128_IMAGE);
        assert_eq!(p["env"], json!({"JOB": "j1"}));
        assert_eq!(p["actions"], json!([]));
        assert_eq!(p["cloud"], "SECURE");
    }
    let member_ids: Vec<String> = pods.iter().map(id).collect();
    assert_eq!(emu.cluster_members(&cid), Some(member_ids.clone()));
    assert_eq!(
        created["primary"],
        json!({"podId": member_ids[0], "status": "PROVISIONING"})
    );

    // Hidden from the pod list unless asked for; each readable by id.
    let lone = id(&lone);
    for (query, want) in [
        ("", vec![lone.clone()]),
        ("?includeClusterPods=false", vec![lone.clone()]),
        (
            "?includeClusterPods=true",
            [vec![lone.clone()], member_ids.clone()].concat(),
        ),
    ] {
        let (_, list) = api.get(&format!("/pods{query}")).await;
        assert_eq!(ids(&list, "pods"), want, "{query}");
    }
    let (status, one) = api.get(&format!("/pods/{}", member_ids[2])).await;
    assert_eq!((status, one["cluster"]["rank"].as_u64()), (200, Some(2)));

    // The members move together; the summary counts them by status.
    emu.advance(5);
    let now = summary(&api, &cid).await;
    assert_eq!(now["pods"], json!({"total": 3, "byStatus": {"RUNNING": 3}}));
    assert_eq!(now["primary"]["status"], "RUNNING");
    let (_, list) = api.get("/clusters").await;
    assert_eq!(ids(&list, "clusters"), vec![cid.clone()]);

    // What RunPod sets on each member.
    let env: HashMap<String, String> = emu
        .cluster_env(&member_ids[1])
        .unwrap()
        .into_iter()
        .collect();
    let port = env["PRIMARY_PORT"].clone();
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{port}");
    for (name, want) in [
        ("PRIMARY_ADDR", "10.65.0.2".to_owned()),
        ("MASTER_ADDR", "10.65.0.2".to_owned()),
        ("MASTER_PORT", port.clone()),
        ("NODE_ADDR", "10.65.0.3".to_owned()),
        ("NODE_RANK", "1".to_owned()),
        ("NUM_NODES", "3".to_owned()),
        ("NUM_TRAINERS", "2".to_owned()),
        ("WORLD_SIZE", "6".to_owned()),
        ("HOST_NODE_ADDR", format!("10.65.0.2:{port}")),
    ] {
        assert_eq!(env.get(name), Some(&want), "{name}");
    }
    assert_eq!(emu.cluster_env(&lone), None);

    // A rename changes the cluster's name only.
    let (status, renamed) = api
        .json(
            Method::Patch,
            &format!("/clusters/{cid}"),
            Some(&json!({"name": "trainpod-job.1-renamed"})),
        )
        .await;
    assert_eq!(
        (status, &renamed["name"]),
        (200, &json!("trainpod-job.1-renamed"))
    );
    assert_eq!(members(&api, &cid).await[0]["name"], "trainpod-job.1-0");

    // Delete: 204, every member terminated, the cluster gone from every endpoint.
    let path = format!("/clusters/{cid}");
    assert_eq!(api.json(Method::Delete, &path, None).await.0, 204);
    for m in &member_ids {
        assert_eq!(emu.pod_status(m), Some("TERMINATED"));
        assert_eq!(api.get(&format!("/pods/{m}")).await.0, 404);
    }
    assert_eq!(emu.pod_status(&lone), Some("RUNNING"));
    for (method, p) in [
        (Method::Get, path.clone()),
        (Method::Delete, path.clone()),
        (Method::Get, format!("{path}/pods")),
    ] {
        assert_eq!(
            api.json(method, &p, None).await,
            (404, not_found(&cid)),
            "{p}"
        );
    }
    let (_, list) = api.get("/clusters").await;
    assert_eq!(list, json!({"clusters": []}));
    let (_, list) = api.get("/pods?includeClusterPods=true").await;
    assert_eq!(ids(&list, "pods"), vec![lone]);
}

#[tokio::test]
async fn slurm_and_ray_members_carry_their_roles() {
    let (_emu, api) = start().await;
    for (kind, roles) in [
        ("SLURM", ["SLURM_CONTROLLER", "SLURM_COMPUTE"]),
        ("RAY", ["RAY_HEAD", "RAY_WORKER"]),
    ] {
        let mut body = cluster(kind, 3, 1, "");
        body["type"] = json!(kind);
        let cid = id(&create(&api, &body).await);
        let got: Vec<Value> = members(&api, &cid)
            .await
            .iter()
            .map(|p| p["cluster"]["role"].clone())
            .collect();
        assert_eq!(got, vec![json!(roles[0]), json!(roles[1]), json!(roles[1])]);
    }
    let cid = id(&create(&api, &cluster("app", 2, 1, "")).await);
    assert!(
        members(&api, &cid).await[0]["cluster"]
            .get("role")
            .is_none()
    );
}

#[tokio::test]
async fn a_create_is_refused_as_the_spec_and_the_handler_say_and_creates_nothing() {
    let (emu, api) = start().await;
    let ok = cluster("c", 2, 1, "");
    let with = |key: &str, v: Value| {
        let mut b = ok.clone();
        b[key] = v;
        b
    };
    let compute = |gpu: &str, per_pod: u32, pods: u32| json!({"gpuTypeId": gpu, "gpuCountPerPod": per_pod, "podCount": pods});
    let mut no_image = ok.clone();
    no_image.as_object_mut().unwrap().remove("image");
    let cases = [
        // The schema (422).
        (
            with("registry", json!("reg-1")),
            422,
            "additional properties 'registry'",
        ),
        (
            with("cloud", json!("SECURE")),
            422,
            "additional properties 'cloud'",
        ),
        (
            with("gpu", json!({"id": "NVIDIA A40"})),
            422,
            "additional properties 'gpu'",
        ),
        (with("type", json!("BATCH")), 422, "$.type"),
        (with("name", json!("")), 422, "$.name"),
        (with("env", json!({"A": 1})), 422, "$.env"),
        (
            with("compute", compute("NVIDIA A40", 1, 1)),
            422,
            "$.compute.podCount",
        ),
        (
            with("compute", compute("NVIDIA A40", 1, 251)),
            422,
            "$.compute.podCount",
        ),
        (
            with("compute", compute("NVIDIA A40", 0, 2)),
            422,
            "$.compute.gpuCountPerPod",
        ),
        (
            with("compute", json!({"gpuTypeId": "NVIDIA A40", "podCount": 2})),
            422,
            "gpuCountPerPod",
        ),
        (
            json!({"name": "c", "type": "TRAINING", "image": "i"}),
            422,
            "'compute'",
        ),
        // The handler (400).
        (
            with("compute", compute("NVIDIA B999", 1, 2)),
            400,
            "unknown GPU type NVIDIA B999",
        ),
        (
            with("compute", compute("NVIDIA A40", 9, 2)),
            400,
            "gpuCountPerPod must be at most 8",
        ),
        (no_image, 400, "image is required"),
        (
            with("dataCenterIds", json!(["XX-1"])),
            400,
            "unknown data center XX-1",
        ),
        (
            with(
                "mounts",
                json!({"persistent": {"size": 10, "path": "/w"},
                "network": [{"volumeId": "v", "path": "/n"}]}),
            ),
            400,
            "mutually exclusive",
        ),
    ];
    for (body, status, detail) in &cases {
        let (got, out) = api.json(Method::Post, "/clusters", Some(body)).await;
        assert_eq!(got, *status, "{body}: {out}");
        assert!(out["detail"].as_str().unwrap().contains(detail), "{out}");
    }
    assert_eq!((emu.cluster_count(), emu.pod_count()), (0, 0));

    // Capacity, in each wording, and for the whole cluster.
    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA A40".into());
    });
    let (status, out) = api.json(Method::Post, "/clusters", Some(&ok)).await;
    assert_eq!(status, 400);
    assert!(
        out["detail"]
            .as_str()
            .unwrap()
            .starts_with("There are no longer any instances")
    );
    emu.faults(|f| f.capacity_style = CapacityStyle::Machine);
    assert_eq!(api.json(Method::Post, "/clusters", Some(&ok)).await.0, 500);
    emu.faults(|f| *f = trainpod_emulator::Faults::default());
    emu.faults(|f| f.cluster_capacity = Some(2));
    let three = cluster("c3", 3, 1, "");
    assert_eq!(
        api.json(Method::Post, "/clusters", Some(&three)).await.0,
        400
    );
    assert_eq!((emu.cluster_count(), emu.pod_count()), (0, 0));
    create(&api, &ok).await;
    assert_eq!((emu.cluster_count(), emu.pod_count()), (1, 2));
    emu.faults(|f| f.zero_balance = true);
    let (status, out) = api.json(Method::Post, "/clusters", Some(&ok)).await;
    assert_eq!(status, 402, "{out}");

    // A rename is a rename only.
    emu.faults(|f| f.zero_balance = false);
    let cid = id(&create(&api, &ok).await);
    let path = format!("/clusters/{cid}");
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": "n", "type": "RAY"}),
    ] {
        assert_eq!(
            api.json(Method::Patch, &path, Some(&body)).await.0,
            422,
            "{body}"
        );
    }
    assert_eq!(summary(&api, &cid).await["name"], "c");
}

#[tokio::test]
async fn member_pods_are_read_but_never_changed_through_the_pod_endpoints() {
    let (emu, api) = start().await;
    let cid = id(&create(&api, &cluster("c", 2, 1, "")).await);
    emu.advance(5);
    let member = emu.cluster_members(&cid).unwrap()[1].clone();
    let one = format!("/pods/{member}");
    let action = format!("{one}/action");
    for (method, path, body) in [
        (Method::Patch, &one, Some(json!({"name": "mine"}))),
        (Method::Delete, &one, None),
        (Method::Post, &action, Some(json!({"action": "terminate"}))),
        (Method::Post, &action, Some(json!({"action": "stop"}))),
        (Method::Post, &action, Some(json!({"action": "restart"}))),
    ] {
        let (status, out) = api.json(method, path, body.as_ref()).await;
        assert_eq!(status, 409, "{path} {body:?}: {out}");
        let detail = out["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("belongs to cluster {cid}")),
            "{detail}"
        );
    }
    assert_eq!(emu.pod_status(&member), Some("RUNNING"));
    assert_eq!(summary(&api, &cid).await["pods"]["total"], 2);

    // The member's own key reads its pod, not the cluster.
    let scoped = api.with_key(&emu.pod_key(&member));
    assert_eq!(scoped.get(&one).await.0, 200);
    assert_eq!(scoped.json(Method::Delete, &one, None).await.0, 409);
    for (method, path) in [
        (Method::Get, "/clusters".to_owned()),
        (Method::Get, format!("/clusters/{cid}")),
        (Method::Delete, format!("/clusters/{cid}")),
        (Method::Get, format!("/clusters/{cid}/pods")),
        (Method::Get, "/billing/clusters".to_owned()),
    ] {
        assert_eq!(scoped.json(method, &path, None).await.0, 403, "{path}");
    }
    let (status, _) = scoped
        .json(Method::Post, "/clusters", Some(&cluster("c", 2, 1, "")))
        .await;
    assert_eq!((status, emu.cluster_count()), (403, 1));
}

#[tokio::test]
async fn members_that_vanish_or_remove_themselves_leave_the_cluster_with_fewer_pods() {
    let (emu, api) = start().await;
    let cid = id(&create(&api, &cluster("c", 4, 1, "")).await);
    emu.advance(5);
    let m = emu.cluster_members(&cid).unwrap();

    assert!(emu.vanish_pod(&m[1], VanishCause::Host));
    let now = summary(&api, &cid).await;
    assert_eq!(now["pods"], json!({"total": 3, "byStatus": {"RUNNING": 3}}));
    assert_eq!(api.get(&format!("/pods/{}", m[1])).await.0, 404);

    // A worker removes itself as the docs show, with runpodctl and its own key.
    let (status, text) = api
        .with_key(&emu.pod_key(&m[3]))
        .runpodctl(&["remove", "pod", &m[3]])
        .await;
    assert_eq!(status, 200, "{text}");
    let now = summary(&api, &cid).await;
    assert_eq!(now["pods"]["total"], 2);
    assert_eq!(now["compute"]["podCount"], 4, "the shape stays as created");

    // The primary is rank 0 while it is there; RunPod elects no other.
    let (status, _) = api
        .control(
            Method::Post,
            &format!("pods/{}/vanish", m[0]),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let now = summary(&api, &cid).await;
    assert_eq!(now["pods"], json!({"total": 1, "byStatus": {"RUNNING": 1}}));
    assert!(now.get("primary").is_none(), "{now}");
    let left: Vec<String> = members(&api, &cid).await.iter().map(id).collect();
    assert_eq!(left, vec![m[2].clone()]);
    let (_, record) = api
        .control(Method::Get, &format!("clusters/{cid}"), None)
        .await;
    assert_eq!(record["pods"], json!(m));
    assert_eq!(record["deleted"], false);
}

#[tokio::test]
async fn clusters_belong_to_the_account_that_created_them() {
    let (emu, api) = start().await;
    let alice = api.with_key(&emu.add_account("alice").unwrap());
    let cid = id(&create(&api, &cluster("mine", 2, 1, "")).await);
    let hers = id(&create(&alice, &cluster("hers", 2, 1, "")).await);
    assert_eq!(emu.cluster_account(&hers).as_deref(), Some("alice"));
    emu.advance(10);

    let path = format!("/clusters/{cid}");
    let rename = json!({"name": "taken"});
    for (method, p, body) in [
        (Method::Get, path.clone(), None),
        (Method::Patch, path.clone(), Some(&rename)),
        (Method::Delete, path.clone(), None),
        (Method::Get, format!("{path}/pods"), None),
    ] {
        assert_eq!(
            alice.json(method, &p, body).await,
            (404, not_found(&cid)),
            "{p}"
        );
    }
    let (_, list) = alice.get("/clusters").await;
    assert_eq!(ids(&list, "clusters"), vec![hers.clone()]);
    let (_, list) = api.get("/clusters").await;
    assert_eq!(ids(&list, "clusters"), vec![cid.clone()]);
    let (_, pods) = alice.get("/pods?includeClusterPods=true").await;
    assert_eq!(ids(&pods, "pods"), emu.cluster_members(&hers).unwrap());
    let member = &emu.cluster_members(&cid).unwrap()[0];
    assert_eq!(alice.get(&format!("/pods/{member}")).await.0, 404);
    let (_, bill) = alice
        .get(&format!("/billing/clusters?clusterId={cid}"))
        .await;
    assert_eq!(bill["records"], json!([]));
    let (_, bill) = alice.get("/billing/clusters").await;
    assert_eq!(bill["records"][0]["clusterId"], json!(hers));
    assert_eq!(bill["metadata"]["uniqueClusterCount"], 1);
    assert_eq!(summary(&api, &cid).await["name"], "mine");
}

#[tokio::test]
async fn a_cluster_bills_its_members_time_and_the_pod_bill_leaves_them_out() {
    let (emu, api) = start().await;
    let cid = id(&create(&api, &cluster("c", 3, 2, "")).await);
    let lone = id(&api.create(&support::pod("lone", CU128_IMAGE)).await);
    let m = emu.cluster_members(&cid).unwrap();
    let amount = |node_secs: f64| node_secs * 2.0 * A40_PRICE / 3600.0;
    let billed = |bill: &Value| bill["records"][0]["totalAmount"].as_f64().unwrap();

    emu.advance(100);
    let path = format!("/billing/clusters?clusterId={cid}");
    let (status, bill) = api.get(&path).await;
    assert_eq!(status, 200);
    assert!((billed(&bill) - amount(300.0)).abs() < 1e-9, "{bill}");
    assert_eq!(
        bill["records"][0]["gpuAmount"],
        bill["records"][0]["totalAmount"]
    );
    assert_eq!(bill["metadata"]["query"]["clusterId"], json!(cid));
    assert_eq!(
        bill["metadata"]["totals"]["totalAmount"],
        bill["records"][0]["totalAmount"]
    );

    // A member that went stops billing then; the others go on.
    assert!(emu.vanish_pod(&m[2], VanishCause::Console));
    emu.advance(100);
    let (_, bill) = api.get(&path).await;
    assert!((billed(&bill) - amount(500.0)).abs() < 1e-9, "{bill}");

    // Deleted: the bill stays, and stops growing.
    let (status, _) = api
        .json(Method::Delete, &format!("/clusters/{cid}"), None)
        .await;
    assert_eq!(status, 204);
    emu.advance(100);
    let (_, bill) = api.get(&path).await;
    assert!((billed(&bill) - amount(500.0)).abs() < 1e-9, "{bill}");

    // Members are a cluster cost, not a pod cost.
    let (_, pods) = api.get("/billing/pods").await;
    let billed_pods: Vec<&str> = pods["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["podId"].as_str().unwrap())
        .collect();
    assert_eq!(billed_pods, vec![lone.as_str()]);
    let (_, one) = api.get(&format!("/billing/pods?podId={}", m[0])).await;
    assert_eq!(one["records"], json!([]));
}

#[tokio::test]
async fn a_member_that_never_starts_stays_provisioning_and_bills() {
    let (emu, api) = start().await;
    emu.faults(|f| f.cluster_stuck_rank = Some(1));
    let cid = id(&create(&api, &cluster("c", 3, 1, "")).await);
    emu.faults(|f| f.cluster_stuck_rank = None);
    let later = id(&create(&api, &cluster("later", 2, 1, "")).await);
    emu.advance(60);
    let m = emu.cluster_members(&cid).unwrap();
    assert_eq!(
        summary(&api, &cid).await["pods"],
        json!({"total": 3, "byStatus": {"PROVISIONING": 1, "RUNNING": 2}})
    );
    let (_, stuck) = api.get(&format!("/pods/{}", m[1])).await;
    assert_eq!(
        (&stuck["status"], &stuck["runtime"]),
        (&json!("PROVISIONING"), &Value::Null)
    );
    assert_eq!(emu.container_running(&m[1]), Some(false));
    assert_eq!(emu.container_running(&m[0]), Some(true));
    let (_, record) = api
        .control(Method::Get, &format!("pods/{}", m[1]), None)
        .await;
    assert_eq!(record["stuckProvisioning"], true);
    assert_eq!(record["cluster"], json!({"id": cid, "rank": 1}));
    let (_, bill) = api.get(&format!("/billing/clusters?clusterId={cid}")).await;
    let expect = 3.0 * 60.0 * A40_PRICE / 3600.0;
    assert!((bill["records"][0]["totalAmount"].as_f64().unwrap() - expect).abs() < 1e-9);
    assert_eq!(
        summary(&api, &later).await["pods"]["byStatus"],
        json!({"RUNNING": 2})
    );

    // The profile holds rank 1.
    emu.profile("cluster-node-stuck").unwrap();
    let held = id(&create(&api, &cluster("held", 2, 1, "")).await);
    emu.advance(10);
    let held = emu.cluster_members(&held).unwrap();
    assert_eq!(emu.pod_status(&held[1]), Some("PROVISIONING"));
    assert_eq!(emu.pod_status(&held[0]), Some("RUNNING"));
}

#[tokio::test]
async fn local_members_run_as_their_own_process_groups_with_the_cluster_env() {
    let (emu, api) = start_local().await;
    let cid = id(&create(
        &api,
        &cluster("c", 2, 1, "sh -c 'env > node.env; exec sleep 600'"),
    )
    .await);
    let created = summary(&api, &cid).await;
    assert_eq!(created["network"], json!({"cidr": "127.0.0.0/8"}));
    let m = emu.cluster_members(&cid).unwrap();
    let mut envs = Vec::new();
    for pod in &m {
        let local = emu.local_pod(pod).unwrap();
        let file = local.workspace.join("node.env");
        let text = until("the member's env file", || {
            std::fs::read_to_string(&file)
                .ok()
                .filter(|t| t.contains("WORLD_SIZE="))
        })
        .await;
        envs.push(env_file(&text));
    }
    let port = envs[0]["PRIMARY_PORT"].clone();
    for (rank, env) in envs.iter().enumerate() {
        let want = [
            ("NODE_RANK", rank.to_string()),
            ("PRIMARY_ADDR", "127.0.0.1".to_owned()),
            ("MASTER_ADDR", "127.0.0.1".to_owned()),
            ("NODE_ADDR", "127.0.0.1".to_owned()),
            ("PRIMARY_PORT", port.clone()),
            ("MASTER_PORT", port.clone()),
            ("HOST_NODE_ADDR", format!("127.0.0.1:{port}")),
            ("NUM_NODES", "2".to_owned()),
            ("NUM_TRAINERS", "1".to_owned()),
            ("WORLD_SIZE", "2".to_owned()),
            ("RUNPOD_POD_ID", m[rank].clone()),
            ("JOB", "j1".to_owned()),
        ];
        for (name, value) in want {
            assert_eq!(env.get(name), Some(&value), "rank {rank}: {name}");
        }
        assert!(env.get("RUNPOD_API_KEY").is_some_and(|k| !k.is_empty()));
    }
    let (_, record) = api
        .control(Method::Get, &format!("clusters/{cid}"), None)
        .await;
    assert_eq!(record["env"]["PRIMARY_PORT"], json!(port));

    // Each member is a process group of its own, in a workspace of its own.
    let (a, b) = (emu.local_pod(&m[0]).unwrap(), emu.local_pod(&m[1]).unwrap());
    assert_ne!(a.workspace, b.workspace);
    let pids = [a.pid.unwrap(), b.pid.unwrap()];
    assert_ne!(pids[0], pids[1]);
    for pid in pids {
        assert_eq!(pgrp(pid), Some(pid), "each member leads its own group");
    }

    // Deleting the cluster ends every member's processes.
    let path = format!("/clusters/{cid}");
    assert_eq!(api.json(Method::Delete, &path, None).await.0, 204);
    until("every member's processes to end", || {
        pids.iter().all(|p| !alive(*p)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_local_worker_removes_itself_and_a_killed_member_restarts_or_vanishes() {
    let (emu, api) = start_local().await;
    let args = r#"sh -c 'if [ "$NODE_RANK" = 1 ]; then runpodctl remove pod "$RUNPOD_POD_ID"; fi; exec sleep 600'"#;
    let cid = id(&create(&api, &cluster("c", 3, 1, args)).await);
    let m = emu.cluster_members(&cid).unwrap();

    // Rank 1 removed itself through the pods' runpodctl, with its own key.
    until("rank 1 to remove itself", || {
        (emu.pod_status(&m[1]) == Some("TERMINATED")).then_some(())
    })
    .await;
    let calls = emu.runpodctl_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        (calls[0].caller.as_deref(), calls[0].exit_code),
        (Some(m[1].as_str()), 0)
    );
    let (a, c) = (&api, cid.as_str());
    until_async("the cluster to count two pods", move || async move {
        summary(a, c).await["pods"]["total"] == 2
    })
    .await;

    // REST v2 refuses the same for rank 0, with its own key.
    let scoped = api.with_key(&emu.pod_key(&m[0]));
    let terminate = json!({"action": "terminate"});
    let action = format!("/pods/{}/action", m[0]);
    assert_eq!(
        scoped.json(Method::Post, &action, Some(&terminate)).await.0,
        409
    );

    // A member whose main process is killed is restarted, as any pod.
    let pid = until("rank 2's container", || emu.local_pod(&m[2]).unwrap().pid).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    until("rank 2 to restart", || {
        let local = emu.local_pod(&m[2]).unwrap();
        (local.restarts >= 1 && local.pid.is_some_and(|p| p != pid)).then_some(())
    })
    .await;

    // One that vanishes is gone with its processes.
    let pid = until("rank 2's new container", || {
        emu.local_pod(&m[2]).unwrap().pid
    })
    .await;
    let (status, _) = api
        .control(
            Method::Post,
            &format!("pods/{}/vanish", m[2]),
            Some(&json!({"cause": "host"})),
        )
        .await;
    assert_eq!(status, 200);
    until("rank 2's processes to end", || (!alive(pid)).then_some(())).await;
    assert_eq!(summary(&api, &cid).await["pods"]["total"], 1);
}

#[tokio::test]
async fn a_local_member_that_never_starts_runs_nothing() {
    let (emu, api) = start_local().await;
    emu.faults(|f| f.cluster_stuck_rank = Some(1));
    let cid = id(&create(
        &api,
        &cluster("c", 2, 1, "sh -c 'env > node.env; exec sleep 600'"),
    )
    .await);
    let m = emu.cluster_members(&cid).unwrap();
    let primary = emu.local_pod(&m[0]).unwrap().workspace.join("node.env");
    until("the primary to start", || primary.exists().then_some(())).await;
    until("the primary to read RUNNING", || {
        (emu.pod_status(&m[0]) == Some("RUNNING")).then_some(())
    })
    .await;
    let stuck = emu.local_pod(&m[1]).unwrap();
    assert_eq!(emu.pod_status(&m[1]), Some("PROVISIONING"));
    assert_eq!(stuck.pid, None);
    assert!(!stuck.workspace.join("node.env").exists());
    assert_eq!(
        summary(&api, &cid).await["pods"]["byStatus"],
        json!({"PROVISIONING": 1, "RUNNING": 1})
    );
}
