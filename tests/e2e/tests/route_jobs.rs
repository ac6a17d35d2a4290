//! The pod-facing routes look at the token's job: a dataset is served only while the token's
//! attempt provisions or runs, artifacts are taken until a grace period after the job ended, and
//! a token for a job that does not exist, or for another user, is refused with a typed error.
//! The tokens are those `deploy` put in the pod's bundle; each store backend is run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use trainpod::clock::ManualClock;
use trainpod::sdk::{ARTIFACT_UPLOAD_GRACE_SECS, DatasetRef, JobSpec, Trainpod};
use trainpod::token::{IssueRequest, KeyRing, Purpose, generate_secret};
use trainpod::{Error, ErrorKind};
use trainpod_e2e::{fresh_dir, postgres_database, sha256_hex, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const T0: u64 = 1_900_000_000;
const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;

struct Setup {
    _emu: Emulator,
    tp: Arc<Trainpod>,
    clock: Arc<ManualClock>,
}

async fn stores() -> Vec<String> {
    let mut urls = vec!["memory:".to_owned(), "sqlite::memory:".to_owned()];
    urls.extend(postgres_database("routes").await);
    urls
}

async fn setup(name: &str, store: &str) -> Setup {
    let emu = Emulator::start().await.unwrap();
    let dir = fresh_dir(&format!("routes-{name}"));
    let datasets = dir.join("datasets");
    std::fs::create_dir_all(&datasets).unwrap();
    let rows: Vec<&str> = std::iter::repeat_n(CHAT, 50).collect();
    std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let tp = Trainpod::builder()
        .ignore_env()
        .local_provider(emu.base_url(), ACCOUNT_KEY)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url(store)
        .datasets_dir(&datasets)
        .artifacts_dir(dir.join("artifacts"))
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    Setup {
        _emu: emu,
        tp: Arc::new(tp),
        clock,
    }
}

fn spec(job: &str) -> JobSpec {
    JobSpec {
        job_id: Some(job.into()),
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            2.0,
        )
    }
}

/// The dataset and artifacts tokens in the config of the job's current pod, as the pod reads them.
async fn pod_tokens(tp: &Trainpod, job: &str) -> (String, String) {
    let pod_id = tp.status(job).await.unwrap().pod_id.unwrap();
    let pod = tp.runpod().get_pod(&pod_id).await.unwrap();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(&pod.env["TRAINPOD_BUNDLE"])
        .unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("config.json") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            let config: Value = serde_json::from_str(&text).unwrap();
            let token = |kind: &str| config[kind]["token"].as_str().unwrap().to_owned();
            return (token("dataset"), token("artifacts"));
        }
    }
    panic!("no config.json in the bundle");
}

fn issue(tp: &Trainpod, purpose: Purpose, user: &str, job: &str) -> String {
    let mut req = IssueRequest::new(purpose, user, job).ttl_secs(3600);
    if purpose == Purpose::DatasetRead {
        req = req.dataset("chat");
    }
    tp.tokens().issue(&req).unwrap().token.expose().to_owned()
}

/// The refusal's kind, after checking that its message does not quote the token.
fn refused<T: std::fmt::Debug>(got: Result<T, Error>, token: &str) -> ErrorKind {
    let err = got.expect_err("expected a refusal");
    assert!(!err.message().contains(token), "{}", err.message());
    err.kind()
}

async fn download(tp: &Trainpod, token: &str) -> Result<u16, Error> {
    let auth = format!("Bearer {token}");
    let grant = tp
        .authorize_dataset_download(Some(&auth), None, "chat", None)
        .await?;
    Ok(grant.status)
}

