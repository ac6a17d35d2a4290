//! The SQL stores' job writes with their webhook events, and the outbox's statements. A job
//! change and the events it makes commit together or not at all: an event is never lost to a
//! crash between the two, nor sent for a change that was rolled back.

use std::sync::LazyLock;

use super::sql::UPDATE_JOB;

/// `UPDATE_JOB` for a row that keeps its state and already has a pod: such a write makes no
/// event, so it stays one statement (a metric batch's). A row that had no pod fails it and
/// takes the transaction, which reads the row first.
pub(crate) static UPDATE_JOB_KEEPING_POD: LazyLock<String> =
    LazyLock::new(|| format!("{UPDATE_JOB} and pod_id is not null"));

/// What an event depends on in the row a write replaces (read in the write's transaction).
pub(crate) const SELECT_BEFORE: &str =
    "select state, attempt, pod_id from trainpod_jobs where job_id = $1";

/// Postgres: the row read before a write is locked until the write commits.
pub(crate) const SELECT_BEFORE_FOR_UPDATE: &str =
    "select state, attempt, pod_id from trainpod_jobs where job_id = $1 for update";

/// A message queued once per (job, attempt, type): the unique index refuses a second one.
pub(crate) const INSERT_WEBHOOK: &str = "insert into trainpod_webhook_messages
     (msg_id, job_id, attempt, event_type, payload, created_at, next_at)
     values ($1, $2, $3, $4, $5, $6, $6) on conflict do nothing";

const COLUMNS: &str = "msg_id, job_id, attempt, event_type, payload, created_at, status, \
     tries, next_at, last_error, done_at";

/// Leases due messages to one pass: `$1` the lease, `$2` now, `$3` the lease's seconds, `$4`
/// how many. The outer conditions are checked again on each row as it is updated, so two
/// passes that picked the same rows cannot both lease one (Postgres re-reads a row changed by
/// another transaction before updating it; SQLite runs one writer at a time).
macro_rules! claim_webhooks {
    ($lock:literal) => {
        concat!(
            "update trainpod_webhook_messages set lease = $1, leased_until = $2 + $3, ",
            "tries = tries + 1 ",
            "where msg_id in (select msg_id from trainpod_webhook_messages ",
            "where status = 'pending' and next_at <= $2 and leased_until <= $2 ",
            "order by next_at, msg_id limit $4 ",
            $lock,
            ") and status = 'pending' and leased_until <= $2 ",
            "returning msg_id, job_id, attempt, event_type, payload, created_at, status, tries, ",
            "next_at, last_error, done_at"
        )
    };
}

pub(crate) const CLAIM_WEBHOOKS_SQLITE: &str = claim_webhooks!("");
/// Postgres skips the rows another pass is leasing instead of waiting for them.
pub(crate) const CLAIM_WEBHOOKS_POSTGRES: &str = claim_webhooks!("for update skip locked");

/// The end of one try: `$3` the status, `$4` the next due time (kept when null), `$5` the
/// error, `$6` when it ended. A delivery is recorded whoever leases the message now (it was
/// delivered); a retry or a failure only by the lease that tried it, so that a pass whose lease
/// lapsed does not undo the next pass's result.
pub(crate) const FINISH_WEBHOOK: &str = "update trainpod_webhook_messages
     set status = $3, next_at = coalesce($4, next_at), last_error = $5, done_at = $6,
         leased_until = 0
     where msg_id = $1 and status = 'pending' and ($3 = 'delivered' or lease = $2)";

pub(crate) static SELECT_JOB_WEBHOOKS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "select {COLUMNS} from trainpod_webhook_messages where job_id = $1
         order by attempt, case event_type when 'job.deployed' then 0
             when 'job.training_started' then 1 else 2 end, msg_id"
    )
});

pub(crate) const PRUNE_WEBHOOKS: &str =
    "delete from trainpod_webhook_messages where created_at < $1";

