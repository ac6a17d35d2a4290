//! `ingest_metrics` against every store backend: tokens checked first, strict bodies, each
//! numbered batch accepted once (a replay answered idempotently, a reused number with another
//! body a conflict), rate limits with Retry-After, and a final status that says to terminate.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use trainpod::ErrorKind;
use trainpod::clock::ManualClock;
use trainpod::jobs::{JobState, RateLimiter, ingest_metrics};
use trainpod::store::{self, Store};
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens, generate_secret};
use uuid::Uuid;

fn tokens() -> Tokens {
    let ring = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    Tokens::builder()
        .keys(ring)
        .audience("https://app.example.com")
        .build()
        .unwrap()
}

fn bearer(t: &Tokens, purpose: Purpose, job: &str, epoch: Option<u32>) -> String {
    let mut req = IssueRequest::new(purpose, "user-1", job);
    req.epoch = epoch;
    if purpose == Purpose::DatasetRead {
        req = req.dataset("ds-1");
    }
    format!("Bearer {}", t.issue(&req).unwrap().token.expose())
}

fn body(job: &str, batch: u64, events: &str) -> Vec<u8> {
    format!(r#"{{"job":"{job}","attempt":1,"batch":{batch},"events":[{events}]}}"#).into_bytes()
}

const LOG: &str =
    r#"{"n":1,"source":"trainer","type":"log","ts":5,"data":{"step":2,"max_steps":6,"loss":1.5}}"#;
const TRAINING: &str =
    r#"{"n":1,"source":"bootstrap","type":"stage","stage":"training","ts":4,"data":{}}"#;
const FINAL: &str = r#"{"n":2,"source":"bootstrap","type":"final","stage":"uploading","ts":9,"data":{"status":"succeeded","reason":"","exit_code":0,"cause_b64":"","log_tail_b64":""}}"#;

async fn contract(store: &dyn Store) {
    let t = tokens();
    let job = format!("job-{}", Uuid::new_v4().simple());
    let auth = bearer(&t, Purpose::MetricsWrite, &job, Some(1));
    let ingest = |auth: Option<String>, body: Vec<u8>, current| {
        let t = t.clone();
        let job = job.clone();
        async move {
            ingest_metrics(
                &t,
                store,
                None,
                &job,
                current,
                auth.as_deref(),
                &body,
                false,
            )
            .await
        }
    };

    let first = body(&job, 1, &format!("{TRAINING},{LOG}"));
    let out = ingest(Some(auth.clone()), first.clone(), JobState::Provisioning)
        .await
        .unwrap();
    assert_eq!(
        (out.status, out.replay, out.terminate_pod),
        (200, false, false)
    );
    assert_eq!(out.progress.state, Some(JobState::Training));
    assert_eq!(out.progress.loss, Some(1.5));

    let again = ingest(Some(auth.clone()), first, JobState::Training)
        .await
        .unwrap();
    assert!(again.replay, "{}", store.backend());
    assert_eq!(
        again.progress.state, None,
        "a replay is not processed twice"
    );

    let other = body(&job, 1, LOG);
    let conflict = ingest(Some(auth.clone()), other, JobState::Training)
        .await
        .unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::SequenceConflict);
    assert_eq!(conflict.kind().http_status(), 409);

    let last = ingest(Some(auth.clone()), body(&job, 2, FINAL), JobState::Training)
        .await
        .unwrap();
    assert!(last.terminate_pod);
    assert_eq!(last.progress.state, Some(JobState::Succeeded));
}

#[tokio::test]
async fn ingest_on_memory_and_sqlite() {
    contract(store::open("memory:").await.unwrap().as_ref()).await;
    contract(store::open("sqlite::memory:").await.unwrap().as_ref()).await;
}

#[tokio::test]
async fn ingest_on_postgres() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    contract(store::open(&url).await.unwrap().as_ref()).await;
}

#[tokio::test]
async fn bad_requests_get_their_typed_error_before_any_store_write() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    let job = "job-a";
    let good = bearer(&t, Purpose::MetricsWrite, job, Some(1));
    let cases: Vec<(Option<String>, Vec<u8>, ErrorKind)> = vec![
        (None, body(job, 1, LOG), ErrorKind::TokenMissing),
        (
            Some("Bearer not-a-token".into()),
            body(job, 1, LOG),
            ErrorKind::TokenMalformed,
        ),
        (
            Some(bearer(&t, Purpose::DatasetRead, job, None)),
            body(job, 1, LOG),
            ErrorKind::TokenWrongPurpose,
        ),
        (
            Some(bearer(&t, Purpose::MetricsWrite, "job-b", Some(1))),
            body(job, 1, LOG),
            ErrorKind::TokenScopeMismatch,
        ),
        (
            Some(bearer(&t, Purpose::MetricsWrite, job, Some(2))),
            body(job, 1, LOG),
            ErrorKind::TokenScopeMismatch,
        ),
        (
            Some(good.clone()),
            body("job-b", 1, LOG),
            ErrorKind::TokenScopeMismatch,
        ),
        (
            Some(good.clone()),
            b"{not json".to_vec(),
            ErrorKind::InvalidInput,
        ),
        (
            Some(good.clone()),
            body(job, 1, &LOG.replace("1.5", "NaN")),
            ErrorKind::InvalidInput,
        ),
    ];
    for (auth, body, kind) in cases {
        let err = ingest_metrics(
            &t,
            store.as_ref(),
            None,
            job,
            JobState::Training,
            auth.as_deref(),
            &body,
            false,
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
    }
    // None of them used a batch number: the first good batch is still new.
    let out = ingest_metrics(
        &t,
        store.as_ref(),
        None,
        job,
        JobState::Training,
        Some(&good),
        &body(job, 1, LOG),
        false,
    )
    .await
    .unwrap();
    assert!(!out.replay);
}

#[tokio::test]
async fn a_flood_is_rate_limited_with_retry_after_and_cancel_is_answered() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    let limiter = RateLimiter::new(2, 1.0, Arc::new(ManualClock::new(1_000)));
    let job = "job-flood";
    let auth = bearer(&t, Purpose::MetricsWrite, job, Some(1));
    for n in 1..=2 {
        let out = ingest_metrics(
            &t,
            store.as_ref(),
            Some(&limiter),
            job,
            JobState::Training,
            Some(&auth),
            &body(job, n, LOG),
            true,
        )
        .await
        .unwrap();
        assert_eq!(out.body, r#"{"ok":true,"cancel":true}"#);
    }
    let err = ingest_metrics(
        &t,
        store.as_ref(),
        Some(&limiter),
        job,
        JobState::Training,
        Some(&auth),
        &body(job, 3, LOG),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind().http_status(), 429);
    assert_eq!(err.retry_after_secs(), Some(1));
}
