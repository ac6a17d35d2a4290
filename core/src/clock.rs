//! Injectable time and randomness, so that expiry, leeway, deadlines and backoff are tested exactly.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + Debug {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_unix_secs(&self) -> u64;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_secs(&self) -> u64 {
        // A clock before 1970 is a broken machine; treating it as the epoch makes every token
        // look expired, which fails closed.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: for tests and golden vectors.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now` seconds since the epoch.
    pub fn new(now: u64) -> Self {
        ManualClock {
            now: AtomicU64::new(now),
        }
    }

    /// Set the time.
    pub fn set(&self, now: u64) {
        self.now.store(now, Ordering::SeqCst);
    }

    /// Move the time forward by `secs`.
    pub fn advance(&self, secs: u64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_secs(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A source of random bytes (token ids).
pub trait Random: Send + Sync + Debug {
    /// Fill `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        // Without entropy no token can be issued safely; there is nothing sensible to fall back to.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random source failed");
    }
}

/// A deterministic byte stream for tests: a counter, never for production.
#[derive(Debug, Default)]
pub struct CounterRandom {
    next: AtomicU64,
}

impl Random for CounterRandom {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.next.fetch_add(1, Ordering::SeqCst).to_be_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

/// Howard Hinnant's `civil_from_days`: (year, month, day) of a day on or after 1970-01-01.
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC) for seconds since the epoch.
pub fn rfc3339(unix_time: u64) -> String {
    let (y, m, d) = civil_from_days(unix_time / 86_400);
    let secs = unix_time % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_renders_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_674_087_231), "2023-01-19T00:13:51Z");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now_unix_secs(), 100);
        clock.advance(5);
        assert_eq!(clock.now_unix_secs(), 105);
        clock.set(7);
        assert_eq!(clock.now_unix_secs(), 7);
    }

    #[test]
    fn counter_random_is_deterministic_and_os_random_is_not_constant() {
        let (a, b) = (CounterRandom::default(), CounterRandom::default());
        let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        let (mut p, mut q) = ([0u8; 32], [0u8; 32]);
        OsRandom.fill(&mut p);
        OsRandom.fill(&mut q);
        assert_ne!(p, q);
    }
}
