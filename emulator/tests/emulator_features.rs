//! The client's list filters, PATCH, catalog filters, log stream, per-data-center fallback and
//! the emulator's real-time clock, over real HTTP; bad input gives typed errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use trainpod::ErrorKind;
use trainpod::clock::CounterRandom;
use trainpod::runpod::{
    Availability, Client, CreatePodRequest, GpuCandidate, GpuCatalogQuery, GpuRequest, LogQuery,
    LogSource, Mounts, PersistentMount, Pod, PodFilter, PodStatus, PodUpdate, ReqwestSender,
    RetryPolicy, Sleeper,
};
use trainpod_emulator::{ACCOUNT_KEY, Emulator, Options};

#[derive(Debug)]
struct NoSleep;

#[async_trait]
impl Sleeper for NoSleep {
    async fn sleep(&self, _: Duration) {}
}

fn client(emu: &Emulator, key: &str) -> Client {
    Client::builder(
        trainpod::runpod::ApiKey::new(key).unwrap_or_else(|e| panic!("{e}")),
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

async fn start() -> (Emulator, Client) {
    let emu = Emulator::start().await.unwrap_or_else(|e| panic!("{e}"));
    let c = client(&emu, ACCOUNT_KEY);
    (emu, c)
}

fn request(name: &str, gpu: &str, dcs: &[&str]) -> CreatePodRequest {
    CreatePodRequest {
        name: name.into(),
        image: "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404".into(),
        gpu: Some(GpuRequest {
            id: gpu.into(),
            count: 1,
            min_cuda_version: None,
        }),
        data_center_ids: dcs.iter().map(|d| (*d).to_owned()).collect(),
        ..CreatePodRequest::default()
    }
}

async fn create(c: &Client, name: &str, gpu: &str, dcs: &[&str]) -> Pod {
    c.create_pod(&request(name, gpu, dcs), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod
}

fn kind<T: std::fmt::Debug>(r: trainpod::Result<T>) -> ErrorKind {
    r.err().unwrap_or_else(|| panic!("succeeded")).kind()
}

#[tokio::test]
async fn list_filters_narrow_the_pods() {
    let (emu, c) = start().await;
    let a = create(&c, "trainpod-a", "NVIDIA A40", &["EU-RO-1"]).await;
    let b = create(&c, "trainpod-b", "NVIDIA GeForce RTX 4090", &["US-TX-3"]).await;
    let other = create(&c, "notebook", "NVIDIA A40", &["US-TX-3"]).await;
    emu.advance(3);
    c.pod_action(&b.id, trainpod::runpod::PodAction::Stop)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ids = |pods: Vec<Pod>| pods.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let list = async |f: PodFilter| {
        ids(c
            .list_pods_filtered(&f)
            .await
            .unwrap_or_else(|e| panic!("{e}")))
    };
    assert_eq!(
        list(PodFilter {
            name_prefix: Some("trainpod-".into()),
            ..PodFilter::default()
        })
        .await,
        vec![a.id.clone(), b.id.clone()]
    );
    assert_eq!(
        list(PodFilter {
            statuses: vec![PodStatus::Running],
            gpu_id: Some("NVIDIA A40".into()),
            ..PodFilter::default()
        })
        .await,
        vec![a.id.clone(), other.id.clone()]
    );
    assert_eq!(
        list(PodFilter {
            data_center_id: Some("US-TX-3".into()),
            statuses: vec![PodStatus::Exited],
            ..PodFilter::default()
        })
        .await,
        vec![b.id.clone()]
    );
    assert_eq!(
        list(PodFilter {
            name: Some("notebook".into()),
            include_cluster_pods: true,
            ..PodFilter::default()
        })
        .await,
        vec![other.id.clone()]
    );
    let last = emu.requests().pop().unwrap_or_else(|| panic!("no request"));
    assert_eq!(last.uri, "/v2/pods?includeClusterPods=true");
    let before = emu.requests().len();
    let bad = PodFilter {
        data_center_id: Some("us tx 3".into()),
        ..PodFilter::default()
    };
    assert_eq!(
        kind(c.list_pods_filtered(&bad).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(emu.requests().len(), before, "bad input cost a round trip");
}

#[tokio::test]
async fn patch_changes_the_pod_and_bad_input_is_typed() {
    let (emu, c) = start().await;
    let mut req = request("trainpod-p", "NVIDIA A40", &[]);
    req.mounts = Some(Mounts {
        persistent: Some(PersistentMount {
            size: 20,
            path: "/workspace".into(),
        }),
        network: vec![],
    });
    let pod = c
        .create_pod(&req, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .pod;
    let plain = create(&c, "trainpod-q", "NVIDIA A40", &[]).await;
    let env = BTreeMap::from([("TRAINPOD_STAGE".to_owned(), "2".to_owned())]);
    let patched = c
        .patch_pod(
            &pod.id,
            &PodUpdate {
                name: Some("trainpod-renamed".into()),
                env: Some(env.clone()),
                disk: Some(80),
                ports: Some(vec!["8888/http".into()]),
                locked: Some(true),
                mounts: Some(Mounts {
                    persistent: Some(PersistentMount {
                        size: 40,
                        path: "/workspace".into(),
                    }),
                    network: vec![],
                }),
                ..PodUpdate::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(patched.name, "trainpod-renamed");
    assert_eq!(patched.env, env);
    assert_eq!(patched.disk, Some(80));
    assert_eq!(patched.ports, vec!["8888/http".to_owned()]);
    assert!(patched.locked);
    assert_eq!(
        c.get_pod(&pod.id).await.map(|p| p.name).ok().as_deref(),
        Some("trainpod-renamed")
    );

    // Refused before any request.
    let before = emu.requests().len();
    for bad in [
        PodUpdate::default(),
        PodUpdate {
            disk: Some(0),
            ..PodUpdate::default()
        },
        PodUpdate {
            env: Some(BTreeMap::from([("bad-name".to_owned(), "x".to_owned())])),
            ..PodUpdate::default()
        },
        PodUpdate {
            image: Some("Not An Image".into()),
            ..PodUpdate::default()
        },
        PodUpdate {
            template_id: Some("../x".into()),
            ..PodUpdate::default()
        },
    ] {
        assert_eq!(
            kind(c.patch_pod(&pod.id, &bad).await),
            ErrorKind::InvalidInput,
            "{bad:?}"
        );
    }
    assert_eq!(emu.requests().len(), before, "bad input cost a round trip");

    // Refused by the server: a mount kind the pod was not created with (400), no such pod,
    // another pod's key.
    let add_mount = PodUpdate {
        mounts: req.mounts.clone(),
        ..PodUpdate::default()
    };
    assert_eq!(
        kind(c.patch_pod(&plain.id, &add_mount).await),
        ErrorKind::InvalidInput
    );
    let rename = PodUpdate {
        name: Some("x".into()),
        ..PodUpdate::default()
    };
    assert_eq!(
        kind(c.patch_pod("nosuchpod", &rename).await),
        ErrorKind::NotFound
    );
    let scoped = client(&emu, &emu.pod_key(&plain.id));
    assert_eq!(
        kind(scoped.patch_pod(&pod.id, &rename).await),
        ErrorKind::Forbidden
    );
}

#[tokio::test]
async fn catalog_filters_scope_availability() {
    let (emu, c) = start().await;
    emu.faults(|f| {
        f.no_capacity_at
            .insert(("NVIDIA A40".into(), "US-TX-3".into()));
    });
    let prices = c
        .gpu_catalog_with(&GpuCatalogQuery::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        prices
            .iter()
            .all(|g| g.availability.is_none() && g.price.secure > 0.0)
    );

    let all = c.gpu_catalog().await.unwrap_or_else(|e| panic!("{e}"));
    let a40 = all
        .iter()
        .find(|g| g.id == "NVIDIA A40")
        .unwrap_or_else(|| panic!("no A40"));
    let by_dc: Vec<(&str, Availability)> = a40
        .data_centers
        .iter()
        .map(|d| (d.id.as_str(), d.availability))
        .collect();
    assert!(
        by_dc.contains(&("US-TX-3", Availability::None)),
        "{by_dc:?}"
    );
    assert!(
        by_dc.contains(&("EU-RO-1", Availability::Medium)),
        "{by_dc:?}"
    );
    assert_eq!(a40.cuda_versions.len(), 2);

    let fr = c
        .gpu_catalog_with(&GpuCatalogQuery {
            country_codes: vec!["FR".into()],
            count: Some(2),
            cuda_versions: vec!["12.8".into()],
            ..GpuCatalogQuery::pods()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!fr.is_empty());
    for g in &fr {
        let dcs: Vec<&str> = g.data_centers.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(dcs, vec!["EU-FR-1"]);
        let cudas: Vec<&str> = g.cuda_versions.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(cudas, vec!["12.8"]);
    }
    let nowhere = GpuCatalogQuery {
        country_codes: vec!["JP".into()],
        ..GpuCatalogQuery::pods()
    };
    assert!(
        c.gpu_catalog_with(&nowhere)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let one = c
        .gpu_type("NVIDIA A40", &nowhere)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.availability, Some(Availability::None));
    assert!(one.data_centers.is_empty());
    let future = GpuCatalogQuery {
        min_cuda_version: Some("13".into()),
        ..GpuCatalogQuery::pods()
    };
    let one = c
        .gpu_type("NVIDIA A40", &future)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.availability, Some(Availability::None));
    assert_eq!(
        kind(c.gpu_type("NVIDIA B999", &GpuCatalogQuery::default()).await),
        ErrorKind::NotFound
    );
    let before = emu.requests().len();
    let bad = GpuCatalogQuery {
        availability: true,
        ..GpuCatalogQuery::default()
    };
    assert_eq!(
        kind(c.gpu_catalog_with(&bad).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(emu.requests().len(), before, "bad input cost a round trip");
}

#[tokio::test]
async fn per_data_center_fallback_and_the_error_listing_every_pair() {
    let (emu, c) = start().await;
    emu.faults(|f| {
        f.no_capacity_at
            .insert(("NVIDIA A40".into(), "US-TX-3".into()));
    });
    let pairs = GpuCandidate::pairs(&["NVIDIA A40"], 1, &["US-TX-3", "EU-RO-1"]);
    let out = c
        .create_pod(&request("trainpod-dc", "x", &[]), &pairs)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.candidate, 1);
    assert_eq!(out.pod.data_center_id.as_deref(), Some("EU-RO-1"));

    emu.faults(|f| {
        f.no_capacity.insert("NVIDIA H100 80GB HBM3".into());
        f.no_capacity_at
            .insert(("NVIDIA A40".into(), "EU-RO-1".into()));
    });
    let pairs = GpuCandidate::pairs(
        &["NVIDIA H100 80GB HBM3", "NVIDIA A40"],
        1,
        &["US-TX-3", "EU-RO-1"],
    );
    assert_eq!(pairs.len(), 4);
    let err = c
        .create_pod(&request("trainpod-dc2", "x", &[]), &pairs)
        .await
        .err()
        .unwrap_or_else(|| panic!("placed"));
    assert_eq!(err.kind(), ErrorKind::CapacityUnavailable);
    let msg = err.message();
    for line in [
        "1. NVIDIA H100 80GB HBM3 x1 in US-TX-3: no capacity",
        "2. NVIDIA H100 80GB HBM3 x1 in EU-RO-1: no capacity",
        "3. NVIDIA A40 x1 in US-TX-3: no capacity",
        "4. NVIDIA A40 x1 in EU-RO-1: no capacity",
        "no longer any instances available",
    ] {
        assert!(msg.contains(line), "{line:?} missing from {msg}");
    }
}

#[tokio::test]
async fn the_log_stream_backfills_follows_resumes_and_ends() {
    let (emu, c) = start().await;
    let pod = create(&c, "trainpod-logs", "NVIDIA A40", &[]).await;
    emu.advance(3); // system lines: PROVISIONING, STARTING, RUNNING
    emu.push_log(&pod.id, "epoch 1");
    emu.push_log(&pod.id, "epoch 2");

    let mut all = c
        .pod_logs(&pod.id, &LogQuery::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lines = Vec::new();
    for _ in 0..5 {
        let ev = all.next().await.unwrap_or_else(|e| panic!("{e}"));
        let ev = ev.unwrap_or_else(|| panic!("ended early"));
        lines.push((ev.source, ev.line));
    }
    assert_eq!(lines[0], (LogSource::System, "status PROVISIONING".into()));
    assert_eq!(lines[4], (LogSource::Container, "epoch 2".into()));
    let resume_at = all.last_event_id().map(str::to_owned);
    assert!(resume_at.is_some());

    // Live: a line appended while the stream is open arrives on it.
    emu.append_log(&pod.id, trainpod_emulator::LogSource::Container, "epoch 3");
    let live = tokio::time::timeout(Duration::from_secs(5), all.next())
        .await
        .unwrap_or_else(|_| panic!("the live line never came"))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("ended"));
    assert_eq!(live.line, "epoch 3");
    assert!(live.ts.is_some());

    // Only the container, only the last line.
    let mut tail = c
        .pod_logs(
            &pod.id,
            &LogQuery {
                source: Some(LogSource::Container),
                tail: Some(1),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ev = tail.next().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.map(|e| e.line).as_deref(), Some("epoch 3"));

    // Resume after the fifth line: the sixth comes first.
    let mut resumed = c
        .pod_logs(
            &pod.id,
            &LogQuery {
                last_event_id: resume_at,
                ..LogQuery::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ev = resumed.next().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.map(|e| e.line).as_deref(), Some("epoch 3"));

    // Terminating the pod ends every open stream.
    c.terminate_pod(&pod.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while all.next().await.unwrap_or_else(|e| panic!("{e}")).is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the stream stayed open after terminate");

    // Typed errors: a gone pod, a bad query (no round trip), another pod's key.
    assert_eq!(
        kind(c.pod_logs(&pod.id, &LogQuery::default()).await),
        ErrorKind::NotFound
    );
    let before = emu.requests().len();
    let bad = LogQuery {
        tail: Some(5001),
        ..LogQuery::default()
    };
    assert_eq!(kind(c.pod_logs("p1", &bad).await), ErrorKind::InvalidInput);
    assert_eq!(
        kind(c.pod_logs("../etc", &LogQuery::default()).await),
        ErrorKind::InvalidInput
    );
    assert_eq!(emu.requests().len(), before, "bad input cost a round trip");
    let other = create(&c, "trainpod-other", "NVIDIA A40", &[]).await;
    let mine = create(&c, "trainpod-mine", "NVIDIA A40", &[]).await;
    let scoped = client(&emu, &emu.pod_key(&mine.id));
    assert_eq!(
        kind(scoped.pod_logs(&other.id, &LogQuery::default()).await),
        ErrorKind::Forbidden
    );
}

#[tokio::test]
async fn the_real_time_clock_moves_pods_and_accrues_billing() {
    let emu = Emulator::start_with(Options {
        real_time: true,
        ..Options::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let c = client(&emu, ACCOUNT_KEY);
    let started = emu.now();
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    assert!(
        started.abs_diff(wall) <= 2,
        "the clock starts at the real time"
    );
    let pod = create(&c, "trainpod-rt", "NVIDIA A40", &[]).await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(emu.now() >= started + 2);
    let now = c.get_pod(&pod.id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(now.status, PodStatus::Provisioning);
    let billed = c
        .pod_billing(&pod.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(billed[0].total_amount > 0.0, "{billed:?}");
}

#[tokio::test]
async fn the_control_endpoints_drive_faults_time_and_logs() {
    use trainpod::runpod::{HttpRequest, HttpSend, Method};
    let (emu, c) = start().await;
    let http = ReqwestSender::with_defaults().unwrap_or_else(|e| panic!("{e}"));
    let root = emu.base_url().trim_end_matches("/v2").to_owned();
    let call = async |method: Method, path: &str, body: &str| {
        let resp = http
            .send(HttpRequest {
                method,
                url: format!("{root}/_emulator/{path}"),
                headers: vec![("content-type".into(), "application/json".into())],
                body: (!body.is_empty()).then(|| body.as_bytes().to_vec()),
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let json: serde_json::Value =
            serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("{e}"));
        (resp.status, json)
    };
    let (status, _) = call(
        Method::Post,
        "faults",
        r#"{"noCapacityAt":[["NVIDIA A40","US-TX-3"]],"statuses":[402]}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kind(c.list_pods().await), ErrorKind::InsufficientBalance);
    let pod = create(&c, "trainpod-ctl", "NVIDIA A40", &["US-TX-3", "EU-FR-1"]).await;
    assert_eq!(pod.data_center_id.as_deref(), Some("EU-FR-1"));
    let (status, now) = call(Method::Post, "advance", r#"{"secs":3}"#).await;
    assert_eq!((status, now["now"].as_u64()), (200, Some(emu.now())));
    assert_eq!(emu.pod_status(&pod.id), Some("RUNNING"));
    let (status, _) = call(
        Method::Post,
        &format!("pods/{}/logs", pod.id),
        r#"{"line":"from python","source":"container"}"#,
    )
    .await;
    assert_eq!(status, 200);
    let mut logs = c
        .pod_logs(
            &pod.id,
            &LogQuery {
                source: Some(LogSource::Container),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let line = logs.next().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(line.map(|l| l.line).as_deref(), Some("from python"));
    let (_, list) = call(Method::Get, "requests", "").await;
    let n = list["requests"].as_array().map_or(0, Vec::len);
    assert_eq!(n, emu.requests().len(), "control calls are not recorded");
    assert_eq!(call(Method::Post, "faults", r#"{"bogus":1}"#).await.0, 400);
    assert_eq!(
        call(Method::Post, "pods/nope/logs", r#"{"line":"x"}"#)
            .await
            .0,
        404
    );
    assert_eq!(
        call(Method::Post, "faults", r#"{"reset":true}"#).await.0,
        200
    );
}
