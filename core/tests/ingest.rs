//! `ingest_metrics` against every store backend: tokens checked first, strict bodies, each
//! numbered batch accepted once (a replay answered idempotently, a reused number with another
//! body a conflict), events kept once, the job row moved forward, rate limits with Retry-After,
//! and a final status that says to terminate.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use trainpod::ErrorKind;
use trainpod::clock::ManualClock;
use trainpod::jobs::{
    IngestOutcome, JobState, RateLimiter, check_metrics, ingest_checked, ingest_metrics,
};
use trainpod::store::{self, JobRecord, Store};
use trainpod::token::{IssueRequest, KeyRing, Purpose, Tokens, generate_secret};
use uuid::Uuid;

/// The app's clock in most tests: fixed, a little after the times the test events carry (an
/// event's time must be near the app's clock).
const NOW: u64 = 1_000;

fn tokens() -> Tokens {
    tokens_on(Arc::new(ManualClock::new(NOW)))
}

fn tokens_on(clock: Arc<dyn trainpod::clock::Clock>) -> Tokens {
    let ring = KeyRing::parse(&format!("k1:active:{}", generate_secret())).unwrap();
    Tokens::builder()
        .keys(ring)
        .audience("https://app.example.com")
        .clock(clock)
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

fn job_row(id: &str) -> JobRecord {
    JobRecord {
        state: JobState::Provisioning,
        pod_id: Some("pod-1".into()),
        deadline_unix: 4_000_000_000,
        budget_usd: 10.0,
        price_per_hour: 1.0,
        started_at: Some(1),
        ..JobRecord::new(id, "user-1", 1)
    }
}

async fn ingest(
    t: &Tokens,
    store: &dyn Store,
    job: &str,
    auth: Option<&str>,
    body: &[u8],
) -> trainpod::Result<IngestOutcome> {
    ingest_metrics(t, store, None, job, auth, body).await
}

async fn contract(store: &dyn Store) {
    let t = tokens();
    let job = format!("job-{}", Uuid::new_v4().simple());
    store.insert_job(&job_row(&job)).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, &job, Some(1));
    let auth = Some(auth.as_str());

    let first = body(&job, 1, &format!("{TRAINING},{LOG}"));
    let out = ingest(&t, store, &job, auth, &first).await.unwrap();
    assert_eq!(
        (out.status, out.replay, out.terminate_pod),
        (200, false, false)
    );
    assert_eq!(out.job.state, JobState::Training, "{}", store.backend());
    assert_eq!(
        (out.job.step, out.job.max_steps, out.job.loss),
        (Some(2), Some(6), Some(1.5))
    );
    // The sign of life is when the app received the batch, not the time the pod wrote in it.
    let received = out.job.last_heartbeat.unwrap();
    assert_eq!(received, NOW);
    assert_eq!(
        store.get_job(&job).await.unwrap().unwrap(),
        out.job,
        "the row was saved"
    );

    let again = ingest(&t, store, &job, auth, &first).await.unwrap();
    assert!(again.replay, "{}", store.backend());
    assert_eq!(again.job, out.job, "a replay changes nothing");
    assert_eq!(
        store.events(&job, 1).await.unwrap().len(),
        1,
        "events kept once"
    );

    let conflict = ingest(&t, store, &job, auth, &body(&job, 1, LOG))
        .await
        .unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::SequenceConflict);
    assert_eq!(conflict.kind().http_status(), 409);

    let last = ingest(&t, store, &job, auth, &body(&job, 2, FINAL))
        .await
        .unwrap();
    assert!(last.terminate_pod);
    assert_eq!(last.job.state, JobState::Succeeded);
    let kept = store.events(&job, 1).await.unwrap();
    assert_eq!(kept.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
    // The events are kept as the pod sent them: its key order, not one written again.
    assert_eq!(kept[0].1, format!("[{TRAINING},{LOG}]"));
    assert_eq!(kept[1].1, format!("[{FINAL}]"));

    // A late batch of an ended job is taken, changes nothing, and tells the pod to stop.
    let late = ingest(&t, store, &job, auth, &body(&job, 3, TRAINING))
        .await
        .unwrap();
    assert_eq!(late.job.state, JobState::Succeeded);
    assert_eq!(late.body, r#"{"ok":true,"cancel":true}"#);
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
    store.insert_job(&job_row(job)).await.unwrap();
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
        let err = ingest(&t, store.as_ref(), job, auth.as_deref(), &body)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        // The same refusal from the checks alone, which need no store.
        let err = check_metrics(&t, None, job, auth.as_deref(), &body).unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
    }
    let unknown = bearer(&t, Purpose::MetricsWrite, "job-z", Some(1));
    let err = ingest(
        &t,
        store.as_ref(),
        "job-z",
        Some(&unknown),
        &body("job-z", 1, LOG),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // The checks passed that one: finding the job is the store's part.
    check_metrics(&t, None, "job-z", Some(&unknown), &body("job-z", 1, LOG)).unwrap();
    // None of them used a batch number: the first good batch is still new.
    let out = ingest(&t, store.as_ref(), job, Some(&good), &body(job, 1, LOG))
        .await
        .unwrap();
    assert!(!out.replay);
}

#[tokio::test]
async fn a_flood_is_rate_limited_with_retry_after() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    let limiter = RateLimiter::new(2, 1.0, Arc::new(ManualClock::new(1_000)));
    let job = "job-flood";
    store.insert_job(&job_row(job)).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, job, Some(1));
    for n in 1..=2 {
        ingest_metrics(
            &t,
            store.as_ref(),
            Some(&limiter),
            job,
            Some(&auth),
            &body(job, n, LOG),
        )
        .await
        .unwrap();
    }
    let err = ingest_metrics(
        &t,
        store.as_ref(),
        Some(&limiter),
        job,
        Some(&auth),
        &body(job, 3, LOG),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind().http_status(), 429);
    assert_eq!(err.retry_after_secs(), Some(1));
}

