//! An in-process store for tests and single-process tools.

use super::{BatchOutcome, MetricBatch, Redemption, Store, already_used, sequence_conflict};
use crate::error::Result;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// Holds everything in memory; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    redemptions: HashMap<Uuid, Redemption>,
    batches: HashMap<(String, u32, u64), [u8; 32]>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps (each operation is one insert).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn redeem(&self, redemption: &Redemption) -> Result<()> {
        let mut state = self.state();
        if state.redemptions.contains_key(&redemption.jti) {
            return Err(already_used());
        }
        state.redemptions.insert(redemption.jti, redemption.clone());
        Ok(())
    }

    async fn accept_batch(&self, batch: &MetricBatch) -> Result<BatchOutcome> {
        let mut state = self.state();
        let key = (batch.job.clone(), batch.epoch, batch.seq);
        match state.batches.get(&key) {
            None => {
                state.batches.insert(key, batch.body_sha256);
                Ok(BatchOutcome::Accepted)
            }
            Some(hash) if *hash == batch.body_sha256 => Ok(BatchOutcome::Replayed),
            Some(_) => Err(sequence_conflict(batch)),
        }
    }

    async fn prune_redemptions(&self, now: u64) -> Result<u64> {
        let mut state = self.state();
        let before = state.redemptions.len();
        state.redemptions.retain(|_, r| r.expires_at >= now);
        Ok((before - state.redemptions.len()) as u64)
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
