//! A job's money. The budget is the job's, across all its attempts: a retry spends only what
//! earlier attempts left. Each attempt's hard deadline is what that remainder buys at the price
//! of the GPU actually rented, computed once, when its pod is created.

use super::estimate::Gpus;
use crate::error::{Error, ErrorKind, Result};
use crate::store::JobRecord;

/// The longest an attempt may run: the longest token lifetime.
const MAX_ATTEMPT_SECS: f64 = 7.0 * 24.0 * 3600.0;

/// The job's price, USD per hour: RunPod bills every pod of a cluster, each at its GPUs' price,
/// so every GPU of every node counts.
pub(crate) fn price_per_hour(per_gpu_hour: f64, gpus: Gpus) -> f64 {
    per_gpu_hour * f64::from(gpus.world())
}

/// Seconds `budget_usd` buys at `price_per_hour` (USD per hour for the whole job: every GPU of
/// every node, [`price_per_hour`]), or `max_hours` when shorter, and at most a week. A free
/// price buys the week.
pub(crate) fn deadline_secs(budget_usd: f64, price_per_hour: f64, max_hours: Option<f64>) -> u64 {
    let bought = if price_per_hour > 0.0 && budget_usd.is_finite() {
        (budget_usd.max(0.0) / price_per_hour * 3600.0).min(MAX_ATTEMPT_SECS)
    } else {
        MAX_ATTEMPT_SECS
    };
    let capped = max_hours.map_or(bought, |h| bought.min(h * 3600.0));
    // Finite and within a week by now: the cast neither saturates nor wraps.
    capped.clamp(0.0, MAX_ATTEMPT_SECS).floor() as u64
}

/// The Unix time `secs` after `now`, or an error rather than a wrapped time.
pub(crate) fn deadline_at(now: u64, secs: u64) -> Result<u64> {
    now.checked_add(secs).ok_or_else(|| {
        Error::new(
            ErrorKind::Internal,
            format!("a deadline {secs} s after {now} does not fit: check the clock"),
        )
    })
}

/// What the job's current attempt has cost by `now` (or by its end, once ended): RunPod's
/// billing when it was settled, else its price for the time since its pod was created.
pub(crate) fn attempt_cost(job: &JobRecord, now: u64) -> f64 {
    if let Some(settled) = job.cost_usd {
        return settled;
    }
    let end = if job.state.is_final() {
        job.updated_at
    } else {
        now
    };
    let billed = job.started_at.map_or(0, |start| end.saturating_sub(start));
    job.price_per_hour * billed as f64 / 3600.0
}

/// What the job has cost across its attempts by `now`.
pub(crate) fn job_cost(job: &JobRecord, now: u64) -> f64 {
    job.spent_usd + attempt_cost(job, now)
}

/// What is left of the job's budget once its current attempt is paid.
pub(crate) fn remaining_after(job: &JobRecord, now: u64) -> f64 {
    job.budget_usd - job_cost(job, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobState;

    #[test]
    fn the_deadline_is_what_the_budget_buys_at_the_price_rented() {
        assert_eq!(deadline_secs(5.0, 1.0, None), 18_000);
        // The same budget on a pricier fallback buys less time.
        assert_eq!(deadline_secs(5.0, 2.5, None), 7_200);
        assert_eq!(deadline_secs(5.0, 1.0, Some(1.0)), 3_600);
        assert_eq!(deadline_secs(1e12, 0.01, None), 7 * 24 * 3600);
        assert_eq!(deadline_secs(5.0, 0.0, None), 7 * 24 * 3600);
        assert_eq!(deadline_secs(-1.0, 1.0, None), 0);
        assert_eq!(deadline_secs(f64::NAN, 1.0, None), 7 * 24 * 3600);
    }

    #[test]
    fn a_cluster_pays_for_every_gpu_of_every_node_and_buys_less_time() {
        let one = price_per_hour(2.0, Gpus::ONE);
        let cluster = price_per_hour(2.0, Gpus::new(4, 2));
        assert_eq!((one, cluster), (2.0, 16.0));
        // The same budget buys an eighth of the time on eight GPUs.
        assert_eq!(deadline_secs(8.0, one, None), 4 * 3600);
        assert_eq!(deadline_secs(8.0, cluster, None), 1800);
    }

    #[test]
    fn deadlines_never_wrap() {
        assert_eq!(deadline_at(10, 5).ok(), Some(15));
        let err = deadline_at(u64::MAX - 1, 5).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
    }

    #[test]
    fn the_cost_counts_every_attempt_and_stops_at_the_end() {
        let job = JobRecord {
            state: JobState::Cancelled,
            started_at: Some(1_000),
            updated_at: 1_000 + 1_800,
            price_per_hour: 2.0,
            spent_usd: 0.5,
            budget_usd: 5.0,
            ..JobRecord::new("j", "u", 1_000)
        };
        assert!((attempt_cost(&job, 99_999) - 1.0).abs() < 1e-9);
        assert!((job_cost(&job, 99_999) - 1.5).abs() < 1e-9);
        assert!((remaining_after(&job, 99_999) - 3.5).abs() < 1e-9);
        let settled = JobRecord {
            cost_usd: Some(0.25),
            ..job
        };
        assert!((job_cost(&settled, 99_999) - 0.75).abs() < 1e-9);
    }
}