/// The router's answer to `GET /trainpod/datasets/chat` with `token`.
async fn http_download(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/trainpod/datasets/chat"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn serve(tp: Arc<Trainpod>) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = trainpod::sdk::server::router(tp);
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dataset_route_serves_only_the_live_attempt_of_the_tokens_job() {
    for store in stores().await {
        let s = setup("dataset", &store).await;
        let base = serve(s.tp.clone()).await;
        let id = unique_id("ds");
        s.tp.deploy(&s.tp.plan(&spec(&id)).await.unwrap())
            .await
            .unwrap();
        let (first, _) = pod_tokens(&s.tp, &id).await;
        assert_eq!(download(&s.tp, &first).await.unwrap(), 200, "{store}");
        assert_eq!(http_download(&base, &first).await, 200);

        // A valid token for a job the store does not have: 404.
        let ghost = issue(&s.tp, Purpose::DatasetRead, "user-1", "no-such-job");
        assert_eq!(
            refused(download(&s.tp, &ghost).await, &ghost),
            ErrorKind::NotFound
        );
        assert_eq!(http_download(&base, &ghost).await, 404);
        // The job, with a token for another user: 403.
        let other = issue(&s.tp, Purpose::DatasetRead, "user-2", &id);
        assert_eq!(
            refused(download(&s.tp, &other).await, &other),
            ErrorKind::TokenScopeMismatch
        );
        assert_eq!(http_download(&base, &other).await, 403);

        // Cancelled: the pod's own token, still within its lifetime, is refused with 409.
        s.tp.cancel(&id).await.unwrap();
        assert_eq!(
            refused(download(&s.tp, &first).await, &first),
            ErrorKind::InvalidState
        );
        assert_eq!(http_download(&base, &first).await, 409);

        // A new attempt: its pod's token is served, the first attempt's is not.
        s.clock.advance(60);
        s.tp.retry(&id).await.unwrap();
        let (second, _) = pod_tokens(&s.tp, &id).await;
        assert_eq!(download(&s.tp, &second).await.unwrap(), 200);
        assert_eq!(
            refused(download(&s.tp, &first).await, &first),
            ErrorKind::TokenScopeMismatch
        );
        assert_eq!(http_download(&base, &first).await, 403);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_taken_until_a_grace_period_after_the_job_ended() {
    for store in stores().await {
        let s = setup("artifacts", &store).await;
        let id = unique_id("art");
        s.tp.deploy(&s.tp.plan(&spec(&id)).await.unwrap())
            .await
            .unwrap();
        let (_, token) = pod_tokens(&s.tp, &id).await;
        let auth = format!("Bearer {token}");
        let data = b"adapter weights".to_vec();
        let manifest = serde_json::json!({"job": id, "attempt": 1, "files": [
            {"path": "adapter.safetensors", "size": data.len(), "sha256": sha256_hex(&data)}
        ]})
        .to_string();
        let post = |auth: String| {
            let (tp, id, manifest) = (s.tp.clone(), id.clone(), manifest.clone());
            async move {
                tp.artifact_manifest(&id, Some(&auth), manifest.as_bytes())
                    .await
            }
        };
        assert_eq!(post(auth.clone()).await.unwrap().status, 200, "{store}");

        let ghost = issue(&s.tp, Purpose::ArtifactsWrite, "user-1", "no-such-job");
        let got =
            s.tp.artifact_manifest(
                "no-such-job",
                Some(&format!("Bearer {ghost}")),
                manifest.as_bytes(),
            )
            .await;
        assert_eq!(refused(got, &ghost), ErrorKind::NotFound);
        let other = issue(&s.tp, Purpose::ArtifactsWrite, "user-2", &id);
        assert_eq!(
            refused(post(format!("Bearer {other}")).await, &other),
            ErrorKind::TokenScopeMismatch
        );

        // The job ends; a pod still uploading has the grace period to finish.
        s.tp.cancel(&id).await.unwrap();
        s.clock.advance(ARTIFACT_UPLOAD_GRACE_SECS - 1);
        assert_eq!(post(auth.clone()).await.unwrap().status, 200);
        let mut upload =
            s.tp.begin_artifact(&id, Some(&auth), "adapter.safetensors")
                .await
                .unwrap();
        upload.write(data.clone()).await.unwrap();
        upload.finish().await.unwrap();

        // After it, both artifact routes refuse the same token with 409.
        s.clock.advance(1);
        assert_eq!(
            refused(post(auth.clone()).await, &token),
            ErrorKind::InvalidState
        );
        let late =
            s.tp.begin_artifact(&id, Some(&auth), "adapter.safetensors")
                .await;
        assert_eq!(refused(late, &token), ErrorKind::InvalidState);
        assert_eq!(ErrorKind::InvalidState.http_status(), 409);
    }
}
