//! SQL shared by the SQLite and Postgres stores: both accept `$N` parameters and `on conflict`.

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

pub(crate) use crate::hex::encode as hex;
