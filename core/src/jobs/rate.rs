//! A per-job token bucket: a pod that floods the metrics route is told to slow down with
//! `Retry-After` instead of costing the app a store write per request.
//!
//! The buckets are bounded: an app instance lives for months and sees every job its pods ever
//! ran, so past [`DEFAULT_MAX_JOBS`] buckets the ones full again are dropped (a full bucket is
//! what a job without one gets, so nothing is forgotten), and if that is not enough the ones
//! idle longest, down to half the bound. Each sweep frees at least half the map, so a lookup
//! stays a hash lookup however many jobs pass through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result, quote};

/// The most jobs a limiter keeps a bucket for by default.
pub const DEFAULT_MAX_JOBS: usize = 10_000;

/// Allows `burst` requests at once per job, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    max_jobs: usize,
    clock: Arc<dyn Clock>,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_job: HashMap<String, Bucket>,
    /// Counts requests: which bucket was used last, finer than the clock's seconds.
    ticks: u64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// When it was last refilled, Unix seconds.
    at: f64,
    /// The request that used it last.
    tick: u64,
}

impl RateLimiter {
    /// A limiter; the pod reporter needs about 1 request a second, plus retries.
    pub fn new(burst: u32, per_second: f64, clock: Arc<dyn Clock>) -> Self {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: per_second.max(0.001),
            max_jobs: DEFAULT_MAX_JOBS,
            clock,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Keeps buckets for at most `max_jobs` jobs (at least 2; default [`DEFAULT_MAX_JOBS`]).
    pub fn with_max_jobs(mut self, max_jobs: usize) -> Self {
        self.max_jobs = max_jobs.max(2);
        self
    }

    /// How many jobs have a bucket now.
    pub fn tracked_jobs(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_job
            .len()
    }

    /// Takes one request for `job`, or `RATE_LIMITED` with the seconds to wait.
    pub fn check(&self, job: &str) -> Result<()> {
        let now = self.clock.now_unix_secs() as f64;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.ticks += 1;
        let tick = buckets.ticks;
        // A known job's bucket is found without copying its id; a new job's is made.
        if let Some(bucket) = buckets.by_job.get_mut(job) {
            return self.take(bucket, now, tick, job);
        }
        if buckets.by_job.len() >= self.max_jobs {
            self.sweep(&mut buckets.by_job, now);
        }
        let bucket = buckets.by_job.entry(job.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
            tick,
        });
        self.take(bucket, now, tick, job)
    }

    /// Drops the buckets full again at `now`, then, if more than half the bound is left, the
    /// ones used longest ago down to half: a job being limited was just seen, and stays.
    fn sweep(&self, by_job: &mut HashMap<String, Bucket>, now: f64) {
        by_job.retain(|_, b| b.tokens + (now - b.at) * self.per_second < self.burst);
        let keep = self.max_jobs / 2;
        if by_job.len() <= keep {
            return;
        }
        let mut ticks: Vec<u64> = by_job.values().map(|b| b.tick).collect();
        let cut = ticks.len() - keep;
        // Ticks are unique, so exactly `keep` buckets are at or after the cut.
        let (_, first_kept, _) = ticks.select_nth_unstable(cut);
        let first_kept = *first_kept;
        by_job.retain(|_, b| b.tick >= first_kept);
    }

    /// Refills `bucket` to `now` and takes one token from it.
    fn take(&self, bucket: &mut Bucket, now: f64, tick: u64, job: &str) -> Result<()> {
        bucket.tokens = (bucket.tokens + (now - bucket.at) * self.per_second).min(self.burst);
        bucket.at = now;
        bucket.tick = tick;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(Error::new(
            ErrorKind::RateLimited,
            format!(
                "too many metric requests for job {}; retry after {wait} s",
                quote(job)
            ),
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

    #[test]
    fn the_buckets_stay_bounded_and_a_hot_job_is_still_limited() {
        let clock = Arc::new(ManualClock::new(1000));
        let limiter = RateLimiter::new(3, 1.0, clock.clone()).with_max_jobs(100);
        // A hot job spends its burst, then many jobs come and go, one request each.
        for _ in 0..3 {
            limiter.check("hot").unwrap();
        }
        for i in 0..5_000 {
            limiter.check(&format!("job-{i}")).unwrap();
            assert!(limiter.tracked_jobs() <= 100);
            // The hot job keeps knocking within the same second: still refused.
            if i % 10 == 0 {
                assert!(limiter.check("hot").is_err(), "after {i} jobs");
            }
        }
        // Time passes: jobs seen once are full again and go at the next sweep.
        clock.set(1010);
        for i in 0..60 {
            limiter.check(&format!("late-{i}")).unwrap();
        }
        assert!(limiter.tracked_jobs() <= 100);
        for _ in 0..3 {
            limiter.check("hot").unwrap();
        }
        assert!(limiter.check("hot").is_err());
        assert!(limiter.tracked_jobs() <= 100);
    }

    #[test]
    fn a_sweep_never_drops_a_bucket_that_is_limiting_a_job_seen_lately() {
        let clock = Arc::new(ManualClock::new(1000));
        let limiter = RateLimiter::new(1, 0.01, clock.clone()).with_max_jobs(10);
        for i in 0..9 {
            limiter.check(&format!("old-{i}")).unwrap();
        }
        clock.set(1001);
        limiter.check("hot").unwrap();
        // Every bucket is empty and slow to refill: the sweep drops the oldest, never "hot".
        for i in 0..20 {
            limiter.check(&format!("new-{i}")).unwrap();
            assert!(limiter.check("hot").is_err(), "after {i} new jobs");
        }
    }
}
