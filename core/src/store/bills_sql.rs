//! The SQL stores' accounts and bills: the pods each job had, the final bills read from
//! RunPod, and the accounts the reconciler visits (the statements; `sql_store!` runs them).

pub(crate) const INSERT_JOB_POD: &str = "insert into trainpod_job_pods
     (pod_id, job_id, attempt, account, created_at, cluster) values ($1, $2, $3, $4, $5, $6)
     on conflict (pod_id) do nothing";

pub(crate) const SELECT_JOB_PODS: &str = "select pod_id, job_id, attempt, account, created_at,
     cluster from trainpod_job_pods where job_id = $1 order by attempt, created_at, pod_id";

/// Ended jobs with a pod and no bill yet, that ended in `[$1, $2]`.
pub(crate) const SELECT_UNBILLED: &str = "select job_id, user_id, attempt, state, reason, pod_id,
     created_at, updated_at, deadline_unix, budget_usd, price_per_hour, started_at, last_heartbeat,
     step, max_steps, loss, config, spent_usd, cost_usd, cause, gpu_id, data_center_id, stage,
     exit_code, log_tail, account, billed_usd, eval_loss
     from trainpod_jobs
     where state in ('succeeded', 'failed', 'cancelled', 'timed_out', 'over_budget')
       and billed_usd is null and pod_id is not null and updated_at >= $1 and updated_at <= $2
     order by updated_at, job_id limit $3";

/// The bill lands only on the attempt and state it was read for: a retry started meanwhile
/// has pods of its own to bill.
pub(crate) const UPDATE_BILLED: &str = "update trainpod_jobs set billed_usd = $2
     where job_id = $1 and billed_usd is null and state = $3 and attempt = $4";

pub(crate) const INSERT_BILL: &str = "insert into trainpod_bills
     (job_id, gpu_id, method, billed_usd, estimated_usd, recorded_at)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (job_id) do update set gpu_id = excluded.gpu_id, method = excluded.method,
     billed_usd = excluded.billed_usd, estimated_usd = excluded.estimated_usd,
     recorded_at = excluded.recorded_at";

pub(crate) const SELECT_BILL_RATIOS: &str = "select billed_usd / estimated_usd from trainpod_bills
     where gpu_id = $1 and method = $2 and estimated_usd > 0
     order by recorded_at desc, job_id limit $3";

pub(crate) const SELECT_ACCOUNTS: &str = "select distinct account from trainpod_jobs
     where updated_at >= $1
        or state not in ('queued', 'succeeded', 'failed', 'cancelled', 'timed_out', 'over_budget')
     order by account";
