//! `Store`: the ledger behind single-use tokens and metric sequence numbers.

use crate::errors::{Result, from_napi, reject};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;
use std::sync::Arc;

/// A store opened from a URL: `memory:`, `sqlite://PATH` or `postgres://…`.
#[napi]
#[derive(Debug)]
pub struct Store {
    inner: Arc<dyn trainpod::store::Store>,
}

impl Store {
    pub(crate) fn inner(&self) -> Arc<dyn trainpod::store::Store> {
        self.inner.clone()
    }
}

#[napi]
impl Store {
    /// Open (and migrate) the store at `url`.
    // Not an `async fn`: its rejections could only carry napi's own status codes (see errors.rs).
    #[napi(ts_return_type = "Promise<Store>", catch_unwind)]
    pub fn open(env: &Env, url: String) -> Result<PromiseRaw<'_, Store>> {
        env.spawn_future_with_callback(
            async move { Ok(trainpod::store::open(&url).await) },
            |env, opened| match opened {
                Ok(inner) => Ok(Store { inner }),
                Err(e) => Err(reject(env, e)),
            },
        )
        .map_err(from_napi)
    }

    /// `memory`, `sqlite` or `postgres`.
    #[napi(getter, catch_unwind)]
    pub fn backend(&self) -> String {
        self.inner.backend().to_owned()
    }
}
