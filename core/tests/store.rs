//! The store contract, run against every backend: memory, SQLite and a real Postgres server.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::sync::Arc;
use tokio::sync::Barrier;
use trainpod::ErrorKind;
use trainpod::jobs::{BATCH_WINDOW, JobState, LOG_BATCH_BASE};
use trainpod::store::{
    self, BatchOutcome, JobRecord, MetricBatch, PostgresStore, Redemption, SqliteStore, Store,
};
use trainpod::token::Purpose;
use uuid::Uuid;

fn redemption(jti: Uuid, expires_at: u64) -> Redemption {
    Redemption {
        jti,
        purpose: Purpose::DatasetRead,
        job: "job-1".into(),
        expires_at,
        redeemed_at: 100,
    }
}

fn batch(job: &str, epoch: u32, seq: u64, body: u8) -> MetricBatch {
    MetricBatch {
        job: job.into(),
        epoch,
        seq,
        body_sha256: [body; 32],
        received_at: 100,
    }
}

async fn contract(store: &dyn Store) {
    let jti = Uuid::new_v4();
    store.redeem(&redemption(jti, 1_000)).await.unwrap();
    let again = store.redeem(&redemption(jti, 1_000)).await.unwrap_err();
    assert_eq!(
        again.kind(),
        ErrorKind::TokenAlreadyUsed,
        "{}",
        store.backend()
    );
    store
        .redeem(&redemption(Uuid::new_v4(), 1_000))
        .await
        .unwrap();

    let job = format!("job-{}", Uuid::new_v4());
    assert_eq!(
        store.accept_batch(&batch(&job, 0, 0, 1)).await.unwrap(),
        BatchOutcome::Accepted
    );
    assert_eq!(
        store.accept_batch(&batch(&job, 0, 0, 1)).await.unwrap(),
        BatchOutcome::Replayed
    );
    let conflict = store.accept_batch(&batch(&job, 0, 0, 2)).await.unwrap_err();
    assert_eq!(conflict.kind(), ErrorKind::SequenceConflict);
    assert_eq!(conflict.kind().http_status(), 409);
    assert_eq!(
        store.accept_batch(&batch(&job, 0, 1, 2)).await.unwrap(),
        BatchOutcome::Accepted
    );
    // A new attempt restarts its numbering; another job has its own.
    assert_eq!(
        store.accept_batch(&batch(&job, 1, 0, 9)).await.unwrap(),
        BatchOutcome::Accepted
    );
    assert_eq!(
        store
            .accept_batch(&batch(&format!("{job}-b"), 0, 0, 7))
            .await
            .unwrap(),
        BatchOutcome::Accepted
    );
    // Sequence numbers up to i64::MAX are stored exactly.
    let big = i64::MAX as u64;
    assert_eq!(
        store
            .accept_batch(&batch(&job, u32::MAX, big, 3))
            .await
            .unwrap(),
        BatchOutcome::Accepted
    );
    assert_eq!(
        store
            .accept_batch(&batch(&job, u32::MAX, big, 3))
            .await
            .unwrap(),
        BatchOutcome::Replayed
    );

    window_contract(store).await;
    events_contract(store).await;
    jobs_contract(store).await;

    let old = Uuid::new_v4();
    store.redeem(&redemption(old, 10)).await.unwrap();
    assert!(store.prune_redemptions(11).await.unwrap() >= 1);
    // Pruned rows are gone; rows that have not expired stay.
    store.redeem(&redemption(old, 10)).await.unwrap();
    assert_eq!(
        store
            .redeem(&redemption(jti, 1_000))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::TokenAlreadyUsed
    );
    digests_contract(store).await;
}

/// A dataset digest is kept under its file key once: the first kept wins, and another key is
/// another file version.
async fn digests_contract(store: &dyn Store) {
    let key = format!(
        "64768:{}:42:1.000000001:1.000000002",
        Uuid::new_v4().as_u128() % 1000
    );
    assert_eq!(store.dataset_digest(&key).await.unwrap(), None);
    store.keep_dataset_digest(&key, &[1; 32]).await.unwrap();
    store.keep_dataset_digest(&key, &[2; 32]).await.unwrap();
    assert_eq!(store.dataset_digest(&key).await.unwrap(), Some([1; 32]));
    let other = format!("{key}9");
    assert_eq!(store.dataset_digest(&other).await.unwrap(), None);
}