/// Reads a message row selected with the outbox's columns.
macro_rules! webhook_from_row {
    ($row:expr) => {{
        use sqlx::Row;
        use $crate::store::sql::opt_u64;
        let r = &$row;
        let get_err = |e| $crate::store::store_error("read a webhook message", e);
        let status: String = r.try_get("status").map_err(get_err)?;
        $crate::store::WebhookMessage {
            id: r.try_get("msg_id").map_err(get_err)?,
            job_id: r.try_get("job_id").map_err(get_err)?,
            attempt: u32::try_from(r.try_get::<i64, _>("attempt").map_err(get_err)?).unwrap_or(0),
            event_type: r.try_get("event_type").map_err(get_err)?,
            payload: r.try_get("payload").map_err(get_err)?,
            created_at: opt_u64(Some(r.try_get("created_at").map_err(get_err)?)).unwrap_or(0),
            status: $crate::store::WebhookStatus::parse(&status)?,
            tries: u32::try_from(r.try_get::<i64, _>("tries").map_err(get_err)?).unwrap_or(0),
            next_at: opt_u64(Some(r.try_get("next_at").map_err(get_err)?)).unwrap_or(0),
            last_error: r.try_get("last_error").map_err(get_err)?,
            done_at: opt_u64(r.try_get("done_at").map_err(get_err)?),
        }
    }};
}
pub(crate) use webhook_from_row;

/// Queues `$queued` (event messages) in the transaction `$tx`.
macro_rules! enqueue {
    ($tx:expr, $queued:expr) => {{
        use $crate::store::outbox_sql::INSERT_WEBHOOK;
        use $crate::store::sql::to_i64;
        for m in $queued {
            sqlx::query(INSERT_WEBHOOK)
                .bind(&m.id)
                .bind(&m.job_id)
                .bind(i64::from(m.attempt))
                .bind(m.event_type)
                .bind(&m.payload)
                .bind(to_i64(m.created_at))
                .execute(&mut *$tx)
                .await
                .map_err(|e| $crate::store::store_error("queue a webhook", e))?;
        }
    }};
}
pub(crate) use enqueue;

