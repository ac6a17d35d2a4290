//! `plan` refuses a model the pod could not get, before any pod exists: a Hub id with no
//! repository, a gated or private repository without a token that has access, an invalid token,
//! a repository the trainer cannot load, a path missing on the job's network volume or on the
//! machine of the local provider. A Hub that cannot be asked refuses nothing: the plan warns.
//!
//! The Hub is a stand-in on loopback answering as the Hugging Face Hub's model API does
//! (`GET /api/models/{id}` and `/api/models/{id}/auth-check`, with its status codes and
//! `X-Error-Code` headers); RunPod is the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use trainpod::sdk::{DatasetRef, JobSpec, Plan, Trainpod, TrainpodBuilder};
use trainpod::staging::sigv4::Credentials;
use trainpod::staging::{VolumeConfig, VolumeStaging};
use trainpod::token::{KeyRing, generate_secret};
use trainpod::{Error, ErrorKind};
use trainpod_e2e::{fresh_dir, unique_id};
use trainpod_emulator::{ACCOUNT_KEY, Emulator};

const CHAT: &str =
    r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#;
/// A token the stand-in accepts, granted the gated model and a reader of the private one.
const GRANTED: &str = "hf_granted_read_token";
/// A token the stand-in accepts, granted nothing.
const UNGRANTED: &str = "hf_ungranted_read_token";

/// One repository of the stand-in Hub.
struct Repo {
    private: bool,
    /// `false`, or how access is granted (`"auto"`, `"manual"`), as the Hub's `gated` field.
    gated: serde_json::Value,
    files: &'static [&'static str],
}

fn repos() -> BTreeMap<&'static str, Repo> {
    let model = &["config.json", "model.safetensors", "tokenizer.json"];
    BTreeMap::from([
        (
            "Qwen/Qwen2.5-0.5B",
            Repo {
                private: false,
                gated: json!(false),
                files: model,
            },
        ),
        (
            "meta-llama/Llama-3.2-1B",
            Repo {
                private: false,
                gated: json!("manual"),
                files: model,
            },
        ),
        (
            "acme/private-1B",
            Repo {
                private: true,
                gated: json!(false),
                files: model,
            },
        ),
        (
            "acme/tiny-1B-GGUF",
            Repo {
                private: false,
                gated: json!(false),
                files: &["tiny-1B.Q4_K_M.gguf", "README.md"],
            },
        ),
    ])
}

/// What the stand-in was asked: the path and the `Authorization` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

struct HubStandIn {
    url: String,
    seen: Seen,
}

impl HubStandIn {
    async fn start() -> HubStandIn {
        let seen = Seen::default();
        let router = Router::new()
            .route("/api/models/{*rest}", get(answer))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        HubStandIn { url, seen }
    }

    fn seen(&self) -> Vec<(String, Option<String>)> {
        self.seen.lock().unwrap().clone()
    }
}

fn error(status: StatusCode, code: Option<&str>, message: &str) -> Response {
    let mut resp = (
        status,
        [("content-type", "application/json")],
        json!({ "error": message }).to_string(),
    )
        .into_response();
    if let Some(code) = code {
        resp.headers_mut()
            .insert("x-error-code", code.parse().unwrap());
    }
    resp.headers_mut()
        .insert("x-error-message", message.parse().unwrap());
    resp
}

/// The Hub's model API as it answers: anonymous requests for a missing or private repository
/// get the same 401 (the Hub does not say which exist), authenticated ones a 404; a token it
/// does not know gets a 401 of its own; a gated repository's metadata is public, and only
/// `auth-check` (or a download) says whether the token was granted access.
async fn answer(
    State(seen): State<Seen>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    seen.lock().unwrap().push((rest.clone(), auth.clone()));
    let token = match auth.as_deref().map(|a| a.strip_prefix("Bearer ")) {
        None => None,
        Some(Some(t)) if t == GRANTED || t == UNGRANTED => Some(t.to_owned()),
        Some(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                None,
                "Invalid credentials in Authorization header",
            );
        }
    };
    let (id, check) = match rest.strip_suffix("/auth-check") {
        Some(id) => (id.to_owned(), true),
        None => (rest.clone(), false),
    };
    if id == "acme/flaky-1B" {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "upstream unavailable",
        );
    }
    let repos = repos();
    let granted = token.as_deref() == Some(GRANTED);
    let Some(repo) = repos.get(id.as_str()).filter(|r| !r.private || granted) else {
        let status = if token.is_some() {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::UNAUTHORIZED
        };
        return error(status, Some("RepoNotFound"), "Repository not found");
    };
    let gated = repo.gated != json!(false);
    if check {
        return match (gated, token.is_some(), granted) {
            (false, _, _) | (true, _, true) => (StatusCode::OK, "{}").into_response(),
            (true, false, _) => error(
                StatusCode::UNAUTHORIZED,
                Some("GatedRepo"),
                "Access to this model is restricted. You must have access to it and be authenticated.",
            ),
            (true, true, false) => error(
                StatusCode::FORBIDDEN,
                Some("GatedRepo"),
                "Access to this model is restricted and you are not in the authorized list.",
            ),
        };
    }
    let siblings: Vec<serde_json::Value> = repo
        .files
        .iter()
        .map(|f| json!({ "rfilename": f }))
        .collect();
    let body = json!({
        "_id": "65f0c0ffee", "id": id, "modelId": id, "private": repo.private,
        "gated": repo.gated, "disabled": false, "downloads": 1, "likes": 0, "tags": [],
        "siblings": siblings,
    });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

