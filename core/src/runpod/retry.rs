//! Bounded retries with exponential backoff and jitter that honour `Retry-After`.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::Random;
use crate::{Error, ErrorKind};

/// Waits between attempts. Tests inject one that records the waits and returns at once.
#[async_trait]
pub trait Sleeper: Send + Sync + Debug {
    /// Wait for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// A [`Sleeper`] on tokio's timer (the caller's runtime; core never builds one).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// How reads, actions and deletes are retried. Creates are never retried blindly.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Most time spent waiting across all attempts; a `Retry-After` beyond it ends the retries.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            max_total: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// A policy with these bounds.
    pub fn new(
        max_attempts: u32,
        base_delay: Duration,
        max_delay: Duration,
        max_total: Duration,
    ) -> Self {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            base_delay,
            max_delay: max_delay.max(base_delay),
            max_total,
        }
    }

    /// The wait before attempt `failures + 1`: `Retry-After` when the server sent one, else
    /// exponential backoff with jitter in [½, 1] of the step.
    pub(crate) fn delay(&self, failures: u32, err: &Error, random: &dyn Random) -> Duration {
        if let Some(secs) = err.retry_after_secs() {
            return Duration::from_secs(secs);
        }
        let exp = failures.saturating_sub(1).min(20);
        let step = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let mut b = [0u8; 2];
        random.fill(&mut b);
        let frac = f64::from(u16::from_be_bytes(b)) / f64::from(u16::MAX);
        step.mul_f64(0.5 + 0.5 * frac)
    }
}

/// Whether a read, action or delete may be sent again after this error.
pub(crate) fn is_retryable_request(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::RateLimited | ErrorKind::ServerError | ErrorKind::Transport | ErrorKind::Timeout
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::CounterRandom;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let p = RetryPolicy::new(
            5,
            Duration::from_secs(1),
            Duration::from_secs(4),
            Duration::from_secs(60),
        );
        let r = CounterRandom::default();
        let e = Error::new(ErrorKind::ServerError, "x");
        for (failures, step) in [(1, 1u64), (2, 2), (3, 4), (4, 4), (30, 4)] {
            let d = p.delay(failures, &e, &r);
            let step = Duration::from_secs(step);
            assert!(d >= step / 2 && d <= step, "{failures}: {d:?}");
        }
        let e = Error::new(ErrorKind::RateLimited, "x").with_retry_after(7);
        assert_eq!(p.delay(1, &e, &r), Duration::from_secs(7));
        assert!(!is_retryable_request(&Error::new(
            ErrorKind::CapacityUnavailable,
            "x"
        )));
        assert!(!is_retryable_request(&Error::new(
            ErrorKind::AuthInvalid,
            "x"
        )));
        assert!(is_retryable_request(&e));
    }
}
