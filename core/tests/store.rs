//! The store contract, run against every backend: memory, SQLite and a real Postgres server.

#![allow(clippy::unwrap_used)] // a test fails by panicking

mod common;

use std::sync::Arc;
use tokio::sync::Barrier;
use trainpod::ErrorKind;
use trainpod::jobs::JobState;
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

/// A job row keeps every field, moves only by compare and set, and is listed as live until it
/// reaches a final state.
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
    let applied: i64 =
        sqlx::query_scalar("select count(*) - max(version) from trainpod_schema_migrations")
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
