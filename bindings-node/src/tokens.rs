//! `Tokens`: issue and verify job tokens; claims cross as plain objects.

use crate::errors::{Result, from_napi, invalid, map, reject};
use crate::flat::{self, Answer, Flat};
use crate::numbers::{whole, whole_opt};
use crate::slots::{self, Slot, Table};
use crate::store::Store;
use crate::text::{Text, text};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use std::cell::RefCell;
use std::sync::Arc;
use trainpod::clock::ManualClock;
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
#[derive(Debug)]
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
    expect_of(&e.purpose, e.job, e.dataset, e.user)
}

fn expect_of(
    purpose: &str,
    job: Option<String>,
    dataset: Option<String>,
    user: Option<String>,
) -> Result<Expect> {
    Ok(Expect {
        purpose: map(Purpose::parse(purpose))?,
        job,
        dataset,
        user,
    })
}

/// The claims as `index.js` (`claimsOf`) reads them back, fields in the order napi sets them
/// (the optional ones last).
fn write_claims(c: &token::Claims, out: &mut Flat<'_>) {
    out.num(f64::from(c.v));
    out.text(&c.iss);
    out.text(&c.aud);
    out.text(c.pur.as_str());
    out.text(&c.sub);
    out.text(&c.job);
    // Times are at most year 9999 (< 2^53), so doubles hold them exactly.
    out.num(c.iat as f64);
    out.num(c.nbf as f64);
    out.num(c.exp as f64);
    out.text(&c.jti);
    out.flag(c.once);
    out.opt_text(c.ds.as_deref());
    out.opt_text(c.res.as_deref());
    out.opt_num(c.ep.map(f64::from));
}

thread_local! {
    /// This thread's token services, for the hot calls (see slots.rs).
    static TOKENS: RefCell<Table<token::Tokens>> = const { RefCell::new(Table::new()) };
}

/// Issues and verifies job tokens for one app origin.
#[napi]
#[derive(Debug)]
pub struct Tokens {
    /// Shared with this object's slot, which the hot calls reach it by.
    inner: Arc<token::Tokens>,
    clock: Option<Arc<ManualClock>>,
    slot: Slot<token::Tokens>,
}

impl Tokens {
    /// The core token service, for the staging binding.
    pub(crate) fn inner(&self) -> &token::Tokens {
        &self.inner
    }

    /// The token service of a `Trainpod`, with its fixed clock when it has one.
    pub(crate) fn from_core(inner: token::Tokens, clock: Option<Arc<ManualClock>>) -> Self {
        let inner = Arc::new(inner);
        let slot = Slot::new(&TOKENS, inner.clone());
        Tokens { inner, clock, slot }
    }
}

#[napi]
impl Tokens {
    /// Build from a key ring and the app origin.
    #[napi(constructor, catch_unwind)]
    pub fn new(options: TokensOptions) -> Result<Self> {
        let leeway = whole_opt("leewaySecs", options.leeway_secs, u64::MAX)?;
        let now = whole_opt("now", options.now, token::MAX_TIME)?;
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
        let now = whole("now", now, token::MAX_TIME)?;
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
        req.ttl_secs = whole_opt("ttlSecs", options.ttl_secs, u64::MAX)?;
        // Unset options keep the request's defaults, which core chose.
        let delay = options.not_before_delay_secs;
        if let Some(delay) = whole_opt("notBeforeDelaySecs", delay, u64::MAX)? {
            req.not_before_delay_secs = delay;
        }
        if let Some(once) = options.once {
            req.once = once;
        }
        req.epoch = whole_opt("epoch", options.epoch, u64::from(u32::MAX))?.map(|e| e as u32);
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
    // Not an `async fn`: its rejections could only carry napi's own status codes (see errors.rs).
    #[napi(ts_return_type = "Promise<Claims>", catch_unwind)]
    pub fn verify_and_redeem<'env>(
        &self,
        env: &'env Env,
        token: String,
        expect_options: ExpectOptions,
        store: &Store,
    ) -> Result<PromiseRaw<'env, Claims>> {
        let expect = expect(expect_options)?;
        let (tokens, store) = (self.inner.clone(), store.inner());
        env.spawn_future_with_callback(
            async move { Ok(tokens.verify_and_redeem(&token, &expect, &*store).await) },
            |env, redeemed| match redeemed {
                Ok(claims) => Ok(Claims::from(claims)),
                Err(e) => Err(reject(env, e)),
            },
        )
        .map_err(from_napi)
    }

    /// This object's index for the hot calls (`_verifyFlat`), which `index.js` keeps.
    #[napi(getter, js_name = "_slot", skip_typescript, catch_unwind)]
    pub fn slot(&self) -> u32 {
        self.slot.index()
    }

    /// The id of the key that signs new tokens.
    #[napi(getter, catch_unwind)]
    pub fn active_key(&self) -> String {
        self.inner.keys().active().kid().to_owned()
    }
}

/// `Tokens.verify` for `index.js`: the token service by its slot, the expectation's fields as
/// arguments, the claims written flat (flat.rs); the text is the return value.
#[napi(js_name = "_verifyFlat", skip_typescript, catch_unwind)]
pub fn verify_flat(
    env: &Env,
    slot: u32,
    token: Text,
    purpose: Text,
    job: Option<Text>,
    dataset: Option<Text>,
    user: Option<Text>,
) -> Result<Answer> {
    let expect = expect_of(&purpose.0, text(job), text(dataset), text(user))?;
    let claims = map(slots::get(&TOKENS, slot)?.verify(&token.0, &expect))?;
    flat_claims(env, &claims)
}

/// `Tokens.verifyAuthorization` for `index.js`, as `_verifyFlat` is for `verify`.
#[napi(js_name = "_verifyAuthorizationFlat", skip_typescript, catch_unwind)]
pub fn verify_authorization_flat(
    env: &Env,
    slot: u32,
    authorization: Option<Text>,
    purpose: Text,
    job: Option<Text>,
    dataset: Option<Text>,
    user: Option<Text>,
) -> Result<Answer> {
    let expect = expect_of(&purpose.0, text(job), text(dataset), text(user))?;
    let authorization = text(authorization);
    let tokens = slots::get(&TOKENS, slot)?;
    let claims = map(tokens.verify_authorization(authorization.as_deref(), &expect))?;
    flat_claims(env, &claims)
}

fn flat_claims(env: &Env, claims: &token::Claims) -> Result<Answer> {
    flat::answer(env, |out| write_claims(claims, out))
}
