//! An in-process store for tests and single-process tools.

use super::outbox::event_rank;
use super::{
    BatchOutcome, BillSample, JobPodRecord, JobRecord, MetricBatch, PodActionRecord, Redemption,
    Store, ThroughputSample, WebhookAttempt, WebhookMessage, WebhookStatus, already_used,
    outside_window, sequence_conflict,
};
use crate::error::Result;
use crate::jobs::{JobState, LOG_BATCH_BASE, batch_admitted};
use crate::webhooks::{Before, Queued, messages};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use uuid::Uuid;

/// Holds everything in memory; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

// Batches and events are kept per job, keyed by (attempt, batch number): a metric batch then
// looks its job up by `&str`, without copying the id into a key, and `events` reads one job's
// rows instead of scanning every job's.
#[derive(Debug, Default)]
struct State {
    redemptions: HashMap<Uuid, Redemption>,
    batches: HashMap<String, Batches>,
    jobs: HashMap<String, JobRecord>,
    pod_actions: HashMap<String, PodActionRecord>,
    events: HashMap<String, BTreeMap<(u32, u64), String>>,
    throughput: Vec<ThroughputSample>,
    digests: HashMap<String, [u8; 32]>,
    job_pods: Vec<JobPodRecord>,
    bills: HashMap<String, BillSample>,
    webhooks: Vec<Outboxed>,
}

/// A webhook message with its lease.
#[derive(Debug)]
struct Outboxed {
    message: WebhookMessage,
    lease: String,
    leased_until: u64,
}

impl State {
    /// Queues events, once per (job, attempt, type), as the SQL stores' unique index does.
    fn enqueue(&mut self, queued: Vec<Queued>) {
        for q in queued {
            let seen = self.webhooks.iter().any(|w| {
                let m = &w.message;
                m.job_id == q.job_id && m.attempt == q.attempt && m.event_type == q.event_type
            });
            if seen {
                continue;
            }
            self.webhooks.push(Outboxed {
                message: WebhookMessage {
                    id: q.id,
                    job_id: q.job_id,
                    attempt: q.attempt,
                    event_type: q.event_type.to_owned(),
                    payload: q.payload,
                    created_at: q.created_at,
                    status: WebhookStatus::Pending,
                    tries: 0,
                    next_at: q.created_at,
                    last_error: String::new(),
                    done_at: None,
                },
                lease: String::new(),
                leased_until: 0,
            });
        }
    }
}

/// One job's accepted batches, and per attempt the highest number below
/// [`crate::jobs::LOG_BATCH_BASE`] (the window's anchor), kept under the same lock.
#[derive(Debug, Default)]
struct Batches {
    bodies: HashMap<(u32, u64), [u8; 32]>,
    highest: HashMap<u32, u64>,
}

