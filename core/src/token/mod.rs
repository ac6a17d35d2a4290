//! Scoped, expiring, HMAC-signed job tokens: issue, verify, redeem.
//!
//! The format is written down in `docs/token-format.md` with test vectors in
//! `tests/fixtures/token-vectors.json` that the Rust, Python and Node suites all run.

mod claims;
mod codec;
mod keyring;

pub use crate::purpose::{HARD_MAX_LIFETIME_SECS, Purpose};
pub use claims::{Claims, MAX_TIME, is_valid_audience, is_valid_id};
pub use codec::{DOMAIN, MAX_PAYLOAD_BYTES, MAX_TOKEN_BYTES, VERSION, pae};
pub use keyring::{
    KeyRing, KeyStatus, SigningKey, generate_secret, generate_secret_with, is_valid_kid,
};

use crate::clock::{Clock, OsRandom, Random, SystemClock};
use crate::error::{Error, ErrorKind, Result};
use crate::store::{Redemption, Store};
use std::fmt;
use std::sync::Arc;
use uuid::Uuid;

/// Clock skew tolerated on expiry and not-before, in seconds (the `jsonwebtoken` default).
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
const MAX_LEEWAY_SECS: u64 = 300;

/// Token text. A bearer credential: its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token text, to send in `Authorization: Bearer`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A freshly issued token and the claims it carries.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// The token itself.
    pub token: Token,
    /// What it says.
    pub claims: Claims,
}

/// What to put in a new token. Unset times default from the clock and the purpose's lifetime.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    /// What the token grants.
    pub purpose: Purpose,
    /// The user the job belongs to.
    pub user: String,
    /// The job.
    pub job: String,
    /// The dataset (required for `dataset.read`).
    pub dataset: Option<String>,
    /// A narrower resource, such as one file id.
    pub resource: Option<String>,
    /// Lifetime in seconds from not-before; defaults per purpose, capped per purpose.
    pub ttl_secs: Option<u64>,
    /// Not-before delay in seconds from now.
    pub not_before_delay_secs: u64,
    /// Whether the token is single-use.
    pub once: bool,
    /// The job's attempt number, for metrics tokens.
    pub epoch: Option<u32>,
    /// An explicit token id, for reproducible tokens (test vectors); random when unset.
    pub jti: Option<Uuid>,
}

impl IssueRequest {
    /// A request for `purpose` on `job` of `user`, with every option at its default.
    pub fn new(purpose: Purpose, user: impl Into<String>, job: impl Into<String>) -> Self {
        IssueRequest {
            purpose,
            user: user.into(),
            job: job.into(),
            dataset: None,
            resource: None,
            ttl_secs: None,
            not_before_delay_secs: 0,
            once: false,
            epoch: None,
            jti: None,
        }
    }

    /// Name the dataset.
    pub fn dataset(mut self, dataset: impl Into<String>) -> Self {
        self.dataset = Some(dataset.into());
        self
    }

    /// Set the lifetime.
    pub fn ttl_secs(mut self, ttl: u64) -> Self {
        self.ttl_secs = Some(ttl);
        self
    }

    /// Make the token single-use.
    pub fn once(mut self, once: bool) -> Self {
        self.once = once;
        self
    }
}

/// What a route expects of a token: its purpose, and the job, dataset or user it serves.
#[derive(Clone, Debug)]
pub struct Expect {
    /// The purpose this route needs.
    pub purpose: Purpose,
    /// The job named by the request, if any.
    pub job: Option<String>,
    /// The dataset named by the request, if any.
    pub dataset: Option<String>,
    /// The user the request acts for, if known.
    pub user: Option<String>,
}

impl Expect {
    /// Expect a token of `purpose`, with no scope checks yet.
    pub fn purpose(purpose: Purpose) -> Self {
        Expect {
            purpose,
            job: None,
            dataset: None,
            user: None,
        }
    }

    /// The request names this job.
    pub fn job(mut self, job: impl Into<String>) -> Self {
        self.job = Some(job.into());
        self
    }

    /// The request names this dataset.
    pub fn dataset(mut self, dataset: impl Into<String>) -> Self {
        self.dataset = Some(dataset.into());
        self
    }

