-- The token ledger and metric sequence numbers.
-- Portable SQL: the same file runs on SQLite (>= 3.35) and Postgres (>= 13).
-- Times are Unix seconds; ids are text; hashes are lowercase hex.

create table trainpod_token_redemptions (
    jti         text    primary key,
    purpose     text    not null,
    job_id      text    not null,
    redeemed_at bigint  not null,
    expires_at  bigint  not null
);
create index trainpod_token_redemptions_expiry on trainpod_token_redemptions (expires_at);

create table trainpod_metric_batches (
    job_id      text    not null,
    epoch       bigint  not null check (epoch >= 0),
    seq         bigint  not null check (seq >= 0),
    body_sha256 text    not null,
    received_at bigint  not null,
    primary key (job_id, epoch, seq)
);
