//! Delivery of the outbox: due messages are leased in small batches (so app instances delivering
//! at once never send one message at the same time), POSTed concurrently, signed at the moment
//! of sending with every current secret, and recorded: 2xx is delivered, anything else is tried
//! again on Standard Webhooks' example schedule until its last try.

use std::time::Duration;

use serde::Serialize;
use url::{Host, Url};

use super::sign::{WebhookSecret, signature_header};
use crate::clock::{Clock, OsRandom, Random};
use crate::error::{Error, Result};
use crate::store::{Store, WebhookAttempt, WebhookMessage};

/// The wait after each failed try before the next (Standard Webhooks' example schedule: 5 s,
/// 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h), each lengthened by up to a tenth at random
/// so that a recovering endpoint is not hit by every message at once. After the try that
/// follows the last wait (about 3 days after the event) a message is given up.
pub const RETRY_DELAYS_SECS: &[u64] = &[5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];

/// Tries of one message at most: the first, then one after each wait.
pub const MAX_TRIES: u32 = RETRY_DELAYS_SECS.len() as u32 + 1;

/// How long one try waits for the endpoint's answer (the scheme recommends 15 to 30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A pass's lease on the messages it claimed: longer than a try can take, so that no other pass
/// sends them meanwhile, and short enough that a pass that died is taken over within a minute.
pub const LEASE_SECS: u64 = 60;

/// Messages in flight at once.
const BATCH: u32 = 16;

/// Batches one pass sends at most; what is left is due at the next pass.
const MAX_BATCHES: usize = 32;

/// A message not delivered this long after its event is given up untried: its last scheduled
/// try is long past (an endpoint configured later gets the last days' events, not all).
pub const MAX_AGE_SECS: u64 = 4 * 86_400;

/// Messages are deleted this long after their event, delivered or not.
pub const RETENTION_SECS: u64 = 14 * 86_400;

/// A `Retry-After` longer than this is not waited for.
const MAX_RETRY_AFTER_SECS: u64 = 86_400;

/// Where webhooks go and the secrets they are signed with. Its `Debug` shows the URL's origin
/// only (a query may carry a credential), never the secrets.
pub struct WebhookEndpoint {
    url: Url,
    secrets: Vec<WebhookSecret>,
    http: reqwest::Client,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("origin", &self.url.origin().ascii_serialization())
            .field("secrets", &self.secrets.len())
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    /// Webhooks POSTed to `url`, signed with each of `secrets` (more than one while a secret
    /// rotates: the new one first, the old one until every receiver has the new). The URL is
    /// https, or http on a loopback address when `allow_loopback` (tests, a receiver on the same
    /// machine), with no user name or password in it.
    pub fn new(url: &str, secrets: Vec<WebhookSecret>, allow_loopback: bool) -> Result<Self> {
        if secrets.is_empty() {
            return Err(Error::invalid_input(
                "a webhook URL needs at least one webhook secret to sign with: make one with \
                 generate_webhook_secret() and give the same text to the receiver",
            ));
        }
        let url = check_url(url, allow_loopback)?;
        let http = crate::runpod::tls_client(
            reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                // A redirect is a failure: the URL is to be fixed, not followed each time.
                .redirect(reqwest::redirect::Policy::none()),
            CONNECT_TIMEOUT,
        )?;
        Ok(WebhookEndpoint { url, secrets, http })
    }

    /// The URL webhooks go to.
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// One try of `m` at `now`: the endpoint's status, or why no answer came.
    async fn post(&self, m: &WebhookMessage, now: u64) -> std::result::Result<Answer, String> {
        let signature = signature_header(&self.secrets, &m.id, now, m.payload.as_bytes());
        let sent = self
            .http
            .post(self.url.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("trainpod/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", &m.id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(m.payload.clone())
            .send()
            .await;
        match sent {
            Ok(resp) => Ok(Answer {
                status: resp.status().as_u16(),
                retry_after: resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok()),
            }),
            Err(e) => Err(transport_error(e)),
        }
    }
}

/// What the endpoint answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
}

fn check_url(text: &str, allow_loopback: bool) -> Result<Url> {
    // The text is not shown: a URL that does not parse may still hold a credential.
    let url = Url::parse(text).map_err(|e| {
        Error::invalid_input(format!(
            "the webhook URL is not valid ({e}); give an absolute https URL such as \
             https://app.example.com/api/trainpod-webhooks"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::invalid_input(
            "the webhook URL carries a user name or password; remove them (webhooks are \
             authenticated by their signature)",
        ));
    }
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback && allow_loopback => Ok(url),
        "http" if loopback => Err(Error::invalid_input(
            "the webhook URL is http on loopback: allowed only with allow_loopback(true) (tests, \
             a receiver on this machine); use https otherwise",
        )),
        _ => Err(Error::invalid_input(
            "the webhook URL must be https (webhooks carry job data; plain http only on a \
             loopback address with allow_loopback)",
        )),
    }
}

/// Why a request got no answer, in words that hold no URL (its query may be a credential) and
/// no header.
fn transport_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", REQUEST_TIMEOUT.as_secs());
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// How one try ended, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// It failed and is tried again at `next_at`.
    Retrying,
    /// It failed and will not be tried again (its last try, a 410 Gone, or too old).
    Failed,
}

