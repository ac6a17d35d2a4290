-- The webhook outbox: each job event, queued in the same transaction as the job's change, until
-- a delivery pass (of any app instance) has it answered with 2xx or gives up on it.
-- Portable SQL: the same file runs on SQLite (>= 3.35) and Postgres (>= 13).
-- msg_id: the webhook-id of every delivery of the event (the receiver's idempotency key).
-- payload: the JSON body, fixed when the event happened; it is signed at each delivery, with the
-- secrets of that moment, so a message queued before a secret rotates is still verified after.
-- lease, leased_until: the pass delivering it now; another pass may take it once the lease ends.
-- tries: deliveries tried; next_at: when the next is due; done_at: delivered or given up.

create table trainpod_webhook_messages (
    msg_id       text    primary key,
    job_id       text    not null,
    attempt      bigint  not null,
    event_type   text    not null,
    payload      text    not null,
    created_at   bigint  not null,
    status       text    not null default 'pending',
    tries        bigint  not null default 0,
    next_at      bigint  not null,
    lease        text    not null default '',
    leased_until bigint  not null default 0,
    last_error   text    not null default '',
    done_at      bigint
);
-- One message per event: a job's change makes each of its events once per attempt.
create unique index trainpod_webhook_messages_event
    on trainpod_webhook_messages (job_id, attempt, event_type);
create index trainpod_webhook_messages_due on trainpod_webhook_messages (status, next_at);
create index trainpod_webhook_messages_created on trainpod_webhook_messages (created_at);
