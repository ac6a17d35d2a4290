//! `deliver_webhooks`: the app's cron (or `reconcile`) sends the job events the store queued.

use super::Trainpod;
use crate::error::{Error, Result};
use crate::jobs::ReconcileAction;
use crate::webhooks::{RETENTION_SECS, WebhookReport, deliver_due};

impl Trainpod {
    /// Sends the webhooks that are due (new events, and failed ones whose next try has come) to
    /// the builder's `webhook_url`, each signed with every secret, and returns what became of
    /// each. Safe to run from several app instances at once: each message is leased to one
    /// pass. Run it from the same cron as [`Self::reconcile`] (which runs it too), or more often
    /// for events sooner. `INVALID_INPUT` without a webhook URL; a store failure fails the pass.
    pub async fn deliver_webhooks(&self) -> Result<WebhookReport> {
        let endpoint = self.webhooks.as_ref().ok_or_else(|| {
            Error::invalid_input(
                "deliver_webhooks needs webhook_url(...) and webhook_secrets(...) on the builder",
            )
        })?;
        deliver_due(self.store.as_ref(), endpoint, self.clock.as_ref()).await
    }

    /// The end of a reconcile pass: deliver when webhooks are on, else prune what an instance
    /// that delivers would have pruned (events are queued either way). A failure is an action.
    pub(super) async fn webhooks_after_reconcile(&self) -> Option<ReconcileAction> {
        let done = match &self.webhooks {
            Some(_) => self.deliver_webhooks().await.map(|_| ()),
            None => {
                let now = self.clock.now_unix_secs();
                self.store
                    .prune_webhooks(now.saturating_sub(RETENTION_SECS))
                    .await
                    .map(|_| ())
            }
        };
        done.err().map(|e| ReconcileAction {
            pod_id: None,
            job_id: None,
            reason: "webhooks",
            job_state: None,
            error: Some((&e).into()),
        })
    }
}
