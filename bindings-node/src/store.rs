//! `Store`: the ledger behind single-use tokens and metric sequence numbers.

use crate::errors::map;
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
    #[napi(factory)]
    pub async fn open(url: String) -> napi::Result<Store> {
        let inner = map(trainpod::store::open(&url).await)?;
        Ok(Store { inner })
    }

    /// `memory`, `sqlite` or `postgres`.
    #[napi(getter)]
    pub fn backend(&self) -> String {
        self.inner.backend().to_owned()
    }
}
