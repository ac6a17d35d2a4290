//! One app instance for the scale and fault tests: a `Trainpod` on the shared Postgres, serving
//! the pod-facing routes (`trainpod::sdk::server`), reconciling every second, and deploying jobs
//! on request. Several of these share one database, as serverless instances of a web app do.
//!
//! usage: trainpod-app DB_URL RUNPOD_BASE_URL DATASETS_DIR PUBLIC_URL
//! (PUBLIC_URL: where pods reach the app, the same for every instance, as behind a load balancer)
//! Environment: TRAINPOD_SIGNING_KEYS (shared by every instance), TRAINPOD_STALE_SECS and
//! TRAINPOD_PROVISION_SECS (the reconciler's limits).
//! Prints `READY http://127.0.0.1:PORT` once it serves. `POST /admin/deploy/{job}` plans one job
//! (the first time it is asked) and deploys its stored plan, and answers its status as JSON.
#![allow(clippy::print_stdout, clippy::print_stderr, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use trainpod::jobs::ReconcilePolicy;
use trainpod::sdk::{DatasetRef, JobSpec, Plan, Trainpod};
use trainpod::{ErrorKind, Result};
use trainpod_emulator::ACCOUNT_KEY;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, runpod, datasets, public] = &args[..] else {
        eprintln!("usage: trainpod-app DB_URL RUNPOD_BASE_URL DATASETS_DIR PUBLIC_URL");
        std::process::exit(2);
    };
    let secs = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let stale = secs("TRAINPOD_STALE_SECS", 600);
    let provision = secs("TRAINPOD_PROVISION_SECS", 1800);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let tp = Trainpod::builder()
        .local_provider(runpod, ACCOUNT_KEY)
        .app_url(public)
        .store_url(db)
        .datasets_dir(datasets)
        .reconcile_policy(ReconcilePolicy {
            stale_after_secs: stale,
            provision_timeout_secs: provision,
            lease_secs: 30,
            ..ReconcilePolicy::default()
        })
        .build()
        .await
        .unwrap_or_else(|e| {
            eprintln!("trainpod-app: {e} [{}]", e.code());
            std::process::exit(1);
        });
    let tp = Arc::new(tp);
    let admin = Router::new()
        .route("/admin/deploy/{job}", post(deploy))
        .with_state(tp.clone());
    let app = trainpod::sdk::server::router(tp.clone()).merge(admin);
    let reconciler = tp.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Err(e) = reconciler.reconcile().await {
                eprintln!("reconcile: {e} [{}]", e.code());
            }
        }
    });
    println!("READY {url}");
    axum::serve(listener, app).await.unwrap();
}

async fn deploy(State(tp): State<Arc<Trainpod>>, Path(job): Path<String>) -> (StatusCode, String) {
    let result = match job_plan(&tp, &job).await {
        Ok(plan) => tp.deploy(&plan).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(status) => (StatusCode::OK, serde_json::to_string(&status).unwrap()),
        Err(e) => (
            StatusCode::from_u16(e.kind().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            serde_json::json!({"error": e.code(), "message": e.message()}).to_string(),
        ),
    }
}

/// The job's plan: the one stored with it, once any instance planned it. A deploy asked again
/// (its answer lost, or cut off with the instance that ran it) deploys that stored plan, which
/// takes over a deploy cut off between its claim and its record; a job deployed already cannot
/// be planned again.
async fn job_plan(tp: &Trainpod, job: &str) -> Result<Plan> {
    match tp.stored_plan(job).await {
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        stored => return stored,
    }
    let spec = JobSpec {
        job_id: Some(job.to_owned()),
        gpus: vec!["NVIDIA GeForce RTX 4090".into()],
        ..JobSpec::new(
            "user-1",
            "Qwen/Qwen2.5-0.5B",
            DatasetRef::App { id: "chat".into() },
            5.0,
        )
    };
    match tp.plan(&spec).await {
        // Another instance planned it meanwhile, and its deploy claimed it: deploy its plan.
        Err(e) if e.kind() == ErrorKind::InvalidState => tp.stored_plan(job).await,
        planned => planned,
    }
}