    /// The request acts for this user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

/// Issues and verifies tokens for one app (issuer) and origin (audience).
#[derive(Clone, Debug)]
pub struct Tokens {
    keys: KeyRing,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

/// Builds [`Tokens`]; every value is validated once, in [`TokensBuilder::build`].
#[derive(Debug)]
pub struct TokensBuilder {
    keys: Option<KeyRing>,
    issuer: String,
    audience: Option<String>,
    leeway_secs: u64,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl Tokens {
    /// Start building; a key ring and an audience are required.
    pub fn builder() -> TokensBuilder {
        TokensBuilder {
            keys: None,
            issuer: "trainpod".to_owned(),
            audience: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
        }
    }

    /// The key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The clock in use.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Issue a token signed with the active key.
    pub fn issue(&self, req: &IssueRequest) -> Result<IssuedToken> {
        let now = self.clock.now_unix_secs();
        let ttl = req.ttl_secs.unwrap_or(req.purpose.default_lifetime_secs());
        let max = req.purpose.max_lifetime_secs();
        if ttl == 0 || ttl > max {
            return Err(Error::invalid_input(format!(
                "a {} token may live 1 to {max} seconds; asked for {ttl}",
                req.purpose
            )));
        }
        if req.not_before_delay_secs > max {
            return Err(Error::invalid_input(format!(
                "the not-before delay may be at most {max} seconds"
            )));
        }
        let nbf = now.saturating_add(req.not_before_delay_secs);
        let jti = req.jti.unwrap_or_else(|| self.random_uuid());
        let claims = Claims {
            v: 1,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            pur: req.purpose,
            sub: req.user.clone(),
            job: req.job.clone(),
            ds: req.dataset.clone(),
            res: req.resource.clone(),
            iat: now,
            nbf,
            exp: nbf.saturating_add(ttl),
            jti: jti.hyphenated().to_string(),
            once: req.once,
            ep: req.epoch,
        };
        claims.check_shape()?;
        let payload = serde_json::to_vec(&claims).map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                "could not encode claims; please report this",
            )
            .with_source(e)
        })?;
        let token = codec::seal(self.keys.active(), req.purpose, &payload);
        Ok(IssuedToken {
            token: Token(token),
            claims,
        })
    }

