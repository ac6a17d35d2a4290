-- Jobs and the reconciler's record of what it did to pods.
-- Portable SQL: the same file runs on SQLite (>= 3.35) and Postgres (>= 13).

create table trainpod_jobs (
    job_id          text    primary key,
    user_id         text    not null,
    attempt         bigint  not null check (attempt >= 1),
    state           text    not null,
    reason          text    not null default '',
    pod_id          text,
    created_at      bigint  not null,
    updated_at      bigint  not null,
    deadline_unix   bigint  not null,
    budget_usd      double precision not null,
    price_per_hour  double precision not null,
    started_at      bigint,
    last_heartbeat  bigint,
    step            bigint,
    max_steps       bigint,
    loss            double precision
);
create index trainpod_jobs_pod on trainpod_jobs (pod_id);

-- One row per pod acted on: the primary key makes "terminate this pod" happen once, whichever
-- of several app instances reconciles first.
create table trainpod_pod_actions (
    pod_id      text    primary key,
    job_id      text,
    action      text    not null,
    reason      text    not null,
    acted_at    bigint  not null
);