#[tokio::test]
async fn a_checked_batch_is_kept_after_its_body_is_gone() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-c")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-c", Some(1));
    let sent = body("job-c", 1, LOG);
    let checked = check_metrics(&t, None, "job-c", Some(&auth), &sent).unwrap();
    assert_eq!(
        (checked.batch().batch, checked.batch().events.len()),
        (1, 1)
    );
    drop(sent);
    let out = ingest_checked(store.as_ref(), checked).await.unwrap();
    assert_eq!((out.replay, out.job.step), (false, Some(2)));
    let kept = store.events("job-c", 1).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].1, format!("[{LOG}]"));
    // The same body again is a replay: the checked batch carried the body's digest.
    let again = ingest(
        &t,
        store.as_ref(),
        "job-c",
        Some(&auth),
        &body("job-c", 1, LOG),
    )
    .await
    .unwrap();
    assert!(again.replay);
}

#[tokio::test]
async fn a_batch_that_changes_nothing_leaves_the_row_as_it_was() {
    let clock = Arc::new(ManualClock::new(1_000));
    let t = tokens_on(clock.clone());
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-u")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-u", Some(1));
    let send = |n: u64, events: String| {
        let (t, store, auth) = (&t, store.as_ref(), auth.clone());
        async move { ingest(t, store, "job-u", Some(&auth), &body("job-u", n, &events)).await }
    };

    let first = send(1, LOG.to_owned()).await.unwrap();
    assert_eq!((first.job.updated_at, first.job.step), (1_000, Some(2)));
    assert_eq!(first.job.last_heartbeat, Some(1_000));
    // Another batch with the same figures in the same second: new, yet the row does not move.
    let same = send(2, LOG.to_owned()).await.unwrap();
    assert!(!same.replay);
    assert_eq!(same.job, first.job, "not even updated_at");
    assert_eq!(store.get_job("job-u").await.unwrap().unwrap(), first.job);
    // Later, the same figures are still a sign of life, received at the app's time.
    clock.set(1_050);
    let later = send(3, LOG.to_owned()).await.unwrap();
    assert_eq!(later.job.last_heartbeat, Some(1_050));
    // A replay of an old batch is no sign of life.
    clock.set(1_200);
    let replay = send(3, LOG.to_owned()).await.unwrap();
    assert!(replay.replay);
    assert_eq!(replay.job.last_heartbeat, Some(1_050));
    // One figure moves, and the row with it.
    clock.set(1_260);
    let moved = send(4, LOG.replace(r#""step":2"#, r#""step":3"#))
        .await
        .unwrap();
    assert_eq!((moved.job.updated_at, moved.job.step), (1_260, Some(3)));
    assert_eq!(store.get_job("job-u").await.unwrap().unwrap(), moved.job);
}

#[tokio::test]
async fn a_pod_clock_far_ahead_never_keeps_a_job_fresh() {
    let clock = Arc::new(ManualClock::new(1_000));
    let t = tokens_on(clock.clone());
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-f")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-f", Some(1));
    // Hours ahead: taken (a day is the most), yet the sign of life is the app's time.
    let ahead = LOG.replace(r#""ts":5"#, r#""ts":80000"#);
    let out = ingest(
        &t,
        store.as_ref(),
        "job-f",
        Some(&auth),
        &body("job-f", 1, &ahead),
    )
    .await
    .unwrap();
    assert_eq!(out.job.last_heartbeat, Some(1_000));
}

const CHECKIN: &str =
    r#"{"n":0,"source":"bootstrap","type":"checkin","stage":"init","ts":1,"data":{"boot":"BOOT"}}"#;

#[tokio::test]
async fn a_restarted_container_is_told_not_to_run_and_its_job_ends() {
    let clock = Arc::new(ManualClock::new(1_000));
    let t = tokens_on(clock.clone());
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-r")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-r", Some(1));
    let checkin = |boot: &str| body("job-r", 0, &CHECKIN.replace("BOOT", boot));
    let first = ingest(&t, store.as_ref(), "job-r", Some(&auth), &checkin("a"))
        .await
        .unwrap();
    assert_eq!((first.status, first.terminate_pod), (200, false));
    // The same container asking again (a lost answer) may run.
    let again = ingest(&t, store.as_ref(), "job-r", Some(&auth), &checkin("a"))
        .await
        .unwrap();
    assert_eq!((again.status, again.replay), (200, true));
    ingest(
        &t,
        store.as_ref(),
        "job-r",
        Some(&auth),
        &body("job-r", 1, &format!("{TRAINING},{LOG}")),
    )
    .await
    .unwrap();
    // Another container of the same attempt: RunPod restarted it.
    clock.set(1_100);
    let restarted = ingest(&t, store.as_ref(), "job-r", Some(&auth), &checkin("b"))
        .await
        .unwrap();
    assert_eq!((restarted.status, restarted.terminate_pod), (409, true));
    assert!(restarted.body.contains(r#""run":false"#));
    let job = store.get_job("job-r").await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.reason, "container_restarted");
    assert!(job.cause.contains("never runs twice"), "{}", job.cause);
    assert_eq!(job.step, Some(2), "the progress made is kept");
}

#[tokio::test]
async fn a_failed_final_status_keeps_its_cause_on_the_job() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-x")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-x", Some(1));
    // "the dataset's sha256 is 00\n(details)\u{1b}" in base64: the first line, cleaned.
    let cause = "dGhlIGRhdGFzZXQncyBzaGEyNTYgaXMgMDAKKGRldGFpbHMpGw==";
    let failed = FINAL
        .replace(
            r#""status":"succeeded","reason":"""#,
            r#""status":"failed","reason":"dataset""#,
        )
        .replace(r#""cause_b64":"""#, &format!(r#""cause_b64":"{cause}""#))
        .replace(r#""exit_code":0"#, r#""exit_code":10"#)
        .replace(
            r#""log_tail_b64":"""#,
            r#""log_tail_b64":"c3RhZ2UgZGF0YXNldA==""#,
        );
    let out = ingest(
        &t,
        store.as_ref(),
        "job-x",
        Some(&auth),
        &body("job-x", 1, &failed),
    )
    .await
    .unwrap();
    assert_eq!(out.job.state, JobState::Failed);
    assert_eq!(out.job.reason, "dataset");
    assert_eq!(out.job.cause, "the dataset's sha256 is 00");
    // Where, how and the end of its log, kept on the job so they outlive the pod.
    assert_eq!(out.job.stage, "uploading");
    assert_eq!(out.job.exit_code, Some(10));
    assert_eq!(out.job.log_tail, "stage dataset");
    assert_eq!(store.get_job("job-x").await.unwrap().unwrap(), out.job);
}

#[tokio::test]
async fn what_a_pod_sent_comes_back_escaped_and_bounded() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-q")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-q", Some(1));
    // A job id that forges a log line, clears a terminal and runs on for kilobytes.
    let forged = format!("job-q\nINFO all good\u{1b}[2J{}", "x".repeat(4000));
    let sent = serde_json::json!({"job": forged, "attempt": 1, "batch": 1,
        "events": [serde_json::from_str::<serde_json::Value>(LOG).unwrap()]});
    let err = ingest(
        &t,
        store.as_ref(),
        "job-q",
        Some(&auth),
        sent.to_string().as_bytes(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenScopeMismatch);
    for shown in [
        err.message().to_owned(),
        err.to_string(),
        format!("{err:?}"),
    ] {
        assert!(
            !shown.contains('\n') && !shown.contains('\u{1b}'),
            "{shown}"
        );
        assert!(!shown.contains(&"x".repeat(100)), "{shown}");
    }
    assert!(
        err.message().contains(r#""job-q\nINFO all good\u{1b}[2J"#),
        "{err}"
    );
}

#[tokio::test]
async fn a_final_status_keeps_a_known_reason_and_its_free_text_only_as_the_cause() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-r")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-r", Some(1));
    use base64::Engine;
    let cause = base64::engine::general_purpose::STANDARD
        .encode("<img src=x onerror=alert(1)>\u{1b}[31m broke\u{7}down\nsecond line");
    let data = serde_json::json!({"status": "failed", "exit_code": 3, "cause_b64": cause,
        "reason": "<script>alert(1)</script>\n\u{1b}[2J", "log_tail_b64": ""});
    let event = format!(
        r#"{{"n":2,"source":"bootstrap","type":"final","stage":"training","ts":9,"data":{data}}}"#
    );
    let out = ingest(
        &t,
        store.as_ref(),
        "job-r",
        Some(&auth),
        &body("job-r", 1, &event),
    )
    .await
    .unwrap();
    assert_eq!(out.job.state, JobState::Failed);
    assert_eq!(out.job.reason, trainpod::jobs::UNKNOWN_REASON);
    // The cause stays the pod's words, as data: one line, no control characters.
    assert_eq!(
        out.job.cause,
        "<img src=x onerror=alert(1)> [31m broke down"
    );
    assert_eq!(store.get_job("job-r").await.unwrap().unwrap(), out.job);
}