/// One try of one message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookDelivery {
    /// The message id (`webhook-id`), the same on every try.
    pub msg_id: String,
    /// Its event type.
    pub event_type: String,
    /// The job the event is about.
    pub job_id: String,
    /// Which try of the message this was, from 1.
    pub try_number: u32,
    /// How it ended.
    pub outcome: DeliveryOutcome,
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when it did; empty otherwise.
    pub error: String,
    /// When it is tried again (Unix seconds), when it is.
    pub next_at: Option<u64>,
}

/// What one delivery pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WebhookReport {
    /// Messages the endpoint took (2xx).
    pub delivered: u32,
    /// Messages that failed and will be tried again.
    pub retrying: u32,
    /// Messages given up on.
    pub failed: u32,
    /// Each try, in the order they ended.
    pub deliveries: Vec<WebhookDelivery>,
}

impl WebhookReport {
    fn add(&mut self, m: &WebhookMessage, status: Option<u16>, attempt: &WebhookAttempt) {
        let (outcome, error, next_at) = match attempt {
            WebhookAttempt::Delivered => (DeliveryOutcome::Delivered, "", None),
            WebhookAttempt::Retry { next_at, error } => {
                (DeliveryOutcome::Retrying, error.as_str(), Some(*next_at))
            }
            WebhookAttempt::Failed { error } => (DeliveryOutcome::Failed, error.as_str(), None),
        };
        match outcome {
            DeliveryOutcome::Delivered => self.delivered += 1,
            DeliveryOutcome::Retrying => self.retrying += 1,
            DeliveryOutcome::Failed => self.failed += 1,
        }
        self.deliveries.push(WebhookDelivery {
            msg_id: m.id.clone(),
            event_type: m.event_type.clone(),
            job_id: m.job_id.clone(),
            try_number: m.tries,
            outcome,
            status,
            error: error.to_owned(),
            next_at,
        });
    }
}

/// When the try after try number `tries` (which failed at `now`) is due: the schedule's wait,
/// lengthened by `jitter` (0 to 1) of a tenth of it, or the endpoint's `Retry-After` when that
/// is longer (up to a day). `None` after the last try.
pub fn next_try(tries: u32, now: u64, retry_after: Option<u64>, jitter: f64) -> Option<u64> {
    let index = usize::try_from(tries.checked_sub(1)?).ok()?;
    let wait = *RETRY_DELAYS_SECS.get(index)?;
    let spread = (wait as f64 * 0.1 * jitter.clamp(0.0, 1.0)) as u64;
    let asked = retry_after.unwrap_or(0).min(MAX_RETRY_AFTER_SECS);
    Some(now.saturating_add((wait + spread).max(asked)))
}

/// What the answer (or the failure) to try `m.tries` of `m` at `now` makes of it.
fn settle(
    m: &WebhookMessage,
    now: u64,
    answer: &std::result::Result<Answer, String>,
) -> WebhookAttempt {
    let (error, retry_after) = match answer {
        Ok(a) if (200..300).contains(&a.status) => return WebhookAttempt::Delivered,
        Ok(a) if a.status == 410 => {
            return WebhookAttempt::Failed {
                error: "the endpoint answered 410 Gone: it takes no more webhooks, so this one is \
                        not tried again"
                    .into(),
            };
        }
        Ok(a) => (format!("the endpoint answered {}", a.status), a.retry_after),
        Err(e) => (format!("the request failed: {e}"), None),
    };
    let mut jitter = [0u8; 1];
    OsRandom.fill(&mut jitter);
    match next_try(m.tries, now, retry_after, f64::from(jitter[0]) / 255.0) {
        Some(next_at) => WebhookAttempt::Retry { next_at, error },
        None => WebhookAttempt::Failed {
            error: format!("{error} (try {} of {MAX_TRIES}, the last)", m.tries),
        },
    }
}

/// One try of a claimed message: given up untried when it is too old.
async fn attempt(
    endpoint: &WebhookEndpoint,
    m: &WebhookMessage,
    now: u64,
) -> (Option<u16>, WebhookAttempt) {
    if now.saturating_sub(m.created_at) > MAX_AGE_SECS {
        let error = format!(
            "not delivered within {} days of its event (no delivery pass ran, or the endpoint \
             failed every try), so not sent",
            MAX_AGE_SECS / 86_400
        );
        return (None, WebhookAttempt::Failed { error });
    }
    let answer = endpoint.post(m, now).await;
    let status = answer.as_ref().ok().map(|a| a.status);
    (status, settle(m, now, &answer))
}

