//! Whose RunPod account a call acts on. A job belongs to an account (`JobSpec::account`); the
//! app's [`Credentials`] resolver gives that account's key when a call needs it, so that
//! trainpod never stores a key, only the account id with the job. The account `""` is the
//! builder's own key: the single-account setup.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::{Error, ErrorKind, Result, quote};
use crate::runpod::{ApiKey, Client};

/// The longest account id: room for a UUID or an email address, not for a key pasted by mistake.
pub const MAX_ACCOUNT_LEN: usize = 128;

/// The app's credentials resolver: an account id to its RunPod key, asked when a call needs it
/// (so a key changed in the app's settings is used from the next call on).
#[async_trait]
pub trait Credentials: Send + Sync {
    /// The RunPod API key of `account`; `Ok(None)` when the account has none (its user has not
    /// added one). An `Err` is the app's own failure (its secrets store is down).
    async fn runpod_api_key(&self, account: &str) -> Result<Option<String>>;
}

/// An account id: printable ASCII without spaces, at most [`MAX_ACCOUNT_LEN`] characters.
pub fn check_account(account: &str) -> Result<()> {
    let printable = account.bytes().all(|b| b.is_ascii_graphic());
    if account.len() > MAX_ACCOUNT_LEN || !printable {
        return Err(Error::invalid_input(format!(
            "job spec.account: an account id is at most {MAX_ACCOUNT_LEN} printable ASCII \
             characters without spaces (the app's id for whose RunPod key to use, such as the \
             user's id), never the key itself"
        )));
    }
    Ok(())
}

/// The clients of every account: the builder's own (account `""`), and the others made with
/// the keys the resolver gives, sharing one connection pool.
pub(crate) struct Accounts {
    /// The builder's client; with no key of its own it only lends its transport.
    template: Client,
    own_key: bool,
    credentials: Option<Arc<dyn Credentials>>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("own_key", &self.own_key)
            .field("resolver", &self.credentials.is_some())
            .finish()
    }
}

impl Accounts {
    pub(crate) fn new(
        template: Client,
        own_key: bool,
        credentials: Option<Arc<dyn Credentials>>,
    ) -> Self {
        Accounts {
            template,
            own_key,
            credentials,
        }
    }

    /// Whether the builder has a RunPod key of its own (the account `""`).
    pub(crate) fn has_own_key(&self) -> bool {
        self.own_key
    }

    /// The builder's own client (the account `""`).
    pub(crate) fn own(&self) -> &Client {
        &self.template
    }

    /// Whether `account` can be acted on at all (checked at plan, before anything is stored).
    pub(crate) fn check(&self, account: &str) -> Result<()> {
        check_account(account)?;
        match (account.is_empty(), self.own_key, &self.credentials) {
            (true, true, _) | (false, _, Some(_)) => Ok(()),
            (true, false, _) => Err(Error::invalid_input(
                "job spec.account is required: this Trainpod has no RunPod key of its own, only \
                 a credentials resolver; name the account whose key the job runs on",
            )),
            (false, _, None) => Err(Error::invalid_input(format!(
                "job spec.account is {}, but this Trainpod has one RunPod key and no credentials \
                 resolver: pass credentials(...) on the builder, or leave the account out",
                quote(account)
            ))),
        }
    }

    /// The client that acts on `account`, with the key the resolver gives now.
    pub(crate) async fn client(&self, account: &str) -> Result<Client> {
        self.check(account)?;
        if account.is_empty() {
            return Ok(self.template.clone());
        }
        let Some(credentials) = &self.credentials else {
            return Err(Error::new(
                ErrorKind::Internal,
                "an account passed its check without a resolver",
            ));
        };
        let key = credentials
            .runpod_api_key(account)
            .await
            .map_err(|e| resolver_failed(account, e))?
            .ok_or_else(|| no_key(account))?;
        let key = ApiKey::new(key).map_err(|_| {
            Error::new(
                ErrorKind::AuthInvalid,
                format!(
                    "the RunPod key saved for account {} is empty or malformed: ask its user to \
                     paste it again in the app's settings",
                    quote(account)
                ),
            )
        })?;
        Ok(self.template.with_key(key))
    }
}

fn no_key(account: &str) -> Error {
    Error::new(
        ErrorKind::AuthInvalid,
        format!(
            "account {} has no RunPod key: ask its user to add one in the app's settings \
             (create one at https://www.runpod.io/console/user/settings)",
            quote(account)
        ),
    )
}

/// The resolver's own failure: its kind is kept when it is one of ours with a meaning here (a
/// refused key), else it is the app's secrets store that failed.
fn resolver_failed(account: &str, e: Error) -> Error {
    match e.kind() {
        ErrorKind::AuthInvalid | ErrorKind::InvalidInput | ErrorKind::CredentialsUnavailable => e,
        _ => Error::new(
            ErrorKind::CredentialsUnavailable,
            format!(
                "the app's credentials resolver failed for account {}: {}; check the app's \
                 secrets store, then retry",
                quote(account),
                e.message()
            ),
        ),
    }
}

impl super::Trainpod {
    /// Keeps `pod` as one of `job`'s pods (its attempt and account), for the final bill.
    pub(crate) async fn keep_job_pod(
        &self,
        job: &crate::store::JobRecord,
        pod: &str,
        now: u64,
    ) -> Result<()> {
        self.keep_job_compute(job, pod, false, now).await
    }

    /// Keeps a pod, or with `cluster` an Instant Cluster, as `job`'s, for the final bill and
    /// for ending it.
    pub(crate) async fn keep_job_compute(
        &self,
        job: &crate::store::JobRecord,
        pod: &str,
        cluster: bool,
        now: u64,
    ) -> Result<()> {
        self.store
            .record_job_pod(&crate::store::JobPodRecord {
                pod_id: pod.to_owned(),
                job_id: job.id.clone(),
                attempt: job.attempt,
                account: job.account.clone(),
                created_at: now,
                cluster,
            })
            .await
    }
}
