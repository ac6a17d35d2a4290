//! SQLite: the embedded default, one file, safe across processes through SQLite's own locking.

use super::sql;
use super::store_error;
use crate::error::{Error, Result};
use sqlx::Executor;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
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

    /// A transaction holding SQLite's write lock from its start (`begin immediate`): a job write
    /// reads the row it replaces first, and a transaction that read before it wrote could not
    /// take the lock if another writer committed meanwhile.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool
            .begin_with("begin immediate")
            .await
            .map_err(|e| store_error("start a transaction", e))
    }

    /// One writer at a time holds the database, so the row read needs no lock of its own.
    const SELECT_BEFORE: &str = super::outbox_sql::SELECT_BEFORE;
    const CLAIM_WEBHOOKS: &str = super::outbox_sql::CLAIM_WEBHOOKS_SQLITE;

    /// Apply pending migrations under SQLite's write lock (`begin immediate`), so concurrent
    /// openers queue instead of racing.
    async fn migrate(&self) -> Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| store_error("open a connection", e))?;
        conn.execute("begin immediate")
            .await
            .map_err(|e| store_error("lock the schema for migration", e))?;
        let result: Result<()> = async {
            sql::apply_migrations!(&mut *conn);
            Ok(())
        }
        .await;
        let end = if result.is_ok() { "commit" } else { "rollback" };
        conn.execute(end)
            .await
            .map_err(|e| store_error("finish the migrations", e))?;
        result
    }
}

sql::sql_store!(SqliteStore, "sqlite");
