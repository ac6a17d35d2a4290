//! What the SQLite and Postgres stores share: the statements (both accept `$N` parameters and
//! `on conflict`), the migration loop and the `Store` methods, written once as macros because
//! the two pools are different types.

pub(crate) const REDEEM: &str =
    "insert into trainpod_token_redemptions (jti, purpose, job_id, redeemed_at, expires_at)
     values ($1, $2, $3, $4, $5) on conflict (jti) do nothing";

/// A batch not seen before, inserted only when its number is in the attempt's window
/// (`jobs::batch_admitted`, written again here): `$6` is `LOG_BATCH_BASE`, `$7` the window,
/// 0 the check-in. The highest number is read in the same statement as the insert, so the
/// check and the insert are one atomic step in both databases (SQLite takes its write lock as
/// the statement starts). Under Postgres's read committed, inserts running at once each see
/// the rows committed before they began, not each other: every number they accept is within
/// the window of those rows and of the smaller numbers among them, so the accepted set is what
/// taking them one by one in ascending order accepts, never a number the rule refuses. (A number
/// just ahead of the window may be refused where that order would take it, once the rows it
/// could not see were committed; the pod's own numbers are never near the edge.)
pub(crate) const INSERT_BATCH: &str =
    "insert into trainpod_metric_batches (job_id, epoch, seq, body_sha256, received_at)
     select $1, $2, $3, $4, $5
     from (select max(seq) as highest from trainpod_metric_batches
           where job_id = $1 and epoch = $2 and seq < $6) as pod
     where $3 >= $6
        or (highest is null and $3 <= $7)
        or ($3 > 0 and $3 <= highest + $7 and $3 + $7 > highest)
     on conflict (job_id, epoch, seq) do nothing";

/// The highest number below `LOG_BATCH_BASE` an attempt accepted, for the message of a refusal.
pub(crate) const SELECT_HIGHEST_BATCH: &str = "select max(seq) from trainpod_metric_batches
     where job_id = $1 and epoch = $2 and seq < $3";

pub(crate) const SELECT_BATCH_HASH: &str =
    "select body_sha256 from trainpod_metric_batches where job_id = $1 and epoch = $2 and seq = $3";

pub(crate) const INSERT_JOB: &str = "insert into trainpod_jobs (job_id, user_id, attempt, state,
     reason, pod_id, created_at, updated_at, deadline_unix, budget_usd, price_per_hour, started_at,
     last_heartbeat, step, max_steps, loss, config, spent_usd, cost_usd, cause, gpu_id,
     data_center_id, stage, exit_code, log_tail, account, billed_usd, eval_loss)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
     $20, $21, $22, $23, $24, $25, $26, $27, $28)
     on conflict (job_id) do nothing";

pub(crate) const SELECT_JOB: &str = "select job_id, user_id, attempt, state, reason, pod_id,
     created_at, updated_at, deadline_unix, budget_usd, price_per_hour, started_at, last_heartbeat,
     step, max_steps, loss, config, spent_usd, cost_usd, cause, gpu_id, data_center_id, stage,
     exit_code, log_tail, account, billed_usd, eval_loss
     from trainpod_jobs where job_id = $1";

/// The jobs still live (past queued, not in a final state), oldest first: the reconciler's list
/// of jobs that must have a pod.
pub(crate) const SELECT_LIVE_JOBS: &str = "select job_id, user_id, attempt, state, reason, pod_id,
     created_at, updated_at, deadline_unix, budget_usd, price_per_hour, started_at, last_heartbeat,
     step, max_steps, loss, config, spent_usd, cost_usd, cause, gpu_id, data_center_id, stage,
     exit_code, log_tail, account, billed_usd, eval_loss
     from trainpod_jobs
     where state not in ('queued', 'succeeded', 'failed', 'cancelled', 'timed_out', 'over_budget')
     order by created_at, job_id";

/// Compare and set: the row changes only if it is still in the expected state and attempt.
pub(crate) const UPDATE_JOB: &str = "update trainpod_jobs set user_id = $2, attempt = $3,
     state = $4, reason = $5, pod_id = $6, created_at = $7, updated_at = $8, deadline_unix = $9,
     budget_usd = $10, price_per_hour = $11, started_at = $12, last_heartbeat = $13, step = $14,
     max_steps = $15, loss = $16, config = $17, spent_usd = $18, cost_usd = $19, cause = $20,
     gpu_id = $21, data_center_id = $22, stage = $23, exit_code = $24, log_tail = $25,
     account = $26, billed_usd = $27, eval_loss = $28
     where job_id = $1 and state = $29 and attempt = $3";

