//! `reconcile` over every account with jobs: each account's pods listed and judged with its own
//! key, concurrently, one account's failure reported with the jobs it leaves unmanaged while the
//! others go on; then the final bills of the jobs that ended.

use futures_util::future::join_all;

use super::Trainpod;
use crate::error::Result;
use crate::jobs::{ReconcileAction, account_unavailable, reconcile_account};
use crate::store::JobRecord;

/// Accounts whose jobs changed this recently are listed even with no live job: a job that ended
/// may have left a pod its terminate did not reach.
const RECENT_ACCOUNT_SECS: u64 = 24 * 3600;
/// Accounts reconciled at once.
const ACCOUNTS_AT_ONCE: usize = 8;

impl Trainpod {
    /// Ends every trainpod pod that nobody should be paying for (stale heartbeat, past its
    /// deadline, over its budget, stopped, never started, or an orphan), on every account with
    /// jobs, and every live job whose pod RunPod no longer has, once across all app instances.
    /// One failing pod, job or account does not stop the pass: its action carries the error
    /// (`account_unavailable` names each job an unreachable account leaves unmanaged). Then it
    /// reads RunPod's bill for the jobs that ended (`billed`). Run it from a cron every minute
    /// or so: a job whose pod is gone is ended within one interval. Last, it runs
    /// [`Self::deliver_webhooks`] when a webhook URL is set (else it only prunes old webhook
    /// messages); a store failure there is an action with reason `webhooks`.
    ///
    /// With the opt-in [`crate::jobs::ReconcilePolicy::retry_unstarted`], a job whose pod never
    /// started gets a new attempt on the plan's next GPU, within what is left of its budget (the
    /// retry's outcome is an action of its own, `retried`, with an error when it was refused).
    /// With [`crate::jobs::ReconcilePolicy::retry_interrupted`], so does a job whose pod went
    /// away or fell silent mid-run, resuming from its newest checkpoint.
    pub async fn reconcile(&self) -> Result<Vec<ReconcileAction>> {
        let now = self.clock.now_unix_secs();
        let live = self.store.live_jobs().await?;
        let mut accounts = self
            .store
            .job_accounts(now.saturating_sub(RECENT_ACCOUNT_SECS))
            .await?;
        if self.accounts.has_own_key() && !accounts.iter().any(String::is_empty) {
            accounts.insert(0, String::new());
        }
        let mut actions = Vec::new();
        for batch in accounts.chunks(ACCOUNTS_AT_ONCE) {
            let mut passes = Vec::with_capacity(batch.len());
            for account in batch {
                passes.push(self.reconcile_one(account, &live, now));
            }
            actions.extend(join_all(passes).await.into_iter().flatten());
        }
        actions.extend(self.settle_bills(now).await);
        if self.reconcile.retry_unstarted || self.reconcile.retry_interrupted {
            let retries = self.retry_automatically(&actions).await;
            actions.extend(retries);
        }
        // The events this pass made (jobs it ended) go out now, and any still due.
        actions.extend(self.webhooks_after_reconcile().await);
        Ok(actions)
    }

    /// One account's pass, with its own key.
    async fn reconcile_one(
        &self,
        account: &str,
        live: &[JobRecord],
        now: u64,
    ) -> Vec<ReconcileAction> {
        let mine: Vec<JobRecord> = live
            .iter()
            .filter(|j| j.account == account)
            .cloned()
            .collect();
        let mut out = Vec::new();
        let client = match self.runpod_for(account).await {
            Ok(client) => client,
            Err(e) => return account_unavailable(account, live, &e),
        };
        let store = self.store.as_ref();
        match reconcile_account(&client, store, Ok(mine), now, &self.reconcile, &mut out).await {
            Ok(()) => out,
            Err(e) => {
                out.extend(account_unavailable(account, live, &e));
                out
            }
        }
    }
}
