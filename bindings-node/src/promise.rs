//! Core futures as JavaScript promises, on napi's tokio runtime.
//!
//! Rejections carry trainpod's error (built on the JavaScript thread, see errors.rs), never
//! napi's own status codes.

use crate::errors::{Result, from_napi, reject};
use napi::Env;
use napi::bindgen_prelude::{JsError, PromiseRaw, ToNapiValue};
use std::future::Future;

/// A promise settled by `fut`, its value converted by `convert` on the JavaScript thread.
pub(crate) fn spawn<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    convert: C,
) -> Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = trainpod::Result<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> Result<V> + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, out| match out {
        Ok(value) => convert(env, value).map_err(|e| napi_error(env, e)),
        Err(e) => Err(reject(env, e)),
    })
    .map_err(from_napi)
}

/// A promise already rejected with `err` (an argument that could not be converted).
pub(crate) fn rejected<'env, V: ToNapiValue>(
    env: &'env Env,
    err: napi::Error<String>,
) -> Result<PromiseRaw<'env, V>> {
    PromiseRaw::reject(env, JsError::from(err).into_unknown(*env)).map_err(from_napi)
}

/// A conversion failure inside a settle callback, as the rejection value.
fn napi_error(env: &Env, err: napi::Error<String>) -> napi::Error {
    napi::Error::from(JsError::from(err).into_unknown(*env))
}
