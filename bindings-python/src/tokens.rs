//! `Tokens`, `IssuedToken` and `Claims`: thin wrappers over core's token service.

use crate::errors::{invalid, map, to_py};
use crate::runtime::block_on;
use crate::store::Store;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;
use trainpod::clock::ManualClock;
use trainpod::token::{self, Expect, IssueRequest, KeyRing, Purpose};

/// Issues and verifies job tokens for one app origin.
#[pyclass(frozen, module = "trainpod._native")]
#[derive(Debug)]
pub struct Tokens {
    inner: token::Tokens,
    clock: Option<Arc<ManualClock>>,
}

/// The claims of a verified or issued token.
#[pyclass(frozen, eq, get_all, module = "trainpod._native")]
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    v: u8,
    iss: String,
    aud: String,
    pur: String,
    sub: String,
    job: String,
    ds: Option<String>,
    res: Option<String>,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    once: bool,
    ep: Option<u32>,
}

/// A new token and its claims. The token is a bearer credential: `repr` hides it.
#[pyclass(frozen, get_all, module = "trainpod._native")]
pub struct IssuedToken {
    token: String,
    claims: Py<Claims>,
}

fn non_negative(
    py: Python<'_>,
    name: &str,
    value: Option<i128>,
    max: u64,
) -> PyResult<Option<u64>> {
    match value {
        None => Ok(None),
        Some(v) if (0..=i128::from(max)).contains(&v) => Ok(Some(v as u64)),
        Some(_) => Err(invalid(
            py,
            format!("{name} must be an integer from 0 to {max}"),
        )),
    }
}

fn expect(
    py: Python<'_>,
    purpose: &str,
    job: Option<String>,
    dataset: Option<String>,
    user: Option<String>,
) -> PyResult<Expect> {
    let purpose = map(py, Purpose::parse(purpose))?;
    Ok(Expect {
        purpose,
        job,
        dataset,
        user,
    })
}

impl From<token::Claims> for Claims {
    fn from(c: token::Claims) -> Self {
        Claims {
            v: c.v,
            iss: c.iss,
            aud: c.aud,
            pur: c.pur.as_str().to_owned(),
            sub: c.sub,
            job: c.job,
            ds: c.ds,
            res: c.res,
            iat: c.iat,
            nbf: c.nbf,
            exp: c.exp,
            jti: c.jti,
            once: c.once,
            ep: c.ep,
        }
    }
}

impl Tokens {
    /// The Python object for a core token service (the SDK's own).
    pub(crate) fn wrap(inner: token::Tokens, clock: Option<Arc<ManualClock>>) -> Tokens {
        Tokens { inner, clock }
    }

    /// The core token service, for the staging binding.
    pub(crate) fn inner(&self) -> &token::Tokens {
        &self.inner
    }
}

#[pymethods]
impl Tokens {
    /// Build from a key ring spec (`kid:status:secret,…`) and the app origin tokens are for.
    /// `now` fixes the clock (tests and vectors); `set_now` then moves it.
    #[new]
    #[pyo3(signature = (keys, audience, *, issuer = "trainpod", leeway_secs = 60, now = None))]
    fn new(
        py: Python<'_>,
        keys: &str,
        audience: &str,
        issuer: &str,
        leeway_secs: i128,
        now: Option<i128>,
    ) -> PyResult<Self> {
        let leeway = non_negative(py, "leeway_secs", Some(leeway_secs), u64::MAX)?.unwrap_or(60);
        let now = non_negative(py, "now", now, token::MAX_TIME)?;
        let ring = map(py, KeyRing::parse(keys))?;
        let clock = now.map(|n| Arc::new(ManualClock::new(n)));
        let mut builder = token::Tokens::builder()
            .keys(ring)
            .audience(audience)
            .issuer(issuer)
            .leeway_secs(leeway);
        if let Some(clock) = &clock {
            builder = builder.clock(clock.clone());
        }
        Ok(Tokens {
            inner: map(py, builder.build())?,
            clock,
        })
    }

    /// Move the fixed clock (only for instances built with `now`).
    fn set_now(&self, py: Python<'_>, now: i128) -> PyResult<()> {
        let now = non_negative(py, "now", Some(now), token::MAX_TIME)?.unwrap_or(0);
        match &self.clock {
            Some(clock) => {
                clock.set(now);
                Ok(())
            }
            None => Err(invalid(
                py,
                "set_now needs an instance built with now=…; this one uses the system clock",
            )),
        }
    }