    fn random_uuid(&self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Verify a token in a fixed order: size, shape, version, key, encoding, signature (constant
    /// time), claims (strict), purpose, audience, issuer, time window, lifetime cap, then scope.
    ///
    /// A valid signature is not authorization: the route must still check that the user owns
    /// the job or dataset. Single-use tokens must also be redeemed ([`Tokens::redeem`]).
    pub fn verify(&self, token: &str, expect: &Expect) -> Result<Claims> {
        let payload = codec::open(&self.keys, token, expect.purpose)?;
        let claims = Claims::parse(&payload)?;
        self.check_binding(&claims, expect.purpose)?;
        self.check_time(&claims)?;
        check_scope(&claims, expect)?;
        Ok(claims)
    }

    /// Verify a token taken from an `Authorization` header value (`Bearer <token>`).
    pub fn verify_authorization(
        &self,
        authorization: Option<&str>,
        expect: &Expect,
    ) -> Result<Claims> {
        self.verify(bearer(authorization)?, expect)
    }

    /// Verify, then redeem a single-use token in `store` (atomically: one redemption wins).
    /// Tokens that are not single-use are only verified.
    pub async fn verify_and_redeem(
        &self,
        token: &str,
        expect: &Expect,
        store: &dyn Store,
    ) -> Result<Claims> {
        let claims = self.verify(token, expect)?;
        if claims.once {
            self.redeem(&claims, store).await?;
        }
        Ok(claims)
    }

    /// Record the single use of verified `claims`; a second redemption is `TOKEN_ALREADY_USED`.
    pub async fn redeem(&self, claims: &Claims, store: &dyn Store) -> Result<()> {
        let redemption = Redemption {
            jti: claims.jti_uuid(),
            purpose: claims.pur,
            job: claims.job.clone(),
            expires_at: claims.exp.saturating_add(self.leeway_secs),
            redeemed_at: self.clock.now_unix_secs(),
        };
        store.redeem(&redemption).await
    }

    fn check_binding(&self, claims: &Claims, purpose: Purpose) -> Result<()> {
        if claims.pur != purpose {
            return Err(Error::new(
                ErrorKind::TokenWrongPurpose,
                format!(
                    "this is a {} token and this route needs a {purpose} token",
                    claims.pur
                ),
            ));
        }
        if claims.aud != self.audience {
            return Err(Error::new(
                ErrorKind::TokenWrongAudience,
                "the token was issued for another app origin; issue it with this app's audience",
            ));
        }
        if claims.iss != self.issuer {
            return Err(Error::new(
                ErrorKind::TokenWrongIssuer,
                "the token was issued by another issuer; issue it from this app",
            ));
        }
        Ok(())
    }

    fn check_time(&self, claims: &Claims) -> Result<()> {
        let now = self.clock.now_unix_secs();
        let leeway = self.leeway_secs;
        if claims.iat > now.saturating_add(leeway) || claims.nbf > now.saturating_add(leeway) {
            return Err(Error::new(
                ErrorKind::TokenNotYetValid,
                format!(
                    "the token is valid from {} and it is now {now}; check the clocks of the app and the pod, or wait",
                    claims.nbf
                ),
            ));
        }
        if now >= claims.exp.saturating_add(leeway) {
            return Err(Error::new(
                ErrorKind::TokenExpired,
                format!(
                    "the token expired at {} and it is now {now}; issue a new token (retry the job)",
                    claims.exp
                ),
            ));
        }
        let max = claims.pur.max_lifetime_secs();
        if claims.exp - claims.iat > max {
            return Err(Error::new(
                ErrorKind::TokenLifetimeExceeded,
                format!(
                    "a {} token may live at most {max} seconds; issue one with a shorter lifetime",
                    claims.pur
                ),
            ));
        }
        Ok(())
    }
}

fn check_scope(claims: &Claims, expect: &Expect) -> Result<()> {
    let mismatch = |what: &str| {
        Err(Error::new(
            ErrorKind::TokenScopeMismatch,
            format!(
                "the token is for another {what} than this request names; use the token issued for this {what}"
            ),
        ))
    };
    if expect.job.as_ref().is_some_and(|job| *job != claims.job) {
        return mismatch("job");
    }
    if expect.dataset.is_some() && expect.dataset != claims.ds {
        return mismatch("dataset");
    }
    if expect.user.as_ref().is_some_and(|user| *user != claims.sub) {
        return mismatch("user");
    }
    Ok(())
}

/// The token in an `Authorization: Bearer <token>` header value.
pub fn bearer(authorization: Option<&str>) -> Result<&str> {
    let value = authorization
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::TokenMissing,
                "the request has no token; send it as `Authorization: Bearer <token>`",
            )
        })?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::TokenMissing,
            "the Authorization header must read `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

impl TokensBuilder {
    /// The key ring (required).
    pub fn keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The issuer name; defaults to `trainpod`.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The app origin tokens are for, such as `https://app.example.com` (required).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tolerated clock skew; defaults to 60 s, at most 300 s.
    pub fn leeway_secs(mut self, leeway: u64) -> Self {
        self.leeway_secs = leeway;
        self
    }

    /// The clock; defaults to the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source for token ids; defaults to the operating system's.
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// Validate and build.
    pub fn build(self) -> Result<Tokens> {
        let keys = self.keys.ok_or_else(|| {
            Error::invalid_input(
                "no signing keys; pass a key ring (for example from TRAINPOD_SIGNING_KEYS)",
            )
        })?;
        let audience = self.audience.ok_or_else(|| {
            Error::invalid_input(
                "no audience; pass the app origin the pod calls, such as https://app.example.com",
            )
        })?;
        if !is_valid_audience(&audience) || !is_valid_audience(&self.issuer) {
            return Err(Error::invalid_input(
                "issuer and audience must be 1 to 256 printable ASCII characters without spaces",
            ));
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return Err(Error::invalid_input(format!(
                "leeway may be at most {MAX_LEEWAY_SECS} seconds; fix the clocks instead"
            )));
        }
        Ok(Tokens {
            keys,
            issuer: self.issuer,
            audience,
            leeway_secs: self.leeway_secs,
            clock: self.clock,
            random: self.random,
        })
    }
}
