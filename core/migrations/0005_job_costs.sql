-- What a job has cost across its attempts, why it ended (in words, with the pod's stage, exit
-- code and log tail, kept so that they outlive the pod), and where its pod was placed.
-- spent_usd: the settled cost of the attempts before the current one (the budget is the job's).
-- cost_usd: the current attempt's settled cost, once its pod is gone (from RunPod's billing).
-- gpu_id, data_center_id: where the current attempt's pod runs (the reconciler's next-GPU retry).

alter table trainpod_jobs add column spent_usd double precision not null default 0;
alter table trainpod_jobs add column cost_usd double precision;
alter table trainpod_jobs add column cause text not null default '';
alter table trainpod_jobs add column stage text not null default '';
alter table trainpod_jobs add column exit_code bigint;
alter table trainpod_jobs add column log_tail text not null default '';
alter table trainpod_jobs add column gpu_id text not null default '';
alter table trainpod_jobs add column data_center_id text not null default '';
create index trainpod_jobs_state on trainpod_jobs (state);