/// A number not seen before is taken only within the window around the highest one the attempt
/// accepted; a replay stays a replay whatever the window; the check-in comes first; log-read
/// numbers are a space of their own; each attempt has its own window.
async fn window_contract(store: &dyn Store) {
    const W: u64 = BATCH_WINDOW;
    let job = format!("job-{}", Uuid::new_v4());
    let send = |seq: u64, body: u8| {
        let b = batch(&job, 1, seq, body);
        async move { store.accept_batch(&b).await }
    };
    let refused = |r: trainpod::Result<BatchOutcome>, needle: &str| {
        let err = r.unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::SequenceConflict,
            "{}: {err}",
            store.backend()
        );
        assert_eq!(err.kind().http_status(), 409);
        assert!(err.message().contains(needle), "{needle}: {err}");
    };
    let accepted = |r: trainpod::Result<BatchOutcome>| {
        assert_eq!(r.unwrap(), BatchOutcome::Accepted, "{}", store.backend());
    };
    accepted(send(0, 1).await);
    // Far ahead of the first batches: no batch of this pod.
    refused(send(W + 2, 1).await, "the highest it accepted");
    accepted(send(1, 1).await);
    accepted(send(250, 1).await);
    accepted(send(500, 1).await);
    // After batch 500, an unseen batch 3 is far behind; batch 1 again is still a replay.
    refused(
        send(3, 1).await,
        &format!("batch 3 of attempt 1 for job \"{job}\" is more than {W} away from batch 500"),
    );
    assert_eq!(send(1, 1).await.unwrap(), BatchOutcome::Replayed);
    refused(send(1, 2).await, "different body");
    assert_eq!(send(0, 1).await.unwrap(), BatchOutcome::Replayed);
    // Just inside either edge, and just outside.
    accepted(send(500 - W + 1, 1).await);
    refused(send(500 - W, 1).await, "away from batch 500");
    accepted(send(500 + W, 1).await);
    let top = 500 + W;
    refused(
        send(top + W + 1, 1).await,
        &format!("batch {top}, the highest"),
    );
    // Log-read numbers: no window, and they do not move the pod's.
    accepted(send(LOG_BATCH_BASE + 7, 1).await);
    accepted(send(LOG_BATCH_BASE + (1 << 33), 1).await);
    refused(
        send(top + W + 1, 1).await,
        &format!("batch {top}, the highest"),
    );
    accepted(send(top + W, 1).await);

    // A check-in after another batch: a container that started after the attempt ran.
    let late = format!("job-{}", Uuid::new_v4());
    accepted(store.accept_batch(&batch(&late, 1, 1, 1)).await);
    refused(
        store.accept_batch(&batch(&late, 1, 0, 1)).await,
        "batch 0 (the check-in) of attempt 1",
    );
    // Each attempt has its own window.
    accepted(store.accept_batch(&batch(&job, 2, 0, 1)).await);
    accepted(store.accept_batch(&batch(&job, 2, 1, 1)).await);
}

/// Batches of one attempt sent at once through separate connections (as several app
/// instances): the outcome must be the one the window gives whatever the interleaving, and the
/// highest number kept must be the highest accepted.
async fn window_under_concurrency(stores: Vec<Arc<dyn Store>>) {
    const W: u64 = BATCH_WINDOW;
    let job = format!("job-{}", Uuid::new_v4());
    for seq in (1..=1000).filter(|n| ![3, 400].contains(n)) {
        stores[0]
            .accept_batch(&batch(&job, 1, seq, 1))
            .await
            .unwrap();
    }
    // Whatever subset of the others each insert sees, its highest is from 1000 to 1201: these
    // are within the window of every such highest, those outside all of them.
    let mut sends: Vec<(u64, u8, bool)> = (1001..=1200).map(|n| (n, 1, true)).collect();
    sends.extend([
        (3, 1, false),
        (400, 1, false),
        (5_000, 1, false),
        (0, 1, false),
        (LOG_BATCH_BASE + 5, 1, true),
    ]);
    // Ten different bodies for one number: one wins.
    sends.extend((0..10).map(|i| (1201, 10 + i, true)));
    let barrier = Arc::new(Barrier::new(sends.len()));
    let tasks: Vec<_> = sends
        .iter()
        .enumerate()
        .map(|(i, &(seq, body, _))| {
            let (store, barrier, job) = (
                stores[i % stores.len()].clone(),
                barrier.clone(),
                job.clone(),
            );
            tokio::spawn(async move {
                barrier.wait().await;
                store.accept_batch(&batch(&job, 1, seq, body)).await
            })
        })
        .collect();
    let mut wins_1201 = 0;
    for (task, (seq, body, admitted)) in tasks.into_iter().zip(sends) {
        let outcome = task.await.unwrap();
        match outcome {
            Ok(o) => {
                assert_eq!(o, BatchOutcome::Accepted, "{seq}");
                assert!(admitted, "batch {seq} was taken outside the window");
                wins_1201 += u32::from(seq == 1201);
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::SequenceConflict, "{seq}/{body}: {e}");
                assert!(!admitted || seq == 1201, "batch {seq} was refused: {e}");
            }
        }
    }
    assert_eq!(wins_1201, 1, "one body of batch 1201 is accepted");
    // The highest kept is 1201: its window's edge is exactly there.
    let store = &stores[stores.len() - 1];
    let err = store
        .accept_batch(&batch(&job, 1, 1201 + W + 1, 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SequenceConflict);
    assert!(err.message().contains("batch 1201, the highest"), "{err}");
    assert_eq!(
        store
            .accept_batch(&batch(&job, 1, 1201 + W, 1))
            .await
            .unwrap(),
        BatchOutcome::Accepted
    );
}