    /// Issue a token signed with the active key.
    #[pyo3(signature = (purpose, user, job, *, dataset = None, resource = None, ttl_secs = None, not_before_delay_secs = 0, once = false, epoch = None, jti = None))]
    #[allow(clippy::too_many_arguments)]
    fn issue(
        &self,
        py: Python<'_>,
        purpose: &str,
        user: String,
        job: String,
        dataset: Option<String>,
        resource: Option<String>,
        ttl_secs: Option<i128>,
        not_before_delay_secs: i128,
        once: bool,
        epoch: Option<i128>,
        jti: Option<&str>,
    ) -> PyResult<IssuedToken> {
        let mut req = IssueRequest::new(map(py, Purpose::parse(purpose))?, user, job);
        req.dataset = dataset;
        req.resource = resource;
        req.ttl_secs = non_negative(py, "ttl_secs", ttl_secs, u64::MAX)?;
        req.not_before_delay_secs = non_negative(
            py,
            "not_before_delay_secs",
            Some(not_before_delay_secs),
            u64::MAX,
        )?
        .unwrap_or(0);
        req.once = once;
        req.epoch = non_negative(py, "epoch", epoch, u64::from(u32::MAX))?.map(|e| e as u32);
        req.jti = match jti {
            Some(j) => {
                Some(uuid::Uuid::parse_str(j).map_err(|_| invalid(py, "jti must be a UUID"))?)
            }
            None => None,
        };
        let issued = map(py, self.inner.issue(&req))?;
        Ok(IssuedToken {
            token: issued.token.expose().to_owned(),
            claims: Py::new(py, Claims::from(issued.claims))?,
        })
    }

    /// Verify a token for a route needing `purpose`, optionally bound to a job, dataset or user.
    #[pyo3(signature = (token, purpose, *, job = None, dataset = None, user = None))]
    fn verify(
        &self,
        py: Python<'_>,
        token: &str,
        purpose: &str,
        job: Option<String>,
        dataset: Option<String>,
        user: Option<String>,
    ) -> PyResult<Claims> {
        let expect = expect(py, purpose, job, dataset, user)?;
        map(py, self.inner.verify(token, &expect)).map(Claims::from)
    }

    /// Verify the token in an `Authorization: Bearer …` header value.
    #[pyo3(signature = (authorization, purpose, *, job = None, dataset = None, user = None))]
    fn verify_authorization(
        &self,
        py: Python<'_>,
        authorization: Option<&str>,
        purpose: &str,
        job: Option<String>,
        dataset: Option<String>,
        user: Option<String>,
    ) -> PyResult<Claims> {
        let expect = expect(py, purpose, job, dataset, user)?;
        map(py, self.inner.verify_authorization(authorization, &expect)).map(Claims::from)
    }

    /// Verify, then redeem a single-use token in `store` (one concurrent redemption wins).
    #[pyo3(signature = (token, purpose, store, *, job = None, dataset = None, user = None))]
    #[allow(clippy::too_many_arguments)]
    fn verify_and_redeem(
        &self,
        py: Python<'_>,
        token: &str,
        purpose: &str,
        store: &Store,
        job: Option<String>,
        dataset: Option<String>,
        user: Option<String>,
    ) -> PyResult<Claims> {
        let expect = expect(py, purpose, job, dataset, user)?;
        let store = store.inner();
        let result = block_on(py, self.inner.verify_and_redeem(token, &expect, &*store));
        map(py, result).map(Claims::from)
    }

    /// The awaitable form of `verify_and_redeem`.
    #[pyo3(signature = (token, purpose, store, *, job = None, dataset = None, user = None)
        -> "Coroutine[object, None, Claims]")]
    #[allow(clippy::too_many_arguments)]
    fn verify_and_redeem_async<'py>(
        &self,
        py: Python<'py>,
        token: String,
        purpose: &str,
        store: &Store,
        job: Option<String>,
        dataset: Option<String>,
        user: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let expect = expect(py, purpose, job, dataset, user)?;
        let (tokens, store) = (self.inner.clone(), store.inner());
        crate::runtime::future_into_py(py, "Tokens.verify_and_redeem_async", async move {
            match tokens.verify_and_redeem(&token, &expect, &*store).await {
                Ok(claims) => Ok(Claims::from(claims)),
                Err(e) => Err(Python::attach(|py| to_py(py, e))),
            }
        })
    }

    fn __repr__(&self) -> String {
        format!("Tokens(active_key={:?})", self.inner.keys().active().kid())
    }
}

#[pymethods]
impl Claims {
    /// The claims as the token's JSON payload has them (absent optional claims omitted).
    #[pyo3(signature = () -> "dict[str, str | int | bool]")]
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("v", self.v)?;
        for (k, v) in [
            ("iss", &self.iss),
            ("aud", &self.aud),
            ("pur", &self.pur),
            ("sub", &self.sub),
            ("job", &self.job),
        ] {
            d.set_item(k, v)?;
        }
        for (k, v) in [("ds", &self.ds), ("res", &self.res)] {
            if let Some(v) = v {
                d.set_item(k, v)?;
            }
        }
        d.set_item("iat", self.iat)?;
        d.set_item("nbf", self.nbf)?;
        d.set_item("exp", self.exp)?;
        d.set_item("jti", &self.jti)?;
        d.set_item("once", self.once)?;
        if let Some(ep) = self.ep {
            d.set_item("ep", ep)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let ds = self
            .ds
            .as_deref()
            .map_or("None".to_owned(), |d| format!("'{d}'"));
        let once = if self.once { "True" } else { "False" };
        // Ids are restricted to quote-free characters, so plain quoting is exact.
        format!(
            "Claims(pur='{}', sub='{}', job='{}', ds={ds}, exp={}, once={once}, jti='{}')",
            self.pur, self.sub, self.job, self.exp, self.jti
        )
    }
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken(<redacted>)")
    }
}

#[pymethods]
impl IssuedToken {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "IssuedToken(token=<redacted>, claims={})",
            self.claims.borrow(py).__repr__()
        )
    }
}