struct Setup {
    emu: Emulator,
    dir: PathBuf,
}

impl Setup {
    async fn start(name: &str) -> Setup {
        let emu = Emulator::start().await.unwrap();
        let dir = fresh_dir(&format!("model-check-{name}"));
        let datasets = dir.join("datasets");
        std::fs::create_dir_all(&datasets).unwrap();
        let rows: Vec<&str> = std::iter::repeat_n(CHAT, 20).collect();
        std::fs::write(datasets.join("chat"), rows.join("\n") + "\n").unwrap();
        Setup { emu, dir }
    }

    /// The SDK on the emulator as the local provider, with the app's datasets.
    fn builder(&self) -> TrainpodBuilder {
        Trainpod::builder()
            .ignore_env()
            .local_provider(self.emu.base_url(), ACCOUNT_KEY)
            .app_url("http://127.0.0.1:9")
            .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
            .store_url("memory:")
            .datasets_dir(self.dir.join("datasets"))
    }

    async fn sdk(&self, hub: &str, token: Option<&str>) -> Trainpod {
        let mut b = self.builder().hub_url(hub);
        if let Some(token) = token {
            b = b.pod_env("HF_TOKEN", token);
        }
        b.build().await.unwrap()
    }

    /// Nothing reached RunPod: no pod, and not even the plan's RunPod calls.
    fn nothing_reached_runpod(&self) {
        assert_eq!(self.emu.pod_count(), 0);
        assert!(self.emu.requests().is_empty(), "{:?}", self.emu.requests());
    }
}

fn spec(model: &str) -> JobSpec {
    JobSpec {
        job_id: Some(unique_id("model")),
        ..JobSpec::new("user-1", model, DatasetRef::App { id: "chat".into() }, 2.0)
    }
}

fn refused(result: trainpod::Result<Plan>) -> Error {
    let err = result.expect_err("the plan should be refused");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.message().starts_with("model "),
        "names the field: {err}"
    );
    err
}

fn model_warnings(plan: &Plan) -> Vec<&String> {
    plan.warnings
        .iter()
        .filter(|w| w.starts_with("model "))
        .collect()
}

#[tokio::test]
async fn a_model_on_the_hub_plans_without_a_warning() {
    let s = Setup::start("exists").await;
    let hub = HubStandIn::start().await;
    let tp = s.sdk(&hub.url, None).await;
    let plan = tp.plan(&spec("Qwen/Qwen2.5-0.5B")).await.unwrap();
    assert!(model_warnings(&plan).is_empty(), "{:?}", plan.warnings);
    // One request, anonymous: no token was configured.
    assert_eq!(hub.seen(), [("Qwen/Qwen2.5-0.5B".to_owned(), None)]);
}

#[tokio::test]
async fn a_missing_model_is_refused_before_any_pod_exists() {
    let s = Setup::start("missing").await;
    let hub = HubStandIn::start().await;
    let tp = s.sdk(&hub.url, None).await;
    let err = refused(tp.plan(&spec("Qwen/Qwen2.5-0.5B-Typo")).await);
    assert!(
        err.message()
            .contains("no such model on the Hugging Face Hub"),
        "{err}"
    );
    assert!(err.message().contains("e.g. Qwen/Qwen2.5-0.5B"), "{err}");
    s.nothing_reached_runpod();

    // With a token, the Hub answers 404: the message says the token may not see it.
    let tp = s.sdk(&hub.url, Some(UNGRANTED)).await;
    let err = refused(tp.plan(&spec("nobody/nothing-0.5B")).await);
    assert!(err.message().contains("cannot read"), "{err}");
    assert!(
        !err.message().contains(UNGRANTED),
        "no token in errors: {err}"
    );
    s.nothing_reached_runpod();
}

