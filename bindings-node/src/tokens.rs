//! `Tokens`: issue and verify job tokens; claims cross as plain objects.

use crate::errors::{Result, invalid, map};
use crate::promise::spawn;
use crate::store::Store;
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::number::{whole, whole_opt};
use trainpod::token::{self, Expect, IssueRequest, KeyRing, Purpose};

/// How to build `Tokens`.
#[napi(object)]
pub struct TokensOptions {
    /// Key ring spec: `kid:status:secret,…` (status `active`, `verify` or `retired`).
    pub keys: String,
    /// The app origin tokens are for, such as `https://app.example.com`.
    pub audience: String,
    /// The issuer name; defaults to `trainpod`.
    pub issuer: Option<String>,
    /// Tolerated clock skew in seconds; defaults to 60.
    pub leeway_secs: Option<f64>,
    /// Fix the clock at this Unix time (tests, vectors); `setNow` then moves it.
    pub now: Option<f64>,
}

/// What to put in a new token.
#[napi(object)]
pub struct IssueOptions {
    /// `dataset.read`, `metrics.write` or `artifacts.write`.
    pub purpose: String,
    /// The user the job belongs to.
    pub user: String,
    /// The job.
    pub job: String,
    /// The dataset (required for `dataset.read`).
    pub dataset: Option<String>,
    /// A narrower resource, such as one file id.
    pub resource: Option<String>,
    /// Lifetime in seconds; defaults per purpose.
    pub ttl_secs: Option<f64>,
    /// Not-before delay in seconds.
    pub not_before_delay_secs: Option<f64>,
    /// Single use.
    pub once: Option<bool>,
    /// The job's attempt, for metrics tokens.
    pub epoch: Option<f64>,
    /// An explicit token id (a UUID), for reproducible tokens.
    pub jti: Option<String>,
}

/// What a route expects of a token.
#[napi(object)]
#[derive(Debug)]
pub struct ExpectOptions {
    /// The purpose the route needs.
    pub purpose: String,
    /// The job the request names.
    pub job: Option<String>,
    /// The dataset the request names.
    pub dataset: Option<String>,
    /// The user the request acts for.
    pub user: Option<String>,
}

/// The claims of a token, with the JSON payload's field names.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct Claims {
    pub v: u32,
    pub iss: String,
    pub aud: String,
    pub pur: String,
    pub sub: String,
    pub job: String,
    pub ds: Option<String>,
    pub res: Option<String>,
    pub iat: f64,
    pub nbf: f64,
    pub exp: f64,
    pub jti: String,
    pub once: bool,
    pub ep: Option<u32>,
}

/// A new token and its claims.
#[napi(object)]
pub struct IssuedToken {
    /// The bearer token: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// What it says.
    pub claims: Claims,
}

// The key ring spec and the token are secrets: their Debug output is redacted.
impl std::fmt::Debug for TokensOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokensOptions")
            .field("keys", &"<redacted>")
            .field("audience", &self.audience)
            .finish()
    }
}

impl std::fmt::Debug for IssueOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssueOptions")
            .field("purpose", &self.purpose)
            .field("job", &self.job)
            .finish()
    }
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"<redacted>")
            .field("claims", &self.claims)
            .finish()
    }
}

impl From<token::Claims> for Claims {
    fn from(c: token::Claims) -> Self {
        // Times are at most year 9999 (< 2^53), so doubles hold them exactly.
        Claims {
            v: u32::from(c.v),
            iss: c.iss,
            aud: c.aud,
            pur: c.pur.as_str().to_owned(),
            sub: c.sub,
            job: c.job,
            ds: c.ds,
            res: c.res,
            iat: c.iat as f64,
            nbf: c.nbf as f64,
            exp: c.exp as f64,
            jti: c.jti,
            once: c.once,
            ep: c.ep,
        }
    }
}

fn expect(e: ExpectOptions) -> Result<Expect> {
    Ok(Expect {
        purpose: map(Purpose::parse(&e.purpose))?,
        job: e.job,
        dataset: e.dataset,
        user: e.user,
    })
}

/// Issues and verifies job tokens for one app origin.
#[napi]
#[derive(Debug)]
pub struct Tokens {
    inner: Arc<token::Tokens>,
    clock: Option<Arc<ManualClock>>,
}

