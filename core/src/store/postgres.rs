//! Postgres: several app instances share one database; every operation is one atomic statement.

use super::migrations::{self, CREATE_TABLE, INSERT_APPLIED, SELECT_APPLIED};
use super::sql::{self, hex, now_secs, to_i64};
use super::{
    BatchOutcome, MetricBatch, Redemption, Store, already_used, sequence_conflict, store_error,
};
use crate::error::Result;
use async_trait::async_trait;
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// A store in Postgres.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

// Any constant works; it keeps concurrent migrators of this schema apart from other apps' locks.
const MIGRATION_LOCK: i64 = 0x7472_6169_6e70_6f64; // "trainpod"

impl PostgresStore {
    /// Connect to `url` and apply pending migrations.
    pub async fn connect(url: &str) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| store_error("connect to Postgres", e))?;
        PostgresStore::from_pool(pool).await
    }

    /// Use an existing pool and apply pending migrations.
    pub async fn from_pool(pool: PgPool) -> Result<PostgresStore> {
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn migrate(&self) -> Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| store_error("start a migration", e))?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error("lock the schema for migration", e))?;
        sqlx::raw_sql(CREATE_TABLE)
            .execute(&mut *tx)
            .await
            .map_err(|e| store_error("create the migrations table", e))?;
        let applied: i64 = sqlx::query_scalar(SELECT_APPLIED)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| store_error("read the schema version", e))?;
        for m in migrations::pending(applied)? {
            sqlx::raw_sql(m.sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| migrations::migration_error(m, e))?;
            sqlx::query(INSERT_APPLIED)
                .bind(m.version)
                .bind(m.name)
                .bind(now_secs())
                .execute(&mut *tx)
                .await
                .map_err(|e| migrations::migration_error(m, e))?;
        }
        tx.commit()
            .await
            .map_err(|e| store_error("commit the migrations", e))
    }
}

#[async_trait]
impl Store for PostgresStore {
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
        "postgres"
    }
}
