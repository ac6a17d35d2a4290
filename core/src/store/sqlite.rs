//! SQLite: the embedded default, one file, safe across processes through SQLite's own locking.

use super::migrations::{self, CREATE_TABLE, INSERT_APPLIED, SELECT_APPLIED};
use super::sql::{self, hex, now_secs, to_i64};
use super::{
    BatchOutcome, MetricBatch, Redemption, Store, already_used, sequence_conflict, store_error,
};
use crate::error::{Error, Result};
use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, Executor};
use std::str::FromStr;
use std::time::Duration;

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing) `url` (`sqlite://PATH` or `sqlite::memory:`) and migrate it.
    pub async fn connect(url: &str) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| {
                Error::invalid_input("invalid SQLite URL; use sqlite://PATH or sqlite::memory:")
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        // An in-memory database exists per connection: keep exactly one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(|e| store_error("open the SQLite database", e))?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| store_error("open a connection", e))?;
        // IMMEDIATE takes the write lock up front, so concurrent migrators queue instead of racing.
        conn.execute("begin immediate")
            .await
            .map_err(|e| store_error("lock the schema for migration", e))?;
        let result = apply(&mut conn).await;
        let end = if result.is_ok() { "commit" } else { "rollback" };
        conn.execute(end)
            .await
            .map_err(|e| store_error("finish the migrations", e))?;
        result
    }
}

async fn apply(conn: &mut sqlx::SqliteConnection) -> Result<()> {
    sqlx::raw_sql(CREATE_TABLE)
        .execute(&mut *conn)
        .await
        .map_err(|e| store_error("create the migrations table", e))?;
    let applied: i64 = sqlx::query_scalar(SELECT_APPLIED)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| store_error("read the schema version", e))?;
    for m in migrations::pending(applied)? {
        sqlx::raw_sql(m.sql)
            .execute(&mut *conn)
            .await
            .map_err(|e| migrations::migration_error(m, e))?;
        sqlx::query(INSERT_APPLIED)
            .bind(m.version)
            .bind(m.name)
            .bind(now_secs())
            .execute(&mut *conn)
            .await
            .map_err(|e| migrations::migration_error(m, e))?;
    }
    let _ = conn.ping().await;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn redeem(&self, r: &Redemption) -> Result<()> {
        let inserted = sqlx::query(sql::REDEEM)
            .bind(r.jti.hyphenated().to_string())
            .bind(r.purpose.as_str())
            .bind(&r.job)
            .bind(to_i64(r.redeemed_at))
            .bind(to_i64(r.expires_at))
            .execute(&self.pool)
            .await
            .map_err(|e| store_error("redeem a token", e))?
            .rows_affected();
        if inserted == 1 {
            Ok(())
        } else {
            Err(already_used())
        }
    }

    async fn accept_batch(&self, b: &MetricBatch) -> Result<BatchOutcome> {
        let hash = hex(&b.body_sha256);
        let inserted = sqlx::query(sql::INSERT_BATCH)
            .bind(&b.job)
            .bind(i64::from(b.epoch))
            .bind(to_i64(b.seq))
            .bind(&hash)
            .bind(to_i64(b.received_at))
            .execute(&self.pool)
            .await
            .map_err(|e| store_error("record a metric batch", e))?
            .rows_affected();
        if inserted == 1 {
            return Ok(BatchOutcome::Accepted);
        }
        let existing: String = sqlx::query_scalar(sql::SELECT_BATCH_HASH)
            .bind(&b.job)
            .bind(i64::from(b.epoch))
            .bind(to_i64(b.seq))
            .fetch_one(&self.pool)
            .await
            .map_err(|e| store_error("read a metric batch", e))?;
        if existing == hash {
            Ok(BatchOutcome::Replayed)
        } else {
            Err(sequence_conflict(b))
        }
    }

    async fn prune_redemptions(&self, now: u64) -> Result<u64> {
        let done = sqlx::query(sql::PRUNE_REDEMPTIONS)
            .bind(to_i64(now))
            .execute(&self.pool)
            .await
            .map_err(|e| store_error("prune redemptions", e))?;
        Ok(done.rows_affected())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