/// `job`'s entry in a per-job map, made on first use (the id is copied once per job).
fn of_job<'a, V: Default>(map: &'a mut HashMap<String, V>, job: &str) -> &'a mut V {
    if !map.contains_key(job) {
        map.insert(job.to_owned(), V::default());
    }
    map.get_mut(job).expect("inserted above")
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
        let batches = of_job(&mut state.batches, &batch.job);
        let key = (batch.epoch, batch.seq);
        match batches.bodies.get(&key) {
            Some(hash) if *hash == batch.body_sha256 => return Ok(BatchOutcome::Replayed),
            Some(_) => return Err(sequence_conflict(batch)),
            None => {}
        }
        let highest = batches.highest.get(&batch.epoch).copied();
        if !batch_admitted(batch.seq, highest) {
            return Err(outside_window(batch, highest));
        }
        batches.bodies.insert(key, batch.body_sha256);
        if batch.seq < LOG_BATCH_BASE {
            let h = batches.highest.entry(batch.epoch).or_insert(batch.seq);
            *h = (*h).max(batch.seq);
        }
        Ok(BatchOutcome::Accepted)
    }

    async fn prune_redemptions(&self, now: u64) -> Result<u64> {
        let mut state = self.state();
        let before = state.redemptions.len();
        state.redemptions.retain(|_, r| r.expires_at >= now);
        Ok((before - state.redemptions.len()) as u64)
    }

    async fn insert_job(&self, job: &JobRecord) -> Result<bool> {
        let mut state = self.state();
        if state.jobs.contains_key(&job.id) {
            return Ok(false);
        }
        state.jobs.insert(job.id.clone(), job.clone());
        state.enqueue(messages(None, job));
        Ok(true)
    }

    async fn get_job(&self, id: &str) -> Result<Option<JobRecord>> {
        Ok(self.state().jobs.get(id).cloned())
    }

    async fn live_jobs(&self) -> Result<Vec<JobRecord>> {
        let mut jobs: Vec<JobRecord> = self
            .state()
            .jobs
            .values()
            .filter(|j| j.state != JobState::Queued && !j.state.is_final())
            .cloned()
            .collect();
        jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(jobs)
    }

    async fn update_job(&self, job: &JobRecord, expected: JobState) -> Result<bool> {
        let mut state = self.state();
        let before = match state.jobs.get_mut(&job.id) {
            Some(row) if row.state == expected && row.attempt == job.attempt => {
                let before = Before::of(row);
                *row = job.clone();
                before
            }
            _ => return Ok(false),
        };
        state.enqueue(messages(Some(before), job));
        Ok(true)
    }

    async fn begin_attempt(
        &self,
        job: &JobRecord,
        expected: JobState,
        previous_attempt: u32,
    ) -> Result<bool> {
        let mut state = self.state();
        let before = match state.jobs.get_mut(&job.id) {
            Some(row) if row.state == expected && row.attempt == previous_attempt => {
                let before = Before::of(row);
                *row = job.clone();
                before
            }
            _ => return Ok(false),
        };
        state.enqueue(messages(Some(before), job));
        Ok(true)
    }

    async fn claim_pod_action(&self, action: &PodActionRecord, lease_secs: u64) -> Result<bool> {
        let mut state = self.state();
        let held = |a: &PodActionRecord| a.acted_at >= action.acted_at.saturating_sub(lease_secs);
        if state.pod_actions.get(&action.pod_id).is_some_and(held) {
            return Ok(false);
        }
        state
            .pod_actions
            .insert(action.pod_id.clone(), action.clone());
        Ok(true)
    }

    async fn append_events(&self, batch: &MetricBatch, events_json: &str) -> Result<()> {
        let mut state = self.state();
        of_job(&mut state.events, &batch.job)
            .entry((batch.epoch, batch.seq))
            .or_insert_with(|| events_json.to_owned());
        Ok(())
    }

    async fn events(&self, job: &str, attempt: u32) -> Result<Vec<(u64, String)>> {
        let state = self.state();
        let Some(rows) = state.events.get(job) else {
            return Ok(Vec::new());
        };
        let attempt_rows = rows.range((attempt, 0)..=(attempt, u64::MAX));
        Ok(attempt_rows.map(|((_, n), e)| (*n, e.clone())).collect())
    }

    async fn record_throughput(&self, sample: &ThroughputSample) -> Result<()> {
        let mut state = self.state();
        let seen = |t: &ThroughputSample| t.job == sample.job && t.attempt == sample.attempt;
        if !state.throughput.iter().any(seen) {
            state.throughput.push(sample.clone());
        }
        Ok(())
    }

    async fn throughput(&self, gpu_id: &str, method: &str, limit: u32) -> Result<Vec<f64>> {
        let state = self.state();
        let mut rows: Vec<&ThroughputSample> = state
            .throughput
            .iter()
            .filter(|t| t.gpu_id == gpu_id && t.method == method)
            .collect();
        rows.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at).then(a.job.cmp(&b.job)));
        Ok(rows.iter().take(limit as usize).map(|t| t.tflops).collect())
    }

    async fn dataset_digest(&self, file_key: &str) -> Result<Option<[u8; 32]>> {
        Ok(self.state().digests.get(file_key).copied())
    }

    async fn keep_dataset_digest(&self, file_key: &str, sha256: &[u8; 32]) -> Result<()> {
        let mut state = self.state();
        state.digests.entry(file_key.to_owned()).or_insert(*sha256);
        Ok(())
    }

    async fn record_job_pod(&self, pod: &JobPodRecord) -> Result<()> {
        let mut state = self.state();
        if !state.job_pods.iter().any(|p| p.pod_id == pod.pod_id) {
            state.job_pods.push(pod.clone());
        }
        Ok(())
    }

    async fn job_pods(&self, job: &str) -> Result<Vec<JobPodRecord>> {
        let state = self.state();
        let mut pods: Vec<JobPodRecord> = state
            .job_pods
            .iter()
            .filter(|p| p.job_id == job)
            .cloned()
            .collect();
        pods.sort_by_key(|p| (p.attempt, p.created_at));
        Ok(pods)
    }

    async fn unbilled_jobs(
        &self,
        since: u64,
        ended_before: u64,
        limit: u32,
    ) -> Result<Vec<JobRecord>> {
        let state = self.state();
        let mut jobs: Vec<JobRecord> = state
            .jobs
            .values()
            .filter(|j| j.state.is_final() && j.billed_usd.is_none() && j.pod_id.is_some())
            .filter(|j| (since..=ended_before).contains(&j.updated_at))
            .cloned()
            .collect();
        jobs.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        jobs.truncate(limit as usize);
        Ok(jobs)
    }

    async fn record_bill(
        &self,
        job: &JobRecord,
        billed_usd: f64,
        sample: Option<&BillSample>,
    ) -> Result<bool> {
        let mut state = self.state();
        if let Some(sample) = sample {
            state.bills.insert(sample.job.clone(), sample.clone());
        }
        match state.jobs.get_mut(&job.id) {
            Some(row)
                if row.billed_usd.is_none()
                    && row.state == job.state
                    && row.attempt == job.attempt =>
            {
                row.billed_usd = Some(billed_usd);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn bill_ratios(&self, gpu_id: &str, method: &str, limit: u32) -> Result<Vec<f64>> {
        let state = self.state();
        let mut rows: Vec<&BillSample> = state
            .bills
            .values()
            .filter(|b| b.gpu_id == gpu_id && b.method == method && b.estimated_usd > 0.0)
            .collect();
        rows.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at).then(a.job.cmp(&b.job)));
        let ratios = rows.iter().map(|b| b.billed_usd / b.estimated_usd);
        Ok(ratios.take(limit as usize).collect())
    }

    async fn job_accounts(&self, since: u64) -> Result<Vec<String>> {
        let state = self.state();
        let live = |j: &JobRecord| j.state != JobState::Queued && !j.state.is_final();
        let accounts: std::collections::BTreeSet<String> = state
            .jobs
            .values()
            .filter(|j| j.updated_at >= since || live(j))
            .map(|j| j.account.clone())
            .collect();
        Ok(accounts.into_iter().collect())
    }

    async fn claim_webhooks(
        &self,
        lease: &str,
        now: u64,
        lease_secs: u64,
        limit: u32,
    ) -> Result<Vec<WebhookMessage>> {
        let mut state = self.state();
        let mut due: Vec<&mut Outboxed> = state
            .webhooks
            .iter_mut()
            .filter(|w| {
                w.message.status == WebhookStatus::Pending
                    && w.message.next_at <= now
                    && w.leased_until <= now
            })
            .collect();
        due.sort_by(|a, b| {
            (a.message.next_at, &a.message.id).cmp(&(b.message.next_at, &b.message.id))
        });
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|w| {
                w.lease = lease.to_owned();
                w.leased_until = now.saturating_add(lease_secs);
                w.message.tries += 1;
                w.message.clone()
            })
            .collect())
    }

    async fn finish_webhook(
        &self,
        id: &str,
        lease: &str,
        now: u64,
        attempt: &WebhookAttempt,
    ) -> Result<bool> {
        let mut state = self.state();
        let (status, next_at, error, done_at) = attempt.columns(now);
        let held = |w: &&mut Outboxed| {
            w.message.id == id
                && w.message.status == WebhookStatus::Pending
                && (status == WebhookStatus::Delivered || w.lease == lease)
        };
        let Some(w) = state.webhooks.iter_mut().find(held) else {
            return Ok(false);
        };
        w.message.status = status;
        w.message.next_at = next_at.unwrap_or(w.message.next_at);
        error.clone_into(&mut w.message.last_error);
        w.message.done_at = done_at;
        w.leased_until = 0;
        Ok(true)
    }

    async fn webhook_messages(&self, job_id: &str) -> Result<Vec<WebhookMessage>> {
        let state = self.state();
        let mut out: Vec<WebhookMessage> = state
            .webhooks
            .iter()
            .filter(|w| w.message.job_id == job_id)
            .map(|w| w.message.clone())
            .collect();
        out.sort_by_key(|m| (m.attempt, event_rank(&m.event_type)));
        Ok(out)
    }

    async fn prune_webhooks(&self, before: u64) -> Result<u64> {
        let mut state = self.state();
        let count = state.webhooks.len();
        state.webhooks.retain(|w| w.message.created_at >= before);
        Ok((count - state.webhooks.len()) as u64)
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
