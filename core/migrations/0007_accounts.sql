-- Jobs of many RunPod accounts, and what RunPod billed for them.
-- account: the RunPod account a job's pods run on ('' is the builder's own key); the key itself
-- is never stored, the app's credentials resolver gives it when a call needs it.
-- billed_usd: what RunPod's billing says every pod of the job cost, read once the job ended
-- (billing runs every few minutes, so it is read later, by the reconciler); null until then.

alter table trainpod_jobs add column account text not null default '';
alter table trainpod_jobs add column billed_usd double precision;
create index trainpod_jobs_account on trainpod_jobs (account, updated_at);

-- Every pod a job had, attempt by attempt: the final bill is theirs together.
create table trainpod_job_pods (
    pod_id      text    primary key,
    job_id      text    not null,
    attempt     bigint  not null,
    account     text    not null,
    created_at  bigint  not null
);
create index trainpod_job_pods_job on trainpod_job_pods (job_id);

-- Billed against estimated, job by job, for the plan's calibration: a GPU type's jobs that
-- cost more than planned make its next estimates higher.
create table trainpod_bills (
    job_id          text    primary key,
    gpu_id          text    not null,
    method          text    not null,
    billed_usd      double precision not null,
    estimated_usd   double precision not null,
    recorded_at     bigint  not null
);
create index trainpod_bills_gpu on trainpod_bills (gpu_id, method, recorded_at);