/// Delivers what is due in `store` to `endpoint`, then deletes messages older than
/// [`RETENTION_SECS`]. Only the store failing fails the pass; each message's failure is in the
/// report and its next try scheduled.
pub async fn deliver_due(
    store: &dyn Store,
    endpoint: &WebhookEndpoint,
    clock: &dyn Clock,
) -> Result<WebhookReport> {
    let lease = format!("lease_{}", uuid::Uuid::new_v4().simple());
    let mut report = WebhookReport::default();
    for _ in 0..MAX_BATCHES {
        let now = clock.now_unix_secs();
        let claimed = store.claim_webhooks(&lease, now, LEASE_SECS, BATCH).await?;
        let tries = claimed.iter().map(|m| attempt(endpoint, m, now));
        let results = futures_util::future::join_all(tries).await;
        let ended = clock.now_unix_secs();
        for (m, (status, outcome)) in claimed.iter().zip(results) {
            store.finish_webhook(&m.id, &lease, ended, &outcome).await?;
            report.add(m, status, &outcome);
        }
        if claimed.len() < BATCH as usize {
            break;
        }
    }
    let now = clock.now_unix_secs();
    store
        .prune_webhooks(now.saturating_sub(RETENTION_SECS))
        .await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_waits_longer_each_time_and_ends() {
        assert_eq!(next_try(1, 100, None, 0.0), Some(105));
        assert_eq!(next_try(2, 100, None, 0.0), Some(400));
        assert_eq!(next_try(2, 100, None, 1.0), Some(430));
        assert_eq!(next_try(9, 0, None, 0.0), Some(86_400));
        assert_eq!(next_try(MAX_TRIES, 0, None, 0.0), None);
        assert_eq!(next_try(0, 0, None, 0.0), None);
        // Retry-After is honoured when longer, up to a day.
        assert_eq!(next_try(1, 100, Some(60), 0.0), Some(160));
        assert_eq!(next_try(1, 0, Some(9_999_999), 0.0), Some(86_400));
        let total: u64 = RETRY_DELAYS_SECS.iter().sum();
        assert!(
            total * 11 / 10 < MAX_AGE_SECS,
            "the last try is before a message is too old"
        );
    }

    #[test]
    fn only_https_or_loopback_http_urls_are_taken() {
        let ok = |url, loopback| check_url(url, loopback).is_ok();
        assert!(ok("https://app.example.com/hooks?x=1", false));
        assert!(ok("http://127.0.0.1:8080/hooks", true));
        assert!(ok("http://[::1]:8080/hooks", true));
        assert!(ok("http://localhost:8080/hooks", true));
        assert!(!ok("http://127.0.0.1:8080/hooks", false));
        assert!(!ok("http://app.example.com/hooks", true));
        assert!(!ok("https://user:pw@app.example.com/hooks", false));
        assert!(!ok("ftp://app.example.com/hooks", false));
        let err = check_url("https://user:hunter2@x", false)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| !e.contains("hunter2")));
    }

    #[test]
    fn an_answer_settles_a_try() {
        let m = WebhookMessage {
            id: "msg_1".into(),
            job_id: "j".into(),
            attempt: 1,
            event_type: "job.deployed".into(),
            payload: "{}".into(),
            created_at: 0,
            status: crate::store::WebhookStatus::Pending,
            tries: 1,
            next_at: 0,
            last_error: String::new(),
            done_at: None,
        };
        let answer = |status| {
            Ok(Answer {
                status,
                retry_after: None,
            })
        };
        assert_eq!(settle(&m, 10, &answer(204)), WebhookAttempt::Delivered);
        assert!(matches!(
            settle(&m, 10, &answer(410)),
            WebhookAttempt::Failed { .. }
        ));
        let WebhookAttempt::Retry { next_at, error } = settle(&m, 10, &answer(500)) else {
            panic!("a 500 is tried again");
        };
        assert!(
            (15..=16).contains(&next_at) && error.contains("500"),
            "{error}"
        );
        assert!(matches!(
            settle(&m, 10, &answer(302)),
            WebhookAttempt::Retry { .. }
        ));
        let last = WebhookMessage {
            tries: MAX_TRIES,
            ..m
        };
        let WebhookAttempt::Failed { error } = settle(&last, 10, &Err("refused".into())) else {
            panic!("the last try gives up");
        };
        assert!(
            error.contains("refused") && error.contains("the last"),
            "{error}"
        );
    }
}
