-- The events of each accepted metric batch, as the pod sent them (a JSON array).

create table trainpod_job_events (
    job_id      text    not null,
    attempt     bigint  not null,
    batch       bigint  not null,
    received_at bigint  not null,
    events      text    not null,
    primary key (job_id, attempt, batch)
);
