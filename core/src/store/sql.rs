//! What the SQLite and Postgres stores share: the statements (both accept `$N` parameters and
//! `on conflict`), the migration loop and the `Store` methods, written once as macros because
//! the two pools are different types.

pub(crate) const REDEEM: &str =
    "insert into trainpod_token_redemptions (jti, purpose, job_id, redeemed_at, expires_at)
     values ($1, $2, $3, $4, $5) on conflict (jti) do nothing";

pub(crate) const INSERT_BATCH: &str =
    "insert into trainpod_metric_batches (job_id, epoch, seq, body_sha256, received_at)
     values ($1, $2, $3, $4, $5) on conflict (job_id, epoch, seq) do nothing";

pub(crate) const SELECT_BATCH_HASH: &str =
    "select body_sha256 from trainpod_metric_batches where job_id = $1 and epoch = $2 and seq = $3";

pub(crate) const PRUNE_REDEMPTIONS: &str =
    "delete from trainpod_token_redemptions where expires_at < $1";

pub(crate) fn now_secs() -> i64 {
    use crate::clock::{Clock, SystemClock};
    to_i64(SystemClock.now_unix_secs())
}

/// Unsigned values are validated below `i64::MAX` by their callers; saturate rather than wrap.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Apply the pending migrations on `$conn`, which must already hold the schema lock.
macro_rules! apply_migrations {
    ($conn:expr) => {{
        use $crate::store::migrations::{self, CREATE_TABLE, INSERT_APPLIED, SELECT_APPLIED};
        sqlx::raw_sql(CREATE_TABLE)
            .execute($conn)
            .await
            .map_err(|e| $crate::store::store_error("create the migrations table", e))?;
        let applied: i64 = sqlx::query_scalar(SELECT_APPLIED)
            .fetch_one($conn)
            .await
            .map_err(|e| $crate::store::store_error("read the schema version", e))?;
        for m in migrations::pending(applied)? {
            sqlx::raw_sql(m.sql)
                .execute($conn)
                .await
                .map_err(|e| migrations::migration_error(m, e))?;
            sqlx::query(INSERT_APPLIED)
                .bind(m.version)
                .bind(m.name)
                .bind($crate::store::sql::now_secs())
                .execute($conn)
                .await
                .map_err(|e| migrations::migration_error(m, e))?;
        }
    }};
}
pub(crate) use apply_migrations;

/// The `Store` methods of a SQL store whose `pool` field is an sqlx pool.
macro_rules! sql_store {
    ($store:ty, $backend:literal) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn redeem(&self, r: &$crate::store::Redemption) -> $crate::error::Result<()> {
                use $crate::store::sql::{REDEEM, to_i64};
                let inserted = sqlx::query(REDEEM)
                    .bind(r.jti.hyphenated().to_string())
                    .bind(r.purpose.as_str())
                    .bind(&r.job)
                    .bind(to_i64(r.redeemed_at))
                    .bind(to_i64(r.expires_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("redeem a token", e))?
                    .rows_affected();
                if inserted == 1 {
                    Ok(())
                } else {
                    Err($crate::store::already_used())
                }
            }

            async fn accept_batch(
                &self,
                b: &$crate::store::MetricBatch,
            ) -> $crate::error::Result<$crate::store::BatchOutcome> {
                use $crate::store::sql::{INSERT_BATCH, SELECT_BATCH_HASH, to_i64};
                let hash = $crate::hex::encode(&b.body_sha256);
                let inserted = sqlx::query(INSERT_BATCH)
                    .bind(&b.job)
                    .bind(i64::from(b.epoch))
                    .bind(to_i64(b.seq))
                    .bind(&hash)
                    .bind(to_i64(b.received_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a metric batch", e))?
                    .rows_affected();
                if inserted == 1 {
                    return Ok($crate::store::BatchOutcome::Accepted);
                }
                let existing: String = sqlx::query_scalar(SELECT_BATCH_HASH)
                    .bind(&b.job)
                    .bind(i64::from(b.epoch))
                    .bind(to_i64(b.seq))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a metric batch", e))?;
                if existing == hash {
                    Ok($crate::store::BatchOutcome::Replayed)
                } else {
                    Err($crate::store::sequence_conflict(b))
                }
            }

            async fn prune_redemptions(&self, now: u64) -> $crate::error::Result<u64> {
                let done = sqlx::query($crate::store::sql::PRUNE_REDEMPTIONS)
                    .bind($crate::store::sql::to_i64(now))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("prune redemptions", e))?;
                Ok(done.rows_affected())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }
    };
}
pub(crate) use sql_store;
