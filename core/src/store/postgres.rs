//! Postgres: several app instances share one database; every operation is one atomic statement.

use super::sql;
use super::store_error;
use crate::error::Result;
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

    /// A transaction for a job write and its events.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool
            .begin()
            .await
            .map_err(|e| store_error("start a transaction", e))
    }

    const SELECT_BEFORE: &str = super::outbox_sql::SELECT_BEFORE_FOR_UPDATE;
    const CLAIM_WEBHOOKS: &str = super::outbox_sql::CLAIM_WEBHOOKS_POSTGRES;

    /// Apply pending migrations in one transaction holding an advisory lock, so app instances
    /// starting together queue behind each other and each migration runs once.
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
        sql::apply_migrations!(&mut *tx);
        tx.commit()
            .await
            .map_err(|e| store_error("commit the migrations", e))
    }
}

sql::sql_store!(PostgresStore, "postgres");