/// Events come back for one job's attempt only, batch by batch in order; a batch kept twice
/// keeps its first events.
async fn events_contract(store: &dyn Store) {
    let job = format!("job-{}", Uuid::new_v4());
    let other = format!("{job}-b");
    // A batch number past u32, stored exactly.
    let big = u64::from(u32::MAX) + 1;
    for (id, attempt, seq, events) in [
        (&job, 1, 3, "[3]"),
        (&job, 1, 1, "[1]"),
        (&job, 2, 2, "[22]"),
        (&other, 1, 2, "[9]"),
        (&job, 1, 3, "[30]"),
        (&job, 1, big, "[4]"),
    ] {
        let b = batch(id, attempt, seq, 0);
        store.append_events(&b, events).await.unwrap();
    }
    let rows = |v: &[(u64, &str)]| -> Vec<(u64, String)> {
        v.iter().map(|(n, e)| (*n, (*e).to_owned())).collect()
    };
    assert_eq!(
        store.events(&job, 1).await.unwrap(),
        rows(&[(1, "[1]"), (3, "[3]"), (big, "[4]")]),
        "{}",
        store.backend()
    );
    assert_eq!(store.events(&job, 2).await.unwrap(), rows(&[(2, "[22]")]));
    assert_eq!(store.events(&other, 1).await.unwrap(), rows(&[(2, "[9]")]));
    assert!(store.events(&job, 3).await.unwrap().is_empty());
    assert!(store.events("no-such-job", 1).await.unwrap().is_empty());
}

/// A job row keeps every field, moves only by compare and set, and is listed as live from when it
/// leaves queued until it reaches a final state.
async fn jobs_contract(store: &dyn Store) {
    let id = format!("job-{}", Uuid::new_v4());
    let job = JobRecord {
        state: JobState::Training,
        pod_id: Some("pod-1".into()),
        deadline_unix: 5_000,
        budget_usd: 5.0,
        price_per_hour: 0.69,
        started_at: Some(1_000),
        last_heartbeat: Some(1_100),
        spent_usd: 1.25,
        cost_usd: None,
        cause: "a cause with \"quotes\" and é".into(),
        gpu_id: "NVIDIA A40".into(),
        data_center_id: "EU-RO-1".into(),
        config: "{}".into(),
        ..JobRecord::new(&id, "user-1", 1_000)
    };
    assert!(store.insert_job(&job).await.unwrap());
    assert_eq!(store.get_job(&id).await.unwrap().as_ref(), Some(&job));
    let mine = |jobs: Vec<JobRecord>| jobs.into_iter().filter(|j| j.id == id).count();
    assert_eq!(
        mine(store.live_jobs().await.unwrap()),
        1,
        "{}",
        store.backend()
    );
    // A queued job (planned, never deployed) has no pod to check: it is kept, not listed.
    let queued = JobRecord::new(format!("{id}-queued"), "user-1", 1_000);
    assert!(store.insert_job(&queued).await.unwrap());
    assert_eq!(
        store.get_job(&queued.id).await.unwrap(),
        Some(queued.clone())
    );
    let live = store.live_jobs().await.unwrap();
    assert!(
        live.iter().all(|j| j.id != queued.id),
        "{}",
        store.backend()
    );
    let ended = JobRecord {
        state: JobState::Failed,
        reason: "pod_vanished".into(),
        cost_usd: Some(0.42),
        ..job.clone()
    };
    assert!(
        !store.update_job(&ended, JobState::Queued).await.unwrap(),
        "compare and set"
    );
    assert!(store.update_job(&ended, JobState::Training).await.unwrap());
    assert_eq!(store.get_job(&id).await.unwrap(), Some(ended));
    assert_eq!(
        mine(store.live_jobs().await.unwrap()),
        0,
        "{}",
        store.backend()
    );
}

