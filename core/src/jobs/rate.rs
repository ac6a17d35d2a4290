//! A per-job token bucket: a pod that floods the metrics route is told to slow down with
//! `Retry-After` instead of costing the app a store write per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};

/// Allows `burst` requests at once per job, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    clock: Arc<dyn Clock>,
    buckets: Mutex<HashMap<String, (f64, f64)>>,
}

impl RateLimiter {
    /// A limiter; the pod reporter needs about 1 request a second, plus retries.
    pub fn new(burst: u32, per_second: f64, clock: Arc<dyn Clock>) -> Self {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: per_second.max(0.001),
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request for `job`, or `RATE_LIMITED` with the seconds to wait.
    pub fn check(&self, job: &str) -> Result<()> {
        let now = self.clock.now_unix_secs() as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // A known job's bucket is found without copying its id; a new job's is made.
        if let Some(bucket) = buckets.get_mut(job) {
            return self.take(bucket, now, job);
        }
        let bucket = buckets.entry(job.to_owned()).or_insert((self.burst, now));
        self.take(bucket, now, job)
    }

    /// Refills `bucket` (tokens, last time) to `now` and takes one token from it.
    fn take(&self, (tokens, at): &mut (f64, f64), now: f64, job: &str) -> Result<()> {
        *tokens = (*tokens + (now - *at) * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(Error::new(
            ErrorKind::RateLimited,
            format!("too many metric requests for job {job}; retry after {wait} s"),
        )
        .with_retry_after(wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn a_burst_then_retry_after_then_refill() {
        let clock = Arc::new(ManualClock::new(1000));
        let limiter = RateLimiter::new(3, 1.0, clock.clone());
        for _ in 0..3 {
            limiter.check("a").unwrap();
        }
        let err = limiter.check("a").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after_secs(), Some(1));
        limiter.check("b").unwrap();
        clock.set(1002);
        limiter.check("a").unwrap();
        limiter.check("a").unwrap();
        assert!(limiter.check("a").is_err());
    }
}