#[tokio::test]
async fn a_gated_model_needs_a_token_that_was_granted_access() {
    let s = Setup::start("gated").await;
    let hub = HubStandIn::start().await;
    let gated = "meta-llama/Llama-3.2-1B";
    let page = format!("{}/{gated}", hub.url);

    let err = refused(s.sdk(&hub.url, None).await.plan(&spec(gated)).await);
    assert!(err.message().contains("gated"), "{err}");
    assert!(err.message().contains(&page), "links the terms: {err}");
    assert!(err.message().contains("HF_TOKEN"), "{err}");

    let err = refused(
        s.sdk(&hub.url, Some(UNGRANTED))
            .await
            .plan(&spec(gated))
            .await,
    );
    assert!(err.message().contains("not been granted"), "{err}");
    assert!(
        !err.message().contains(UNGRANTED),
        "no token in errors: {err}"
    );
    s.nothing_reached_runpod();

    let tp = s.sdk(&hub.url, Some(GRANTED)).await;
    let plan = tp.plan(&spec(gated)).await.unwrap();
    assert!(model_warnings(&plan).is_empty(), "{:?}", plan.warnings);
    // The token the pod downloads with is the one the Hub was shown.
    let bearer = Some(format!("Bearer {GRANTED}"));
    assert!(
        hub.seen()
            .contains(&(format!("{gated}/auth-check"), bearer.clone())),
        "{:?}",
        hub.seen()
    );
    assert!(!format!("{tp:?}").contains(GRANTED), "no token in Debug");
}

#[tokio::test]
async fn a_private_model_needs_a_token_that_can_read_it() {
    let s = Setup::start("private").await;
    let hub = HubStandIn::start().await;
    let private = "acme/private-1B";

    let err = refused(s.sdk(&hub.url, None).await.plan(&spec(private)).await);
    assert!(err.message().contains("private model"), "{err}");
    assert!(err.message().contains("HF_TOKEN"), "{err}");
    let err = refused(
        s.sdk(&hub.url, Some(UNGRANTED))
            .await
            .plan(&spec(private))
            .await,
    );
    assert!(err.message().contains("cannot read"), "{err}");
    s.nothing_reached_runpod();

    let plan = s
        .sdk(&hub.url, Some(GRANTED))
        .await
        .plan(&spec(private))
        .await
        .unwrap();
    assert!(model_warnings(&plan).is_empty(), "{:?}", plan.warnings);
}

#[tokio::test]
async fn an_invalid_token_is_refused_without_showing_it() {
    let s = Setup::start("bad-token").await;
    let hub = HubStandIn::start().await;
    let bad = "hf_revoked_token_value";
    let tp = s.sdk(&hub.url, Some(bad)).await;
    let err = refused(tp.plan(&spec("Qwen/Qwen2.5-0.5B")).await);
    assert!(err.message().contains("refused the token"), "{err}");
    assert!(!err.message().contains(bad), "no token in errors: {err}");
    assert!(
        !format!("{err:?}").contains(bad),
        "no token in Debug: {err:?}"
    );
    s.nothing_reached_runpod();
}

#[tokio::test]
async fn a_repository_without_config_json_is_refused() {
    let s = Setup::start("gguf").await;
    let hub = HubStandIn::start().await;
    let tp = s.sdk(&hub.url, None).await;
    let err = refused(tp.plan(&spec("acme/tiny-1B-GGUF")).await);
    assert!(err.message().contains("config.json"), "{err}");
    s.nothing_reached_runpod();
}

#[tokio::test]
async fn a_hub_that_cannot_be_asked_gives_a_warning_not_a_refusal() {
    let s = Setup::start("unreachable").await;
    // A port nothing listens on: the connection is refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let tp = s.sdk(&closed, None).await;
    let plan = tp.plan(&spec("Qwen/Qwen2.5-0.5B")).await.unwrap();
    let warned = model_warnings(&plan);
    assert_eq!(warned.len(), 1, "{:?}", plan.warnings);
    assert!(warned[0].contains("was not checked"), "{warned:?}");
    assert!(warned[0].contains("could not be reached"), "{warned:?}");

    // The Hub failing on its side is the same: a warning naming its answer.
    let hub = HubStandIn::start().await;
    let tp = s.sdk(&hub.url, None).await;
    let plan = tp.plan(&spec("acme/flaky-1B")).await.unwrap();
    let warned = model_warnings(&plan);
    assert_eq!(warned.len(), 1, "{:?}", plan.warnings);
    assert!(warned[0].contains("HTTP 503"), "{warned:?}");
}