/// A new attempt: the row changes only if it is still the expected attempt in the expected state.
pub(crate) const UPDATE_JOB_ATTEMPT: &str = "update trainpod_jobs set user_id = $2, attempt = $3,
     state = $4, reason = $5, pod_id = $6, created_at = $7, updated_at = $8, deadline_unix = $9,
     budget_usd = $10, price_per_hour = $11, started_at = $12, last_heartbeat = $13, step = $14,
     max_steps = $15, loss = $16, config = $17, spent_usd = $18, cost_usd = $19, cause = $20,
     gpu_id = $21, data_center_id = $22, stage = $23, exit_code = $24, log_tail = $25,
     account = $26, billed_usd = $27, eval_loss = $28
     where job_id = $1 and state = $29 and attempt = $30";

/// A claim is a lease: taken when the pod has no row or its row is older than `$6`, so that a
/// terminate that failed is tried again by whichever instance reconciles after the lease.
pub(crate) const CLAIM_POD_ACTION: &str = "insert into trainpod_pod_actions
     (pod_id, job_id, action, reason, acted_at) values ($1, $2, $3, $4, $5)
     on conflict (pod_id) do update set job_id = excluded.job_id, action = excluded.action,
     reason = excluded.reason, acted_at = excluded.acted_at
     where trainpod_pod_actions.acted_at < $6";

pub(crate) const INSERT_EVENTS: &str = "insert into trainpod_job_events
     (job_id, attempt, batch, received_at, events) values ($1, $2, $3, $4, $5)
     on conflict (job_id, attempt, batch) do nothing";

pub(crate) const SELECT_EVENTS: &str = "select batch, events from trainpod_job_events
     where job_id = $1 and attempt = $2 order by batch";

pub(crate) const INSERT_THROUGHPUT: &str = "insert into trainpod_throughput
     (job_id, attempt, gpu_id, method, tflops, recorded_at) values ($1, $2, $3, $4, $5, $6)
     on conflict (job_id, attempt) do nothing";

pub(crate) const SELECT_THROUGHPUT: &str = "select tflops from trainpod_throughput
     where gpu_id = $1 and method = $2 order by recorded_at desc, job_id limit $3";

pub(crate) const SELECT_DIGEST: &str =
    "select sha256 from trainpod_dataset_digests where file_key = $1";

pub(crate) const INSERT_DIGEST: &str =
    "insert into trainpod_dataset_digests (file_key, sha256, recorded_at) values ($1, $2, $3)
     on conflict (file_key) do nothing";

pub(crate) fn opt_i64(v: Option<u64>) -> Option<i64> {
    v.map(to_i64)
}

pub(crate) fn opt_u64(v: Option<i64>) -> Option<u64> {
    v.and_then(|v| u64::try_from(v).ok())
}

/// Binds a job's twenty-seven columns, in table order, to `$1`..`$27`.
macro_rules! bind_job {
    ($query:expr, $j:expr) => {{
        use $crate::store::sql::{opt_i64, to_i64};
        $query
            .bind(&$j.id)
            .bind(&$j.user)
            .bind(i64::from($j.attempt))
            .bind($j.state.as_str())
            .bind(&$j.reason)
            .bind($j.pod_id.as_deref())
            .bind(to_i64($j.created_at))
            .bind(to_i64($j.updated_at))
            .bind(to_i64($j.deadline_unix))
            .bind($j.budget_usd)
            .bind($j.price_per_hour)
            .bind(opt_i64($j.started_at))
            .bind(opt_i64($j.last_heartbeat))
            .bind(opt_i64($j.step))
            .bind(opt_i64($j.max_steps))
            .bind($j.loss)
            .bind(&*$j.config)
            .bind($j.spent_usd)
            .bind($j.cost_usd)
            .bind(&$j.cause)
            .bind(&$j.gpu_id)
            .bind(&$j.data_center_id)
            .bind(&$j.stage)
            .bind($j.exit_code)
            .bind(&$j.log_tail)
            .bind(&$j.account)
            .bind($j.billed_usd)
            .bind($j.eval_loss)
    }};
}
pub(crate) use bind_job;

