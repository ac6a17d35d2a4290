//! Core futures as JavaScript promises, on napi's tokio runtime.
//!
//! Rejections carry trainpod's error (built on the JavaScript thread, see errors.rs), never
//! napi's own status codes.

use crate::errors::{Result, from_napi, reject, to_js};
use napi::Env;
use napi::bindgen_prelude::{
    Either, JsError, PromiseRaw, ToNapiValue, within_runtime_if_available,
};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

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

/// Like [`spawn`], for the hot route calls: a future that finishes without waiting (an
/// in-memory store) settles its promise right away, sparing the two thread hops (see
/// [`poll_once`]).
pub(crate) fn eager<'env, T, V, F, C>(
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
    match poll_once(fut) {
        Either::A(Ok(value)) => PromiseRaw::resolve(env, convert(env, value)?).map_err(from_napi),
        Either::A(Err(e)) => rejected(env, to_js(e)),
        Either::B(fut) => spawn(env, fut, convert),
    }
}

/// `fut` polled once on the JavaScript thread: its output when it finished without waiting,
/// else the future itself, to move to the runtime as it is (a future may be polled again with
/// another waker). Only for futures that do no blocking work before their first wait.
pub(crate) fn poll_once<F: Future>(fut: F) -> Either<F::Output, Pin<Box<F>>> {
    let mut fut = Box::pin(fut);
    let polled = within_runtime_if_available(|| {
        let mut cx = Context::from_waker(Waker::noop());
        fut.as_mut().poll(&mut cx)
    });
    match polled {
        Poll::Ready(out) => Either::A(out),
        Poll::Pending => Either::B(fut),
    }
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