impl Tokens {
    /// The core token service, for the staging binding.
    pub(crate) fn inner(&self) -> &token::Tokens {
        &self.inner
    }

    /// The token service of a `Trainpod`, with its fixed clock when it has one.
    pub(crate) fn from_core(inner: token::Tokens, clock: Option<Arc<ManualClock>>) -> Self {
        let inner = Arc::new(inner);
        Tokens { inner, clock }
    }
}

#[napi]
impl Tokens {
    /// Build from a key ring and the app origin.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: TokensOptions) -> Result<Self> {
        let leeway = map(whole_opt("leewaySecs", options.leeway_secs, u64::MAX))?;
        let now = map(whole_opt("now", options.now, token::MAX_TIME))?;
        let clock = now.map(|n| Arc::new(ManualClock::new(n)));
        // Unset options keep core's defaults.
        let mut builder = token::Tokens::builder()
            .keys(map(KeyRing::parse(&options.keys))?)
            .audience(options.audience);
        if let Some(issuer) = options.issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(leeway) = leeway {
            builder = builder.leeway_secs(leeway);
        }
        if let Some(clock) = &clock {
            builder = builder.clock(clock.clone());
        }
        Ok(Tokens::from_core(map(builder.build())?, clock))
    }

    /// Move the fixed clock (only for instances built with `now`).
    #[napi(catch_unwind)]
    pub fn set_now(&self, now: f64) -> Result<()> {
        let now = map(whole("now", now, token::MAX_TIME))?;
        let clock = self
            .clock
            .as_ref()
            .ok_or_else(|| invalid("setNow needs an instance built with `now`"))?;
        clock.set(now);
        Ok(())
    }

    /// Issue a token signed with the active key.
    #[napi(catch_unwind)]
    pub fn issue(&self, options: IssueOptions) -> Result<IssuedToken> {
        let mut req = IssueRequest::new(
            map(Purpose::parse(&options.purpose))?,
            options.user,
            options.job,
        );
        req.dataset = options.dataset;
        req.resource = options.resource;
        req.ttl_secs = map(whole_opt("ttlSecs", options.ttl_secs, u64::MAX))?;
        // Unset options keep the request's defaults, which core chose.
        let delay = options.not_before_delay_secs;
        if let Some(delay) = map(whole_opt("notBeforeDelaySecs", delay, u64::MAX))? {
            req.not_before_delay_secs = delay;
        }
        if let Some(once) = options.once {
            req.once = once;
        }
        req.epoch = map(whole_opt("epoch", options.epoch, u64::from(u32::MAX)))?.map(|e| e as u32);
        req.jti = match options.jti {
            Some(j) => Some(uuid::Uuid::parse_str(&j).map_err(|_| invalid("jti must be a UUID"))?),
            None => None,
        };
        let issued = map(self.inner.issue(&req))?;
        Ok(IssuedToken {
            token: issued.token.expose().to_owned(),
            claims: issued.claims.into(),
        })
    }

    /// Verify a token for a route.
    #[napi(catch_unwind)]
    pub fn verify(&self, token: String, expect_options: ExpectOptions) -> Result<Claims> {
        Ok(map(self.inner.verify(&token, &expect(expect_options)?))?.into())
    }

    /// Verify the token in an `Authorization: Bearer …` header value.
    #[napi(catch_unwind)]
    pub fn verify_authorization(
        &self,
        authorization: Option<String>,
        expect_options: ExpectOptions,
    ) -> Result<Claims> {
        Ok(map(self
            .inner
            .verify_authorization(authorization.as_deref(), &expect(expect_options)?))?
        .into())
    }

    /// Verify, then redeem a single-use token in `store`; resolves with the claims.
    #[napi(catch_unwind)]
    pub fn verify_and_redeem<'env>(
        &self,
        env: &'env Env,
        token: String,
        expect_options: ExpectOptions,
        store: &Store,
    ) -> Result<PromiseRaw<'env, Claims>> {
        let expect = expect(expect_options)?;
        let (tokens, store) = (self.inner.clone(), store.inner());
        spawn(
            env,
            async move { tokens.verify_and_redeem(&token, &expect, &*store).await },
            |_, claims| Ok(Claims::from(claims)),
        )
    }

    /// The id of the key that signs new tokens.
    #[napi(getter, catch_unwind)]
    pub fn active_key(&self) -> String {
        self.inner.keys().active().kid().to_owned()
    }
}