/// After batch 500, numbers far behind or ahead are refused; a replay stays a replay; a pod may
/// not post into the log-read numbers; a check-in after other batches is a restarted container.
async fn window_contract(store: &dyn Store) {
    use trainpod::jobs::{BATCH_WINDOW, LOG_BATCH_BASE};
    let t = tokens();
    let job = format!("job-{}", Uuid::new_v4().simple());
    store.insert_job(&job_row(&job)).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, &job, Some(1));
    let send = |n: u64, events: &str| {
        let (t, auth, sent) = (&t, auth.clone(), body(&job, n, events));
        let job = job.clone();
        async move { ingest(t, store, &job, Some(&auth), &sent).await }
    };
    for n in [1, 250, 500] {
        assert!(!send(n, LOG).await.unwrap().replay, "{}", store.backend());
    }
    for n in [
        3,
        500 - BATCH_WINDOW,
        500 + BATCH_WINDOW + 1,
        LOG_BATCH_BASE,
    ] {
        let err = send(n, LOG).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SequenceConflict, "{n}: {err}");
        assert_eq!(err.kind().http_status(), 409);
    }
    assert!(
        send(1, LOG).await.unwrap().replay,
        "a replay whatever the window"
    );
    assert!(
        !send(499, LOG).await.unwrap().replay,
        "a little behind is taken"
    );
    // Only what was accepted is kept: a refused batch's events never reach `follow`.
    let kept: Vec<u64> = store
        .events(&job, 1)
        .await
        .unwrap()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(kept, [1, 250, 499, 500], "{}", store.backend());
    // The unseen check-in: another container, which must not run; the job ends.
    let checkin = send(0, &CHECKIN.replace("BOOT", "late")).await.unwrap();
    assert_eq!((checkin.status, checkin.terminate_pod), (409, true));
    assert!(checkin.body.contains(r#""run":false"#), "{}", checkin.body);
    let ended = store.get_job(&job).await.unwrap().unwrap();
    assert_eq!(
        (ended.state, ended.reason.as_str()),
        (JobState::Failed, "container_restarted")
    );
    assert_eq!(
        store.events(&job, 1).await.unwrap().len(),
        4,
        "nor the late check-in"
    );
}

#[tokio::test]
async fn batch_numbers_outside_the_window_are_refused_on_every_store() {
    window_contract(store::open("memory:").await.unwrap().as_ref()).await;
    window_contract(store::open("sqlite::memory:").await.unwrap().as_ref()).await;
    if let Some(url) = common::postgres_url() {
        window_contract(store::open(&url).await.unwrap().as_ref()).await;
    }
}

#[tokio::test]
async fn what_no_binding_could_carry_is_refused_naming_the_field_before_any_store_write() {
    let t = tokens();
    let store = store::open("memory:").await.unwrap();
    store.insert_job(&job_row("job-n")).await.unwrap();
    let auth = bearer(&t, Purpose::MetricsWrite, "job-n", Some(1));
    let huge = trainpod::jobs::MAX_SAFE_INTEGER + 1;
    let cases = [
        (
            LOG.replace(r#""loss":1.5"#, r#""loss":1.5,"loss":0.1"#),
            r#"events[0]: duplicate key "loss" in data"#,
        ),
        (
            LOG.replace(r#""loss":1.5"#, r#""m":{"a":[{"x":1,"x":2}]}"#),
            r#"duplicate key "x" in data.m.a[0]"#,
        ),
        (
            LOG.replace(r#""step":2"#, &format!(r#""step":{huge}"#)),
            "data.step is 9007199254740992",
        ),
        (
            LOG.replace(r#""max_steps":6"#, r#""max_steps":1e300"#),
            "data.max_steps is 1e+300",
        ),
        (
            LOG.replace(r#""loss":1.5"#, &format!(r#""tokens":[-{huge}]"#)),
            "data.tokens[0] is -9007199254740992",
        ),
        (
            LOG.replace(r#""n":1"#, &format!(r#""n":{huge}"#)),
            "events[0]: n is 9007199254740992",
        ),
        (
            LOG.replace(r#""ts":5"#, &format!(r#""ts":{}"#, NOW + 2 * 86_400)),
            "events[0].ts is 173800.0, more than 86400 s ahead of the app's clock (1000)",
        ),
        (
            LOG.replace(r#""ts":5"#, r#""ts":1e300"#),
            "events[0].ts is 1e+300, more than 86400 s ahead",
        ),
    ];
    for (event, needle) in cases {
        let err = ingest(
            &t,
            store.as_ref(),
            "job-n",
            Some(&auth),
            &body("job-n", 1, &event),
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.message().contains(needle), "{needle}: {err}");
    }
    let far = body("job-n", huge, LOG);
    let err = ingest(&t, store.as_ref(), "job-n", Some(&auth), &far)
        .await
        .unwrap_err();
    assert!(err.message().contains("batch is 9007199254740992"), "{err}");
    // None of them was kept: the first good batch is new.
    let out = ingest(
        &t,
        store.as_ref(),
        "job-n",
        Some(&auth),
        &body("job-n", 1, LOG),
    )
    .await
    .unwrap();
    assert!(!out.replay);
    assert_eq!(out.job.step, Some(2));
}