async fn one_winner(stores: Vec<Arc<dyn Store>>) {
    let jti = Uuid::new_v4();
    let barrier = Arc::new(Barrier::new(stores.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .map(|s| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                s.redeem(&redemption(jti, 10_000)).await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => wins += 1,
            Err(e) => assert_eq!(e.kind(), ErrorKind::TokenAlreadyUsed, "{e}"),
        }
    }
    assert_eq!(wins, 1, "exactly one concurrent redemption must win");
}

#[tokio::test]
async fn memory_store_contract() {
    contract(&*store::open("memory:").await.unwrap()).await;
}

#[tokio::test]
async fn sqlite_store_contract_and_reopen() {
    let dir = tempdir();
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let s = store::open(&url).await.unwrap();
    assert_eq!(s.backend(), "sqlite");
    contract(&*s).await;
    let jti = Uuid::new_v4();
    s.redeem(&redemption(jti, 5_000)).await.unwrap();
    drop(s);
    // Reopening applies no migration twice and keeps the ledger.
    let s = store::open(&url).await.unwrap();
    assert_eq!(
        s.redeem(&redemption(jti, 5_000)).await.unwrap_err().kind(),
        ErrorKind::TokenAlreadyUsed
    );
    contract(&*store::open("sqlite::memory:").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_concurrent_redemptions_from_separate_pools_have_one_winner() {
    let dir = tempdir();
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..20 {
        stores.push(Arc::new(SqliteStore::connect(&url).await.unwrap()));
    }
    one_winner(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_window_under_concurrent_batches() {
    let store = store::open("memory:").await.unwrap();
    window_under_concurrency(vec![store.clone(), store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_window_under_concurrent_batches_from_separate_pools() {
    let dir = tempdir();
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..8 {
        stores.push(Arc::new(SqliteStore::connect(&url).await.unwrap()));
    }
    window_under_concurrency(stores).await;
}

#[tokio::test]
async fn sqlite_newer_schema_is_refused() {
    let dir = tempdir();
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let s = SqliteStore::connect(&url).await.unwrap();
    drop(s);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("insert into trainpod_schema_migrations values (999, 'future', 0)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let err = SqliteStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreSchema);
    assert!(
        err.message().contains("upgrade trainpod"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn bad_urls_and_unreachable_databases_are_typed_errors() {
    assert_eq!(
        store::open("mysql://x").await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let err = store::open("postgres://nobody:secret-password@127.0.0.1:1/db")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
    assert!(err.is_retryable());
    assert!(
        !format!("{err} {err:?}").contains("secret-password"),
        "the password leaked: {err:?}"
    );
    let err = store::open("sqlite:///nonexistent-dir/x/y.db")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StoreUnavailable);
}

#[tokio::test]
async fn postgres_store_contract() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let s = store::open(&url).await.unwrap();
    assert_eq!(s.backend(), "postgres");
    contract(&*s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_fifty_concurrent_redemptions_from_separate_connections_have_one_winner() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..50 {
        // One pool of one connection each: 50 separate server sessions, as 50 app instances.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        stores.push(Arc::new(PostgresStore::from_pool(pool).await.unwrap()));
    }
    one_winner(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_window_under_concurrent_batches_from_separate_connections() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..32 {
        // One connection each: 32 server sessions inserting at once, as 32 app instances.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        stores.push(Arc::new(PostgresStore::from_pool(pool).await.unwrap()));
    }
    window_under_concurrency(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_migrators_apply_once() {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let opens: Vec<_> = (0..8)
        .map(|_| tokio::spawn(PostgresStore::connect_owned(url.clone())))
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let applied: i64 = sqlx::query_scalar(
        "select count(*) - count(distinct version) from trainpod_schema_migrations",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(applied, 0, "each migration is recorded once");
}

trait ConnectOwned {
    async fn connect_owned(url: String) -> trainpod::Result<PostgresStore>;
}

impl ConnectOwned for PostgresStore {
    async fn connect_owned(url: String) -> trainpod::Result<PostgresStore> {
        PostgresStore::connect(&url).await
    }
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("trainpod-test-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