/// The `Store` impl of a SQL store: the methods given, then those that write jobs (queueing their
/// events) and those of the outbox. The store has a `pool`, `Self::begin_write()` (a transaction
/// holding the write lock where the database has one), `Self::SELECT_BEFORE` and
/// `Self::CLAIM_WEBHOOKS`. (One macro writes the whole impl: `async_trait` rewrites the methods
/// it sees, and a macro call inside the impl would be expanded after it.)
macro_rules! store_impl {
    ($store:ty { $($methods:tt)* }) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            $($methods)*
            async fn insert_job(
                &self,
                job: &$crate::store::JobRecord,
            ) -> $crate::error::Result<bool> {
                use $crate::store::outbox_sql::enqueue;
                use $crate::store::sql::{INSERT_JOB, bind_job};
                let err = |e| $crate::store::store_error("record a job", e);
                let queued = $crate::webhooks::messages(None, job);
                if queued.is_empty() {
                    let done = bind_job!(sqlx::query(INSERT_JOB), job)
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    return Ok(done.rows_affected() == 1);
                }
                let mut tx = self.begin_write().await?;
                let done = bind_job!(sqlx::query(INSERT_JOB), job)
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                if done.rows_affected() != 1 {
                    return Ok(false); // the transaction rolls back as it drops
                }
                enqueue!(tx, &queued);
                tx.commit().await.map_err(err)?;
                Ok(true)
            }

            async fn update_job(
                &self,
                job: &$crate::store::JobRecord,
                expected: $crate::jobs::JobState,
            ) -> $crate::error::Result<bool> {
                use $crate::store::outbox_sql::{UPDATE_JOB_KEEPING_POD, enqueue};
                use $crate::store::sql::{UPDATE_JOB, bind_job};
                use $crate::webhooks::{Before, messages};
                let err = |e| $crate::store::store_error("update a job", e);
                if job.state == expected {
                    // Only a pod recorded now makes an event: a row that has one already, or a
                    // write that sets none, is one statement.
                    let sql = match job.pod_id {
                        Some(_) => UPDATE_JOB_KEEPING_POD.as_str(),
                        None => UPDATE_JOB,
                    };
                    let done = bind_job!(sqlx::query(sql), job)
                        .bind(expected.as_str())
                        .execute(&self.pool)
                        .await
                        .map_err(err)?;
                    if done.rows_affected() == 1 || job.pod_id.is_none() {
                        return Ok(done.rows_affected() == 1);
                    }
                }
                let mut tx = self.begin_write().await?;
                let row: Option<(String, i64, Option<String>)> = sqlx::query_as(Self::SELECT_BEFORE)
                    .bind(&job.id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(err)?;
                let before = match row {
                    Some((state, attempt, pod))
                        if state == expected.as_str() && attempt == i64::from(job.attempt) =>
                    {
                        Before {
                            state: expected,
                            attempt: job.attempt,
                            has_pod: pod.is_some(),
                        }
                    }
                    _ => return Ok(false),
                };
                let done = bind_job!(sqlx::query(UPDATE_JOB), job)
                    .bind(expected.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(err)?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                enqueue!(tx, &messages(Some(before), job));
                tx.commit().await.map_err(err)?;
                Ok(true)
            }

            async fn begin_attempt(
                &self,
                job: &$crate::store::JobRecord,
                expected: $crate::jobs::JobState,
                previous_attempt: u32,
            ) -> $crate::error::Result<bool> {
                use $crate::store::outbox_sql::enqueue;
                use $crate::store::sql::{UPDATE_JOB_ATTEMPT, bind_job};
                let err = |e| $crate::store::store_error("start a new attempt", e);
                // A new attempt starts from nothing; a previous one put back makes no event.
                let queued = match job.attempt > previous_attempt {
                    true => $crate::webhooks::messages(None, job),
                    false => Vec::new(),
                };
                let query = bind_job!(sqlx::query(UPDATE_JOB_ATTEMPT), job)
                    .bind(expected.as_str())
                    .bind(i64::from(previous_attempt));
                if queued.is_empty() {
                    let done = query.execute(&self.pool).await.map_err(err)?;
                    return Ok(done.rows_affected() == 1);
                }
                let mut tx = self.begin_write().await?;
                if query.execute(&mut *tx).await.map_err(err)?.rows_affected() != 1 {
                    return Ok(false);
                }
                enqueue!(tx, &queued);
                tx.commit().await.map_err(err)?;
                Ok(true)
            }

            async fn claim_webhooks(
                &self,
                lease: &str,
                now: u64,
                lease_secs: u64,
                limit: u32,
            ) -> $crate::error::Result<Vec<$crate::store::WebhookMessage>> {
                use $crate::store::sql::to_i64;
                let rows = sqlx::query(Self::CLAIM_WEBHOOKS)
                    .bind(lease)
                    .bind(to_i64(now))
                    .bind(to_i64(lease_secs))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("claim due webhooks", e))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push($crate::store::outbox_sql::webhook_from_row!(row));
                }
                out.sort_by(|a, b| (a.next_at, &a.id).cmp(&(b.next_at, &b.id)));
                Ok(out)
            }

            async fn finish_webhook(
                &self,
                id: &str,
                lease: &str,
                now: u64,
                attempt: &$crate::store::WebhookAttempt,
            ) -> $crate::error::Result<bool> {
                use $crate::store::sql::{opt_i64, to_i64};
                let (status, next_at, error, done_at) = attempt.columns(now);
                let done = sqlx::query($crate::store::outbox_sql::FINISH_WEBHOOK)
                    .bind(id)
                    .bind(lease)
                    .bind(status.as_str())
                    .bind(opt_i64(next_at))
                    .bind(error)
                    .bind(done_at.map(to_i64))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a webhook delivery", e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn webhook_messages(
                &self,
                job_id: &str,
            ) -> $crate::error::Result<Vec<$crate::store::WebhookMessage>> {
                let rows = sqlx::query($crate::store::outbox_sql::SELECT_JOB_WEBHOOKS.as_str())
                    .bind(job_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a job's webhooks", e))?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    out.push($crate::store::outbox_sql::webhook_from_row!(row));
                }
                Ok(out)
            }

            async fn prune_webhooks(&self, before: u64) -> $crate::error::Result<u64> {
                let done = sqlx::query($crate::store::outbox_sql::PRUNE_WEBHOOKS)
                    .bind($crate::store::sql::to_i64(before))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("prune webhooks", e))?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use store_impl;