#[tokio::test]
async fn a_path_is_checked_where_the_pod_will_read_it() {
    let s = Setup::start("paths").await;
    let hub = HubStandIn::start().await;
    let path_spec = |model: &str| JobSpec {
        params_b: Some(0.1),
        ..spec(model)
    };
    // The local provider's pods run on this machine: the path is looked up here.
    let model = s.dir.join("tiny-model");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), "{}").unwrap();
    let tp = s.sdk(&hub.url, None).await;
    let plan = tp.plan(&path_spec(model.to_str().unwrap())).await.unwrap();
    assert!(model_warnings(&plan).is_empty(), "{:?}", plan.warnings);
    let missing = s.dir.join("no-model");
    let err = refused(tp.plan(&path_spec(missing.to_str().unwrap())).await);
    assert!(err.message().contains("config.json"), "{err}");

    // Pods elsewhere: a path in the image cannot be looked into before the pod runs.
    let remote = Trainpod::builder()
        .ignore_env()
        .runpod_base_url(s.emu.base_url())
        .runpod_api_key(ACCOUNT_KEY)
        .allow_loopback(true)
        .app_url("http://127.0.0.1:9")
        .signing_keys(KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap())
        .store_url("memory:")
        .datasets_dir(s.dir.join("datasets"))
        .hub_url(&hub.url)
        .build()
        .await
        .unwrap();
    let plan = remote.plan(&path_spec("/models/in-image")).await.unwrap();
    let warned = model_warnings(&plan);
    assert_eq!(warned.len(), 1, "{:?}", plan.warnings);
    assert!(warned[0].contains("cannot be checked"), "{warned:?}");
    assert!(hub.seen().is_empty(), "a path is never asked of the Hub");
}

#[tokio::test]
async fn hub_url_is_validated_at_build() {
    let s = Setup::start("hub-url").await;
    for bad in [
        "http://hub.example.com",
        "not a url",
        "https://u:secret@hub.example.com",
    ] {
        let err = s.builder().hub_url(bad).build().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err}");
        assert!(err.message().contains("hub_url"), "{err}");
        assert!(!err.message().contains("secret"), "{err}");
    }
}

struct S3 {
    endpoint: String,
    access: String,
    secret: String,
    volume: String,
}

fn s3() -> Option<S3> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let Some(endpoint) = var("TRAINPOD_TEST_S3_ENDPOINT") else {
        assert_ne!(
            var("TRAINPOD_REQUIRE_S3").as_deref(),
            Some("1"),
            "TRAINPOD_REQUIRE_S3=1 but no S3 server: eval \"$(scripts/s3-server.sh start)\""
        );
        eprintln!("skipped: no S3 server (TRAINPOD_TEST_S3_ENDPOINT)");
        return None;
    };
    Some(S3 {
        endpoint,
        access: var("TRAINPOD_TEST_S3_ACCESS_KEY").unwrap(),
        secret: var("TRAINPOD_TEST_S3_SECRET_KEY").unwrap(),
        volume: var("TRAINPOD_TEST_S3_VOLUME").unwrap_or_else(|| "volume-test".into()),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_on_the_jobs_network_volume_must_be_there() {
    let Some(s3) = s3() else { return };
    let s = Setup::start("volume").await;
    let volume = || {
        let config = VolumeConfig::builder()
            .data_center_id("eu-ro-1")
            .volume_id(&s3.volume)
            .credentials(Credentials::new(&s3.access, &s3.secret).unwrap())
            .endpoint(&s3.endpoint)
            .signing_region("eu-ro-1")
            .build()
            .unwrap();
        VolumeStaging::new(config).unwrap()
    };
    let prefix = unique_id("models");
    let data = s.dir.join("chat.jsonl");
    std::fs::write(&data, format!("{CHAT}\n")).unwrap();
    let config = s.dir.join("config.json");
    std::fs::write(&config, "{}").unwrap();
    let staged = volume()
        .upload_file(&data, &format!("{prefix}/chat.jsonl"))
        .await
        .unwrap();
    volume()
        .upload_file(&config, &format!("{prefix}/tiny/config.json"))
        .await
        .unwrap();
    let tp = s.builder().volume(volume()).build().await.unwrap();
    let on_volume = |model: String| JobSpec {
        job_id: Some(unique_id("vol")),
        params_b: Some(0.1),
        ..JobSpec::new(
            "user-1",
            model,
            DatasetRef::Volume {
                key: staged.key.clone(),
                bytes: staged.bytes,
                sha256: staged.sha256.clone(),
            },
            2.0,
        )
    };
    let plan = tp
        .plan(&on_volume(format!("/workspace/{prefix}/tiny")))
        .await
        .unwrap();
    assert!(model_warnings(&plan).is_empty(), "{:?}", plan.warnings);
    let err = refused(
        tp.plan(&on_volume(format!("/workspace/{prefix}/none")))
            .await,
    );
    assert!(
        err.message()
            .contains(&format!("{prefix}/none/config.json")),
        "names the missing object: {err}"
    );
    assert_eq!(s.emu.pod_count(), 0);
}