/// Reads a job row selected with `SELECT_JOB`.
macro_rules! job_from_row {
    ($row:expr) => {{
        use sqlx::Row;
        use $crate::store::sql::opt_u64;
        let r = &$row;
        let get_err = |e| $crate::store::store_error("read a job", e);
        let state: String = r.try_get("state").map_err(get_err)?;
        $crate::store::JobRecord {
            id: r.try_get("job_id").map_err(get_err)?,
            user: r.try_get("user_id").map_err(get_err)?,
            attempt: u32::try_from(r.try_get::<i64, _>("attempt").map_err(get_err)?).unwrap_or(0),
            state: $crate::jobs::JobState::parse(&state).ok_or_else(|| {
                $crate::error::Error::new(
                    $crate::error::ErrorKind::StoreSchema,
                    format!("a job row has an unknown state {state:?}; upgrade trainpod"),
                )
            })?,
            reason: r.try_get("reason").map_err(get_err)?,
            pod_id: r.try_get("pod_id").map_err(get_err)?,
            created_at: opt_u64(Some(r.try_get("created_at").map_err(get_err)?)).unwrap_or(0),
            updated_at: opt_u64(Some(r.try_get("updated_at").map_err(get_err)?)).unwrap_or(0),
            deadline_unix: opt_u64(Some(r.try_get("deadline_unix").map_err(get_err)?)).unwrap_or(0),
            budget_usd: r.try_get("budget_usd").map_err(get_err)?,
            price_per_hour: r.try_get("price_per_hour").map_err(get_err)?,
            started_at: opt_u64(r.try_get("started_at").map_err(get_err)?),
            last_heartbeat: opt_u64(r.try_get("last_heartbeat").map_err(get_err)?),
            step: opt_u64(r.try_get("step").map_err(get_err)?),
            max_steps: opt_u64(r.try_get("max_steps").map_err(get_err)?),
            loss: r.try_get("loss").map_err(get_err)?,
            config: r.try_get::<String, _>("config").map_err(get_err)?.into(),
            spent_usd: r.try_get("spent_usd").map_err(get_err)?,
            cost_usd: r.try_get("cost_usd").map_err(get_err)?,
            cause: r.try_get("cause").map_err(get_err)?,
            gpu_id: r.try_get("gpu_id").map_err(get_err)?,
            data_center_id: r.try_get("data_center_id").map_err(get_err)?,
            stage: r.try_get("stage").map_err(get_err)?,
            exit_code: r.try_get("exit_code").map_err(get_err)?,
            log_tail: r.try_get("log_tail").map_err(get_err)?,
            account: r.try_get("account").map_err(get_err)?,
            billed_usd: r.try_get("billed_usd").map_err(get_err)?,
            eval_loss: r.try_get("eval_loss").map_err(get_err)?,
        }
    }};
}
pub(crate) use job_from_row;

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
        // With the job writes and the outbox's methods (`outbox_sql.rs`).
        $crate::store::outbox_sql::store_impl! { $store {
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
                use $crate::jobs::{BATCH_WINDOW, LOG_BATCH_BASE};
                use $crate::store::sql::{
                    INSERT_BATCH, SELECT_BATCH_HASH, SELECT_HIGHEST_BATCH, to_i64,
                };
                let hash = $crate::hex::encode(&b.body_sha256);
                let inserted = sqlx::query(INSERT_BATCH)
                    .bind(&b.job)
                    .bind(i64::from(b.epoch))
                    .bind(to_i64(b.seq))
                    .bind(&hash)
                    .bind(to_i64(b.received_at))
                    .bind(to_i64(LOG_BATCH_BASE))
                    .bind(to_i64(BATCH_WINDOW))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a metric batch", e))?
                    .rows_affected();
                if inserted == 1 {
                    return Ok($crate::store::BatchOutcome::Accepted);
                }
                let existing: Option<String> = sqlx::query_scalar(SELECT_BATCH_HASH)
                    .bind(&b.job)
                    .bind(i64::from(b.epoch))
                    .bind(to_i64(b.seq))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a metric batch", e))?;
                match existing {
                    Some(existing) if existing == hash => Ok($crate::store::BatchOutcome::Replayed),
                    Some(_) => Err($crate::store::sequence_conflict(b)),
                    // Not inserted and not there: the window refused it.
                    None => {
                        let highest: Option<i64> = sqlx::query_scalar(SELECT_HIGHEST_BATCH)
                            .bind(&b.job)
                            .bind(i64::from(b.epoch))
                            .bind(to_i64(LOG_BATCH_BASE))
                            .fetch_one(&self.pool)
                            .await
                            .map_err(|e| $crate::store::store_error("read a metric batch", e))?;
                        Err($crate::store::outside_window(
                            b,
                            highest.and_then(|h| u64::try_from(h).ok()),
                        ))
                    }
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

            async fn get_job(
                &self,
                id: &str,
            ) -> $crate::error::Result<Option<$crate::store::JobRecord>> {
                let row = sqlx::query($crate::store::sql::SELECT_JOB)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a job", e))?;
                Ok(match row {
                    Some(row) => Some($crate::store::sql::job_from_row!(row)),
                    None => None,
                })
            }

            async fn live_jobs(&self) -> $crate::error::Result<Vec<$crate::store::JobRecord>> {
                let rows = sqlx::query($crate::store::sql::SELECT_LIVE_JOBS)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("list the live jobs", e))?;
                let mut jobs = Vec::with_capacity(rows.len());
                for row in rows {
                    jobs.push($crate::store::sql::job_from_row!(row));
                }
                Ok(jobs)
            }

            async fn claim_pod_action(
                &self,
                a: &$crate::store::PodActionRecord,
                lease_secs: u64,
            ) -> $crate::error::Result<bool> {
                let done = sqlx::query($crate::store::sql::CLAIM_POD_ACTION)
                    .bind(&a.pod_id)
                    .bind(a.job_id.as_deref())
                    .bind(&a.action)
                    .bind(&a.reason)
                    .bind($crate::store::sql::to_i64(a.acted_at))
                    .bind($crate::store::sql::to_i64(
                        a.acted_at.saturating_sub(lease_secs),
                    ))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a pod action", e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn append_events(
                &self,
                b: &$crate::store::MetricBatch,
                events_json: &str,
            ) -> $crate::error::Result<()> {
                use $crate::store::sql::{INSERT_EVENTS, to_i64};
                sqlx::query(INSERT_EVENTS)
                    .bind(&b.job)
                    .bind(i64::from(b.epoch))
                    .bind(to_i64(b.seq))
                    .bind(to_i64(b.received_at))
                    .bind(events_json)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("keep a batch's events", e))?;
                Ok(())
            }

            async fn events(
                &self,
                job: &str,
                attempt: u32,
            ) -> $crate::error::Result<Vec<(u64, String)>> {
                let rows: Vec<(i64, String)> = sqlx::query_as($crate::store::sql::SELECT_EVENTS)
                    .bind(job)
                    .bind(i64::from(attempt))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a job's events", e))?;
                Ok(rows
                    .into_iter()
                    .map(|(n, e)| (u64::try_from(n).unwrap_or(0), e))
                    .collect())
            }

            async fn record_throughput(
                &self,
                t: &$crate::store::ThroughputSample,
            ) -> $crate::error::Result<()> {
                use $crate::store::sql::{INSERT_THROUGHPUT, to_i64};
                sqlx::query(INSERT_THROUGHPUT)
                    .bind(&t.job)
                    .bind(i64::from(t.attempt))
                    .bind(&t.gpu_id)
                    .bind(&t.method)
                    .bind(t.tflops)
                    .bind(to_i64(t.recorded_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a throughput sample", e))?;
                Ok(())
            }

            async fn throughput(
                &self,
                gpu_id: &str,
                method: &str,
                limit: u32,
            ) -> $crate::error::Result<Vec<f64>> {
                let rows: Vec<(f64,)> = sqlx::query_as($crate::store::sql::SELECT_THROUGHPUT)
                    .bind(gpu_id)
                    .bind(method)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read throughput samples", e))?;
                Ok(rows.into_iter().map(|(t,)| t).collect())
            }

            async fn dataset_digest(
                &self,
                file_key: &str,
            ) -> $crate::error::Result<Option<[u8; 32]>> {
                let row: Option<(String,)> = sqlx::query_as($crate::store::sql::SELECT_DIGEST)
                    .bind(file_key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("read a dataset digest", e))?;
                Ok(row.and_then(|(hex,)| $crate::hex::decode_sha256(&hex)))
            }

            async fn keep_dataset_digest(
                &self,
                file_key: &str,
                sha256: &[u8; 32],
            ) -> $crate::error::Result<()> {
                use $crate::store::sql::{INSERT_DIGEST, now_secs};
                sqlx::query(INSERT_DIGEST)
                    .bind(file_key)
                    .bind($crate::hex::encode(sha256))
                    .bind(now_secs())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("keep a dataset digest", e))?;
                Ok(())
            }

            async fn record_job_pod(
                &self,
                p: &$crate::store::JobPodRecord,
            ) -> $crate::error::Result<()> {
                use $crate::store::sql::to_i64;
                sqlx::query($crate::store::bills_sql::INSERT_JOB_POD)
                    .bind(&p.pod_id)
                    .bind(&p.job_id)
                    .bind(i64::from(p.attempt))
                    .bind(&p.account)
                    .bind(to_i64(p.created_at))
                    .bind(p.cluster)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a job's pod", e))?;
                Ok(())
            }

            async fn job_pods(
                &self,
                job: &str,
            ) -> $crate::error::Result<Vec<$crate::store::JobPodRecord>> {
                let rows: Vec<(String, String, i64, String, i64, bool)> =
                    sqlx::query_as($crate::store::bills_sql::SELECT_JOB_PODS)
                        .bind(job)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| $crate::store::store_error("read a job's pods", e))?;
                Ok(rows
                    .into_iter()
                    .map(|(pod_id, job_id, attempt, account, created_at, cluster)| {
                        $crate::store::JobPodRecord {
                            pod_id,
                            job_id,
                            attempt: u32::try_from(attempt).unwrap_or(0),
                            account,
                            created_at: u64::try_from(created_at).unwrap_or(0),
                            cluster,
                        }
                    })
                    .collect())
            }

            async fn unbilled_jobs(
                &self,
                since: u64,
                ended_before: u64,
                limit: u32,
            ) -> $crate::error::Result<Vec<$crate::store::JobRecord>> {
                use $crate::store::sql::to_i64;
                let rows = sqlx::query($crate::store::bills_sql::SELECT_UNBILLED)
                    .bind(to_i64(since))
                    .bind(to_i64(ended_before))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("list the jobs to bill", e))?;
                let mut jobs = Vec::with_capacity(rows.len());
                for row in rows {
                    jobs.push($crate::store::sql::job_from_row!(row));
                }
                Ok(jobs)
            }

            async fn record_bill(
                &self,
                job: &$crate::store::JobRecord,
                billed_usd: f64,
                sample: Option<&$crate::store::BillSample>,
            ) -> $crate::error::Result<bool> {
                use $crate::store::bills_sql::{INSERT_BILL, UPDATE_BILLED};
                use $crate::store::sql::to_i64;
                // The sample first: a bill recorded on the job is never read again, so a sample
                // written after it could be lost; one written before is rewritten on the next try.
                if let Some(s) = sample {
                    sqlx::query(INSERT_BILL)
                        .bind(&s.job)
                        .bind(&s.gpu_id)
                        .bind(&s.method)
                        .bind(s.billed_usd)
                        .bind(s.estimated_usd)
                        .bind(to_i64(s.recorded_at))
                        .execute(&self.pool)
                        .await
                        .map_err(|e| $crate::store::store_error("keep a bill", e))?;
                }
                let done = sqlx::query(UPDATE_BILLED)
                    .bind(&job.id)
                    .bind(billed_usd)
                    .bind(job.state.as_str())
                    .bind(i64::from(job.attempt))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::store_error("record a job's bill", e))?;
                Ok(done.rows_affected() == 1)
            }

            async fn bill_ratios(
                &self,
                gpu_id: &str,
                method: &str,
                limit: u32,
            ) -> $crate::error::Result<Vec<f64>> {
                let rows: Vec<(f64,)> =
                    sqlx::query_as($crate::store::bills_sql::SELECT_BILL_RATIOS)
                        .bind(gpu_id)
                        .bind(method)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| $crate::store::store_error("read the bills", e))?;
                Ok(rows.into_iter().map(|(r,)| r).collect())
            }

            async fn job_accounts(&self, since: u64) -> $crate::error::Result<Vec<String>> {
                let rows: Vec<(String,)> =
                    sqlx::query_as($crate::store::bills_sql::SELECT_ACCOUNTS)
                        .bind($crate::store::sql::to_i64(since))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|e| $crate::store::store_error("list the accounts", e))?;
                Ok(rows.into_iter().map(|(a,)| a).collect())
            }

            fn backend(&self) -> &'static str {
                $backend
            }
        }}
    };
}
pub(crate) use sql_store;
