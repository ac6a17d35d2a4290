//! Which batch numbers an attempt takes: the window around the highest one it accepted.
//!
//! A pod numbers its batches from one counter on its volume (`state/batch`, shared by bash and
//! Python under `flock`), from 1, gap-free, and sends its outbox oldest first; so a new number
//! is always close to the highest the app accepted. Out of order only by a little: two senders
//! (bash and the trainer's reporter) each walk the outbox, a number is taken a moment before
//! its file is written, and a batch the app refuses for good (a 4xx) is dropped, leaving a gap.
//! A number far behind or far ahead is no batch of this attempt's pod (a stale or forged one),
//! and is refused with `SEQUENCE_CONFLICT`, the pod's answer for a number it must not reuse.
//!
//! The store applies the rule atomically with the insert (see [`crate::store::Store::accept_batch`]),
//! so concurrent app instances agree on it.
//!
//! The numbers the rule treats apart (the check-in's, the log-read space) are defined here with
//! it; ingestion and the stores only use them.

/// The batch number of a pod's check-in: the first thing its container sends, before it runs
/// any stage (`{"type":"checkin","data":{"boot":<id>}}`, a boot id fresh at each container
/// start). The first container's check-in is accepted, and its retries are replays; a check-in
/// with another boot id is a container RunPod restarted after its main process died, and the
/// attempt must not run twice.
pub const CHECKIN_BATCH: u64 = 0;

/// Batch numbers of log-read events start here: the SDK numbers each event it reads back from
/// a pod's log (telemetry without an app) by its source and counter, far above the numbers a
/// pod's own batches use. They have no window (the log is read from any point, and the same
/// lines again); a pod may not post a batch numbered here.
pub const LOG_BATCH_BASE: u64 = 1 << 40;

/// How far a new batch number may lie behind or ahead of the highest number the attempt
/// accepted. The pod's own reorderings are a few numbers (bash and Python spooling at the same
/// moment); this leaves room for hundreds of batches dropped in a row (each a 4xx the pod does
/// not resend, while its heartbeats, accepted every 30 s, move the window on) before a real pod
/// could meet the edge, while a batch from far back (after batch 500, batch 3) or a number from
/// far ahead is refused.
pub const BATCH_WINDOW: u64 = 256;

/// Whether a batch number the attempt has not accepted yet is taken now, given the highest
/// number below [`LOG_BATCH_BASE`] it accepted (`None` before any). A number it did accept is a
/// replay or a conflict whatever this says.
///
/// - The check-in ([`CHECKIN_BATCH`]) comes before any other batch of the attempt: it is taken
///   only first. After another batch it is a container that started after the attempt ran.
/// - Any other pod number is taken within [`BATCH_WINDOW`] of the highest (of 0 before any):
///   above `highest - BATCH_WINDOW` and at most `highest + BATCH_WINDOW`.
/// - Log-read numbers (from [`LOG_BATCH_BASE`]) are their own space, with no window.
pub fn batch_admitted(seq: u64, highest: Option<u64>) -> bool {
    if seq >= LOG_BATCH_BASE {
        return true;
    }
    match highest {
        None => seq <= BATCH_WINDOW,
        Some(_) if seq == CHECKIN_BATCH => false,
        Some(h) => seq <= h.saturating_add(BATCH_WINDOW) && seq + BATCH_WINDOW > h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_highest_number_accepted() {
        const W: u64 = BATCH_WINDOW;
        // Before any batch: the check-in, or a first batch near the start.
        assert!(batch_admitted(0, None));
        assert!(batch_admitted(1, None));
        assert!(batch_admitted(W, None));
        assert!(!batch_admitted(W + 1, None));
        // After batch 500: a little behind or ahead is taken, far either way is not.
        let h = Some(500);
        assert!(batch_admitted(499, h));
        assert!(batch_admitted(500 - W + 1, h));
        assert!(!batch_admitted(500 - W, h));
        assert!(!batch_admitted(3, h));
        assert!(batch_admitted(500 + W, h));
        assert!(!batch_admitted(500 + W + 1, h));
        assert!(!batch_admitted(0, h), "a check-in after other batches");
        // The check-in accepted first: the pod's first batch follows it.
        assert!(batch_admitted(1, Some(0)));
        // Log-read numbers have their own space: no window, and they move no pod window.
        assert!(batch_admitted(LOG_BATCH_BASE, Some(5)));
        assert!(batch_admitted(LOG_BATCH_BASE + (3 << 32) + 7, None));
        assert!(!batch_admitted(LOG_BATCH_BASE - 1, Some(5)));
    }
}
