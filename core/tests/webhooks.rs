//! Webhooks end to end on every store (memory, SQLite, a real Postgres): events queued with the
//! job's change, leased to one delivery pass at a time, POSTed to a real HTTP receiver on
//! loopback that checks each signature with its own HMAC, retried with the same id, and signed
//! so that a secret rotates without a lost delivery.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trainpod::ErrorKind;
use trainpod::clock::{Clock, ManualClock};
use trainpod::jobs::JobState;
use trainpod::sdk::Trainpod;
use trainpod::store::{
    self, JobRecord, PostgresStore, SqliteStore, Store, WebhookAttempt, WebhookStatus,
};
use trainpod::webhooks::{
    DeliveryOutcome, LEASE_SECS, WebhookEndpoint, WebhookEvent, WebhookHeaders, WebhookSecret,
    deliver_due, generate_webhook_secret, parse_secrets, verify_event,
};
use uuid::Uuid;

const T0: u64 = 1_900_000_000;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<Got>>,
    /// Each message is answered 500 this many times before 204.
    fail_times: AtomicU32,
    /// How long each answer takes, so that passes running at once overlap.
    delay_ms: AtomicU32,
}

impl Inbox {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

/// A webhook receiver on loopback: keeps what it gets, answers as `Inbox` says.
async fn receiver() -> (String, Arc<Inbox>) {
    async fn hook(
        State(inbox): State<Arc<Inbox>>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let got = Got {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.to_vec(),
        };
        let delay = inbox.delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
        let tries = {
            let mut all = inbox.got.lock().unwrap();
            all.push(got.clone());
            all.iter().filter(|g| g.id == got.id).count() as u32
        };
        if tries <= inbox.fail_times.load(Ordering::SeqCst) {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        }
    }
    let inbox = Arc::new(Inbox::default());
    let app = axum::Router::new()
        .route("/hooks", axum::routing::post(hook))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

/// The receiver's own check of a signature, with the hmac crate (not trainpod's code): does
/// some `v1` signature of the header match under `secret`?
fn signed_by(got: &Got, secret: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", got.id, got.timestamp).as_bytes());
    mac.update(&got.body);
    let expected = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    got.signature.split(' ').any(|s| s == expected)
}

/// trainpod's own verification of what the receiver got, at `now`.
fn verified(got: &Got, secrets: &[&str], now: u64) -> trainpod::Result<WebhookEvent> {
    let headers = WebhookHeaders {
        id: Some(&got.id),
        timestamp: Some(&got.timestamp),
        signature: Some(&got.signature),
    };
    verify_event(
        &parse_secrets(secrets).unwrap(),
        &headers,
        &got.body,
        now,
        300,
    )
}

fn endpoint(url: &str, secrets: &[&str]) -> WebhookEndpoint {
    WebhookEndpoint::new(url, parse_secrets(secrets).unwrap(), true).unwrap()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("trainpod-webhooks-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two handles on one store, as two app instances hold: the same object for memory, two pools
/// for SQLite (one file) and Postgres.
async fn stores() -> Vec<(Arc<dyn Store>, Arc<dyn Store>)> {
    let memory: Arc<dyn Store> = Arc::new(store::MemoryStore::new());
    let url = format!("sqlite://{}/webhooks.db", tempdir().display());
    let mut out = vec![
        (memory.clone(), memory),
        (
            Arc::new(SqliteStore::connect(&url).await.unwrap()) as Arc<dyn Store>,
            Arc::new(SqliteStore::connect(&url).await.unwrap()) as Arc<dyn Store>,
        ),
    ];
    if let Some(url) = common::postgres_url() {
        let url = own_schema(&url).await;
        out.push((
            Arc::new(PostgresStore::connect(&url).await.unwrap()),
            Arc::new(PostgresStore::connect(&url).await.unwrap()),
        ));
    }
    out
}

/// `url` with a schema of its own as the search path: the tests here run at once, and a
/// delivery pass takes every due message of its store.
async fn own_schema(url: &str) -> String {
    let schema = format!("webhooks_{}", Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    // The name is made here of a UUID's hex digits.
    sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// A job taken from queued to `state`, each step written as the SDK writes it.
async fn job_through(store: &dyn Store, id: &str, state: JobState, now: u64) -> JobRecord {
    let queued = JobRecord {
        budget_usd: 2.0,
        price_per_hour: 1.0,
        ..JobRecord::new(id, "user-1", now)
    };
    assert!(store.insert_job(&queued).await.unwrap());
    let claimed = JobRecord {
        state: JobState::Provisioning,
        ..queued.clone()
    };
    assert!(store.update_job(&claimed, JobState::Queued).await.unwrap());
    let deployed = JobRecord {
        pod_id: Some(format!("pod-{id}")),
        started_at: Some(now),
        ..claimed
    };
    assert!(
        store
            .update_job(&deployed, JobState::Provisioning)
            .await
            .unwrap()
    );
    let path: &[JobState] = match state {
        JobState::Provisioning => &[],
        JobState::Training => &[JobState::Training],
        _ => &[JobState::Training, state],
    };
    let mut job = deployed;
    for &next in path {
        let moved = JobRecord {
            state: next,
            updated_at: now + 60,
            ..job.clone()
        };
        assert!(store.update_job(&moved, job.state).await.unwrap());
        job = moved;
    }
    job
}

fn types(messages: &[store::WebhookMessage]) -> Vec<(u32, &str)> {
    messages
        .iter()
        .map(|m| (m.attempt, m.event_type.as_str()))
        .collect()
}

#[tokio::test]
async fn each_change_queues_its_events_in_the_same_write() {
    for (store, _) in stores().await {
        let store = store.as_ref();
        let id = unique("job");
        let job = job_through(store, &id, JobState::Training, T0).await;
        // A metric batch's write (state and pod kept) and a refused compare-and-set make none.
        let batch = JobRecord {
            step: Some(3),
            last_heartbeat: Some(T0 + 70),
            ..job.clone()
        };
        assert!(store.update_job(&batch, JobState::Training).await.unwrap());
        let stale = JobRecord {
            state: JobState::Failed,
            ..job.clone()
        };
        assert!(!store.update_job(&stale, JobState::Starting).await.unwrap());
        let ended = JobRecord {
            state: JobState::Failed,
            reason: "stale_heartbeat".into(),
            updated_at: T0 + 900,
            ..batch
        };
        assert!(store.update_job(&ended, JobState::Training).await.unwrap());
        // A retry: the new attempt's pod is `job.deployed` again; a refused retry put back
        // (the previous attempt restored) makes nothing.
        let second = JobRecord {
            attempt: 2,
            state: JobState::Provisioning,
            ..JobRecord::new(&id, "user-1", T0)
        };
        assert!(
            store
                .begin_attempt(&second, JobState::Failed, 1)
                .await
                .unwrap()
        );
        assert!(
            store
                .begin_attempt(&ended, JobState::Provisioning, 2)
                .await
                .unwrap()
        );
        assert!(
            store
                .begin_attempt(&second, JobState::Failed, 1)
                .await
                .unwrap()
        );
        let placed = JobRecord {
            pod_id: Some("pod-2".into()),
            ..second
        };
        assert!(
            store
                .update_job(&placed, JobState::Provisioning)
                .await
                .unwrap()
        );
        let messages = store.webhook_messages(&id).await.unwrap();
        assert_eq!(
            types(&messages),
            [
                (1, "job.deployed"),
                (1, "job.training_started"),
                (1, "job.failed"),
                (2, "job.deployed"),
            ],
            "{}",
            store.backend()
        );
        let failed: WebhookEvent = serde_json::from_str(&messages[2].payload).unwrap();
        assert_eq!(failed.data.ended_by.as_deref(), Some("reconciler"));
        assert_eq!(failed.data.reason, "stale_heartbeat");
        assert!(
            messages
                .iter()
                .all(|m| m.status == WebhookStatus::Pending && m.tries == 0)
        );
    }
}

#[tokio::test]
async fn a_lease_gives_each_message_to_one_pass_until_it_lapses() {
    for (a, b) in stores().await {
        let id = unique("lease");
        job_through(a.as_ref(), &id, JobState::Succeeded, T0).await;
        let now = T0 + 1_000;
        // Other tests' messages share the Postgres store: count this job's only.
        let mine = |ms: Vec<store::WebhookMessage>| -> Vec<String> {
            ms.into_iter()
                .filter(|m| m.job_id == id)
                .map(|m| m.id)
                .collect()
        };
        let (x, y) = tokio::join!(
            a.claim_webhooks("lease-a", now, LEASE_SECS, 1000),
            b.claim_webhooks("lease-b", now, LEASE_SECS, 1000)
        );
        let (x, y) = (mine(x.unwrap()), mine(y.unwrap()));
        assert_eq!(x.len() + y.len(), 3, "{}: {x:?} {y:?}", a.backend());
        assert!(x.iter().all(|m| !y.contains(m)), "{}", a.backend());
        let (held_by, other) = if x.is_empty() {
            ("lease-b", "lease-a")
        } else {
            ("lease-a", "lease-b")
        };
        let first = [x, y].concat().remove(0);
        // Held: no pass gets them again before the lease lapses.
        assert!(
            mine(
                a.claim_webhooks("lease-c", now + 1, LEASE_SECS, 1000)
                    .await
                    .unwrap()
            )
            .is_empty()
        );
        // A pass whose lease it is not cannot reschedule it; anyone may record it delivered.
        let retry = WebhookAttempt::Retry {
            next_at: now + 5,
            error: "the endpoint answered 500".into(),
        };
        assert!(!a.finish_webhook(&first, other, now, &retry).await.unwrap());
        assert!(
            a.finish_webhook(&first, held_by, now, &retry)
                .await
                .unwrap()
        );
        assert!(
            a.finish_webhook(&first, other, now + 1, &WebhookAttempt::Delivered)
                .await
                .unwrap()
        );
        assert!(
            !a.finish_webhook(&first, held_by, now + 1, &retry)
                .await
                .unwrap()
        );
        // After the lease, the others are taken again, their tries counted.
        let again = b
            .claim_webhooks("lease-d", now + LEASE_SECS, LEASE_SECS, 1000)
            .await
            .unwrap();
        let again: Vec<_> = again.into_iter().filter(|m| m.job_id == id).collect();
        assert_eq!(again.len(), 2, "{}", a.backend());
        assert!(again.iter().all(|m| m.tries == 2 && m.id != first));
        let kept = a.webhook_messages(&id).await.unwrap();
        let delivered = kept.iter().find(|m| m.id == first).unwrap();
        assert_eq!(
            (delivered.status, delivered.done_at, delivered.tries),
            (WebhookStatus::Delivered, Some(now + 1), 1)
        );
        // Pruning deletes by the event's time, whatever the status.
        assert!(a.prune_webhooks(T0 + 61).await.unwrap() >= 3);
        assert!(a.webhook_messages(&id).await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_are_signed_and_a_failing_receiver_gets_the_same_id() {
    let (url, inbox) = receiver().await;
    inbox.fail_times.store(2, Ordering::SeqCst);
    let secret = generate_webhook_secret();
    let hooks = endpoint(&url, &[&secret]);
    for (store, _) in stores().await {
        let store = store.as_ref();
        // Only this job's messages are due at first: other tests' are later or already out.
        let id = unique("retry");
        let clock = ManualClock::new(T0 + 10_000_000);
        let t = clock.now_unix_secs();
        let queued = JobRecord::new(&id, "user-1", t);
        assert!(store.insert_job(&queued).await.unwrap());
        let cancelled = JobRecord {
            state: JobState::Cancelled,
            reason: "cancelled".into(),
            ..queued
        };
        assert!(
            store
                .update_job(&cancelled, JobState::Queued)
                .await
                .unwrap()
        );
        let seen = inbox.got().len();
        let report = deliver_due(store, &hooks, &clock).await.unwrap();
        let mine = |r: &trainpod::webhooks::WebhookReport| {
            r.deliveries
                .iter()
                .filter(|d| d.job_id == id)
                .cloned()
                .collect::<Vec<_>>()
        };
        let first = mine(&report);
        assert_eq!(first.len(), 1, "{}: {report:?}", store.backend());
        assert_eq!(first[0].outcome, DeliveryOutcome::Retrying);
        assert_eq!(first[0].status, Some(500));
        assert!((t + 5..=t + 5).contains(&first[0].next_at.unwrap()));
        // Not due before its time.
        clock.advance(4);
        assert!(mine(&deliver_due(store, &hooks, &clock).await.unwrap()).is_empty());
        clock.advance(1);
        let second = mine(&deliver_due(store, &hooks, &clock).await.unwrap());
        assert_eq!(
            (second[0].outcome, second[0].try_number),
            (DeliveryOutcome::Retrying, 2)
        );
        let wait = second[0].next_at.unwrap() - clock.now_unix_secs();
        assert!((300..=330).contains(&wait), "{wait}");
        clock.advance(wait);
        let third = mine(&deliver_due(store, &hooks, &clock).await.unwrap());
        assert_eq!(
            (third[0].outcome, third[0].try_number),
            (DeliveryOutcome::Delivered, 3)
        );
        let got: Vec<Got> = inbox.got().split_off(seen);
        assert_eq!(got.len(), 3);
        assert!(
            got.iter()
                .all(|g| g.id == first[0].msg_id && g.body == got[0].body)
        );
        assert_ne!(
            got[0].timestamp, got[2].timestamp,
            "each try is signed at its own time"
        );
        for g in &got {
            assert!(signed_by(g, &secret));
            let event = verified(g, &[&secret], g.timestamp.parse().unwrap()).unwrap();
            assert_eq!(
                (event.event_type.as_str(), event.data.ended_by.as_deref()),
                ("job.cancelled", Some("request"))
            );
        }
        let kept = store.webhook_messages(&id).await.unwrap();
        assert_eq!(
            (kept[0].status, kept[0].tries),
            (WebhookStatus::Delivered, 3)
        );
        assert!(mine(&deliver_due(store, &hooks, &clock).await.unwrap()).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_app_instances_deliver_each_message_once() {
    let (url, inbox) = receiver().await;
    inbox.delay_ms.store(20, Ordering::SeqCst);
    let secret = generate_webhook_secret();
    for (a, b) in stores().await {
        let now = T0 + 20_000_000;
        let prefix = unique("pair");
        for i in 0..12 {
            job_through(
                a.as_ref(),
                &format!("{prefix}-{i}"),
                JobState::Succeeded,
                now,
            )
            .await;
        }
        let clock = Arc::new(ManualClock::new(now + 100));
        let instance = |store: Arc<dyn Store>| {
            let (clock, hooks) = (clock.clone(), endpoint(&url, &[&secret]));
            async move {
                let mut n = 0;
                while deliver_due(store.as_ref(), &hooks, clock.as_ref())
                    .await
                    .unwrap()
                    .delivered
                    > 0
                {
                    n += 1;
                }
                n
            }
        };
        let (x, y) = tokio::join!(
            tokio::spawn(instance(a.clone())),
            tokio::spawn(instance(b.clone()))
        );
        assert!(x.unwrap() + y.unwrap() >= 1);
        let mut per_id: HashMap<String, usize> = HashMap::new();
        for g in inbox
            .got()
            .iter()
            .filter(|g| String::from_utf8_lossy(&g.body).contains(&prefix))
        {
            assert!(signed_by(g, &secret));
            *per_id.entry(g.id.clone()).or_default() += 1;
        }
        assert_eq!(per_id.len(), 36, "{}", a.backend());
        assert!(
            per_id.values().all(|n| *n == 1),
            "{}: {per_id:?}",
            a.backend()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_secret_loses_no_delivery() {
    let (url, inbox) = receiver().await;
    let (old, new) = (generate_webhook_secret(), generate_webhook_secret());
    let (store, _) = stores().await.remove(0);
    let clock = ManualClock::new(T0);
    // Queued, and failed once, while only the old secret signs.
    inbox.fail_times.store(1, Ordering::SeqCst);
    let id = unique("rotate");
    job_through(store.as_ref(), &id, JobState::Provisioning, T0).await;
    deliver_due(store.as_ref(), &endpoint(&url, &[&old]), &clock)
        .await
        .unwrap();
    // Mid-rotation, the message goes out signed with both: receivers holding either verify.
    clock.advance(10);
    let report = deliver_due(store.as_ref(), &endpoint(&url, &[&new, &old]), &clock)
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    let both = inbox.got().pop().unwrap();
    let now = clock.now_unix_secs();
    assert!(signed_by(&both, &new) && signed_by(&both, &old));
    assert!(verified(&both, &[&new], now).is_ok());
    assert!(verified(&both, &[&old], now).is_ok());
    // After it, only the new one signs: a receiver still on the old one refuses.
    inbox.fail_times.store(0, Ordering::SeqCst);
    let later = unique("rotate");
    job_through(store.as_ref(), &later, JobState::Provisioning, now).await;
    deliver_due(store.as_ref(), &endpoint(&url, &[&new]), &clock)
        .await
        .unwrap();
    let after = inbox.got().pop().unwrap();
    assert!(verified(&after, &[&new], now).is_ok());
    let refused = verified(&after, &[&old], now).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::WebhookSignatureInvalid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn transport_failures_are_kept_without_secrets_and_the_last_try_gives_up() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = generate_webhook_secret();
    let hooks = endpoint(
        &format!("http://127.0.0.1:{port}/hooks?token=hunter2"),
        &[&secret],
    );
    let store = store::MemoryStore::new();
    let clock = ManualClock::new(T0);
    let id = unique("gone");
    job_through(&store, &id, JobState::Provisioning, T0).await;
    let mut outcomes = Vec::new();
    for _ in 0..trainpod::webhooks::MAX_TRIES {
        let report = deliver_due(&store, &hooks, &clock).await.unwrap();
        outcomes.push(report.deliveries[0].clone());
        if let Some(next) = report.deliveries[0].next_at {
            clock.set(next);
        }
    }
    assert!(
        outcomes[..9]
            .iter()
            .all(|d| d.outcome == DeliveryOutcome::Retrying)
    );
    assert_eq!(outcomes[9].outcome, DeliveryOutcome::Failed);
    let kept = &store.webhook_messages(&id).await.unwrap()[0];
    assert_eq!((kept.status, kept.tries), (WebhookStatus::Failed, 10));
    assert!(kept.last_error.contains("the last"), "{}", kept.last_error);
    for text in outcomes
        .iter()
        .map(|d| d.error.as_str())
        .chain([kept.last_error.as_str()])
    {
        assert!(
            text.contains("request failed") || text.contains("the last"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2") && !text.contains(&secret[6..]),
            "{text}"
        );
    }
    // The last try was three days and more after the event.
    let schedule: u64 = trainpod::webhooks::RETRY_DELAYS_SECS.iter().sum();
    assert_eq!(outcomes[9].try_number, 10);
    assert!(clock.now_unix_secs() - T0 >= schedule);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sdk_checks_its_webhook_settings_and_delivers_what_its_jobs_do() {
    let (url, inbox) = receiver().await;
    let secret = generate_webhook_secret();
    let builder = |store: Arc<dyn Store>| {
        Trainpod::builder()
            .ignore_env()
            .runpod_api_key("rpa_TESTKEY0000000000000000000000")
            .runpod_base_url("http://127.0.0.1:9")
            .signing_keys(
                trainpod::token::KeyRing::parse(&format!(
                    "k1:active:{}",
                    trainpod::token::generate_secret()
                ))
                .unwrap(),
            )
            .store(store)
    };
    let memory: Arc<dyn Store> = Arc::new(store::MemoryStore::new());
    let refused = [
        builder(memory.clone())
            .webhook_url(&url)
            .allow_loopback(true),
        builder(memory.clone()).webhook_secrets([&secret]),
        builder(memory.clone())
            .webhook_url(&url)
            .webhook_secrets([&secret]),
        builder(memory.clone())
            .webhook_url("http://app.example.com/hooks")
            .webhook_secrets([&secret])
            .allow_loopback(true),
        builder(memory.clone())
            .webhook_url(&url)
            .webhook_secrets(["whsec_short"])
            .allow_loopback(true),
    ];
    for b in refused {
        let err = b.build().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(!err.to_string().contains(&secret[6..]));
    }
    let plain = builder(memory.clone()).build().await.unwrap();
    assert_eq!(
        plain.deliver_webhooks().await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let tp = builder(memory.clone())
        .webhook_url(&url)
        .webhook_secrets([secret.clone()])
        .allow_loopback(true)
        .build()
        .await
        .unwrap();
    let id = unique("sdk");
    memory
        .insert_job(&JobRecord::new(
            &id,
            "user-1",
            trainpod::clock::SystemClock.now_unix_secs(),
        ))
        .await
        .unwrap();
    tp.cancel(&id).await.unwrap();
    let report = tp.deliver_webhooks().await.unwrap();
    assert_eq!(
        (report.delivered, report.retrying, report.failed),
        (1, 0, 0)
    );
    let got = inbox.got().pop().unwrap();
    let now = trainpod::clock::SystemClock.now_unix_secs();
    let event = verified(&got, &[&secret], now).unwrap();
    assert_eq!(event.event_type, "job.cancelled");
    assert_eq!(event.data.job_id, id);
    assert_eq!(event.data.state, JobState::Cancelled);
    assert_eq!(event.data.ended_by.as_deref(), Some("request"));
    let _ = WebhookSecret::parse(&secret).unwrap();
}
