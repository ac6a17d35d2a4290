//! RunPod's per-user quotas: fixed minute, hour and day windows aligned on the emulator's clock,
//! reported on every answer to an authenticated request in the `RateLimit` and
//! `RateLimit-Policy` headers (structured-field lists, as the v2 spec's components describe
//! them), and a 429 with `Retry-After` once a window's quota is used up.

use crate::faults::Faults;

/// The windows: name and length in seconds.
const WINDOWS: [(&str, u64); 3] = [("minute", 60), ("hour", 3600), ("day", 86_400)];

/// Quotas no test reaches unless it sets `quotaPerMinute`.
const DEFAULT_MINUTE: u64 = 100_000;
const DEFAULT_HOUR: u64 = 1_000_000;
const DEFAULT_DAY: u64 = 10_000_000;

/// Requests counted in each window: (the window's start, the count).
#[derive(Debug, Default)]
pub(crate) struct Windows {
    counts: [(u64, u64); 3],
}

/// A request over quota: the window it exceeded and the seconds until that window resets.
#[derive(Debug)]
pub(crate) struct Exceeded {
    pub(crate) window: &'static str,
    pub(crate) retry_after: u64,
}

/// The headers of one answer.
pub(crate) type Headers = Vec<(&'static str, String)>;

fn quotas(f: &Faults) -> [u64; 3] {
    let minute = f.quota_per_minute.unwrap_or(DEFAULT_MINUTE);
    // A longer window never allows less than a shorter one.
    let hour = DEFAULT_HOUR.max(minute);
    [minute, hour, DEFAULT_DAY.max(hour)]
}

impl Windows {
    /// Count one request at `now`, or refuse it (uncounted) when a window is used up; the
    /// headers describe the windows after it either way.
    pub(crate) fn take(&mut self, now: u64, f: &Faults) -> (Headers, Option<Exceeded>) {
        let quotas = quotas(f);
        for ((_, len), slot) in WINDOWS.iter().zip(self.counts.iter_mut()) {
            let start = now - now % len;
            if slot.0 != start {
                *slot = (start, 0);
            }
        }
        let exceeded = WINDOWS
            .iter()
            .zip(self.counts.iter().zip(quotas))
            .filter(|(_, ((_, used), quota))| used >= quota)
            .map(|((name, len), ((start, _), _))| Exceeded {
                window: name,
                retry_after: start + len - now,
            })
            .max_by_key(|e| e.retry_after);
        if exceeded.is_none() {
            for slot in &mut self.counts {
                slot.1 += 1;
            }
        }
        (self.headers(now, quotas), exceeded)
    }

    fn headers(&self, now: u64, quotas: [u64; 3]) -> Headers {
        let mut state = Vec::new();
        let mut policy = Vec::new();
        for (((name, len), (start, used)), quota) in WINDOWS.iter().zip(self.counts).zip(quotas) {
            let left = quota.saturating_sub(used);
            let reset = start + len - now;
            state.push(format!("\"{name}\";r={left};t={reset}"));
            policy.push(format!("\"{name}\";q={quota};w={len}"));
        }
        vec![
            ("ratelimit", state.join(", ")),
            ("ratelimit-policy", policy.join(", ")),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_quota_refuses_until_its_window_resets() {
        let f = Faults {
            quota_per_minute: Some(2),
            ..Faults::default()
        };
        let mut w = Windows::default();
        let t = 1_700_000_000; // 20 s into a minute
        let (h, over) = w.take(t, &f);
        assert!(over.is_none());
        assert_eq!(
            h[0].1,
            "\"minute\";r=1;t=40, \"hour\";r=999999;t=2800, \"day\";r=9999999;t=6400"
        );
        assert_eq!(
            h[1].1,
            "\"minute\";q=2;w=60, \"hour\";q=1000000;w=3600, \"day\";q=10000000;w=86400"
        );
        assert!(w.take(t + 1, &f).1.is_none());
        let (h, over) = w.take(t + 5, &f);
        let over = over.unwrap_or_else(|| panic!("not refused"));
        assert_eq!((over.window, over.retry_after), ("minute", 35));
        assert!(h[0].1.starts_with("\"minute\";r=0;t=35"));
        assert!(w.take(t + 40, &f).1.is_none(), "a new minute");
    }
}
